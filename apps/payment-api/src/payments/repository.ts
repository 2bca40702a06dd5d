import type { TransactionSql } from "postgres";
import { paymentOutbox, paymentTransitions, payments } from "@pps/db/schema";
import { AppError, type PaymentStatus } from "@pps/domain";
import { outboxRow, paymentEvents, type EventDefinition } from "@pps/messaging";
import type { Tx } from "../http/idempotency.ts";
import { changeMessages, type PaymentRow } from "./snapshot.ts";
// transitions-batch imports this module too; both only use each other's exports at call time.
import { transitionMany } from "./transitions-batch.ts";

/** The event announcing that a payment entered `status`. */
export const EVENT_FOR: Record<PaymentStatus, EventDefinition> = {
  awaiting_payment: paymentEvents.created,
  risk_review: paymentEvents.created,
  requires_verification: paymentEvents.requiresVerification,
  processing: paymentEvents.processing,
  requires_action: paymentEvents.requiresAction,
  succeeded: paymentEvents.succeeded,
  failed: paymentEvents.failed,
  expired: paymentEvents.expired,
  canceled: paymentEvents.canceled,
  requires_capture: paymentEvents.requiresCapture,
  requires_review: paymentEvents.requiresReview,
};

export type Cause = { cause: string; causeRef?: string | null; detail?: unknown };

/**
 * Writes the audit row and the outbox event for a payment that just entered its current status (and the
 * event's restricted twin, for the changes risk-stub and router act on).
 */
async function recordChange(
  tx: Tx,
  row: PaymentRow,
  previous: PaymentStatus | null,
  cause: Cause,
  eventOverride?: EventDefinition,
): Promise<void> {
  const messages = changeMessages(eventOverride ?? EVENT_FOR[row.status as PaymentStatus], row, previous);
  const { def, envelope } = messages.public;
  const outbox = [
    outboxRow(def, envelope),
    ...(messages.internal ? [outboxRow(messages.internal.def, messages.internal.envelope)] : []),
  ];
  // Both inserts go out together (pipelined on the transaction's connection): one round trip, not two.
  await Promise.all([
    tx.insert(paymentTransitions).values({
      paymentId: row.id,
      merchantId: row.merchantId,
      fromStatus: previous,
      toStatus: row.status,
      version: row.version,
      cause: cause.cause,
      causeRef: cause.causeRef ?? null,
      detail: cause.detail ?? null,
      eventId: envelope.id,
      envelope,
    }),
    tx.insert(paymentOutbox).values(outbox),
  ]);
}

/** Inserts a new payment; a merchant order number already used is refused (and the caller's transaction rolls back). */
export async function insertPayment(tx: Tx, values: typeof payments.$inferInsert, cause: Cause): Promise<PaymentRow> {
  const [row] = await tx
    .insert(payments)
    .values(values)
    .onConflictDoNothing({ target: [payments.merchantId, payments.merchantOrderNo] })
    .returning();
  if (!row) throw new AppError("payment.duplicate_order_no", "this merchant_order_no already has a payment");
  await recordChange(tx, row, null, cause);
  return row;
}

export type TransitionPatch = Partial<
  Pick<
    PaymentRow,
    | "channel"
    | "channelTxnId"
    | "paidAttemptId"
    | "action"
    | "settlement"
    | "failureCode"
    | "failureMessage"
    | "amountAuthorized"
    | "amountCaptured"
    | "authorizedAt"
    | "authorizationExpiresAt"
    | "capturedAt"
  >
>;

/** The postgres.js transaction under a drizzle one, so both kinds of caller share transitionMany. */
export function sqlOf(tx: Tx): TransactionSql {
  const client = (tx as unknown as { session?: { client?: TransactionSql } }).session?.client;
  if (typeof client !== "function") throw new Error("not a postgres.js transaction");
  return client;
}

/**
 * One payment's transition (see transitionMany, the one implementation of a payment state change) in a
 * drizzle transaction. Returns the updated row and the previous status, or null when it did not apply.
 */
export async function transition(
  tx: Tx,
  paymentId: string,
  to: PaymentStatus,
  cause: Cause,
  opts: { patch?: TransitionPatch; onlyFrom?: PaymentStatus[]; event?: EventDefinition } = {},
): Promise<{ row: PaymentRow; previous: PaymentStatus } | null> {
  const [done] = await transitionMany(sqlOf(tx), [{ paymentId, to, cause, ...opts }]);
  return done ?? null;
}

/** Raw SQL rows come back snake_case with string bigints and dates; map them like drizzle does. */
export function fromRaw(r: Record<string, unknown>): PaymentRow {
  const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
  const optDate = (v: unknown) => (v === null || v === undefined ? null : date(v));
  return {
    id: r.id as string,
    merchantId: r.merchant_id as string,
    merchantOrderNo: r.merchant_order_no as string,
    product: r.product as string,
    amount: Number(r.amount),
    currency: r.currency as string,
    subject: r.subject as string,
    status: r.status as string,
    version: Number(r.version),
    payerId: r.payer_id as string,
    payerIp: (r.payer_ip as string | null) ?? null,
    payerDeviceId: (r.payer_device_id as string | null) ?? null,
    payerPhone: (r.payer_phone as string | null) ?? null,
    method: r.method,
    notifyUrl: r.notify_url as string,
    returnUrl: r.return_url as string,
    metadata: r.metadata,
    captureMethod: (r.capture_method as string | undefined) ?? "automatic",
    amountAuthorized: Number(r.amount_authorized ?? 0),
    amountCaptured: Number(r.amount_captured ?? 0),
    amountRefunded: Number(r.amount_refunded ?? 0),
    amountRefundPending: Number(r.amount_refund_pending ?? 0),
    authorizedAt: optDate(r.authorized_at),
    authorizationExpiresAt: optDate(r.authorization_expires_at),
    capturedAt: optDate(r.captured_at),
    channel: (r.channel as string | null) ?? null,
    paidAttemptId: (r.paid_attempt_id as string | null) ?? null,
    channelTxnId: (r.channel_txn_id as string | null) ?? null,
    action: r.action ?? null,
    settlement: r.settlement ?? null,
    failureCode: (r.failure_code as string | null) ?? null,
    failureMessage: (r.failure_message as string | null) ?? null,
    expiresAt: date(r.expires_at),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}
