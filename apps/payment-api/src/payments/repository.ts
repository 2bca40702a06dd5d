import { sql } from "drizzle-orm";
import { paymentOutbox, paymentTransitions, payments } from "@pps/db/schema";
import { AppError, paymentStateMachine, type PaymentStatus } from "@pps/domain";
import { outboxRow, paymentEvents, type EventDefinition } from "@pps/messaging";
import type { Tx } from "../http/idempotency.ts";
import { changeMessages, type PaymentRow } from "./snapshot.ts";

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
  Pick<PaymentRow, "channel" | "channelTxnId" | "action" | "settlement" | "failureCode" | "failureMessage">
>;

const COLUMN: Record<keyof TransitionPatch, string> = {
  channel: "channel",
  channelTxnId: "channel_txn_id",
  action: "action",
  settlement: "settlement",
  failureCode: "failure_code",
  failureMessage: "failure_message",
};

/**
 * Moves a payment to `to` only from a state the machine allows (and, if given, only from `onlyFrom`),
 * with one conditional UPDATE: a concurrent or stale change finds no row and changes nothing. Returns
 * the updated row and the previous status, or null when the transition did not apply.
 */
export async function transition(
  tx: Tx,
  paymentId: string,
  to: PaymentStatus,
  cause: Cause,
  opts: { patch?: TransitionPatch; onlyFrom?: PaymentStatus[]; event?: EventDefinition } = {},
): Promise<{ row: PaymentRow; previous: PaymentStatus } | null> {
  const allowed = paymentStateMachine.sourcesOf(to).filter((s) => !opts.onlyFrom || opts.onlyFrom.includes(s));
  if (allowed.length === 0) return null;
  const sets = Object.entries(opts.patch ?? {}).map(([k, v]) => {
    const value = v !== null && typeof v === "object" ? JSON.stringify(v) : v;
    return sql`${sql.identifier(COLUMN[k as keyof TransitionPatch])} = ${value}`;
  });
  const extra = sets.length ? sql`, ${sql.join(sets, sql`, `)}` : sql``;
  const result = await tx.execute(sql`
    update ${payments} p
       set status = ${to}, version = p.version + 1, updated_at = now()${extra}
      from (select id, status as previous from ${payments} where id = ${paymentId} for update) old
     where p.id = old.id and p.status in (${sql.join(
       allowed.map((s) => sql`${s}`),
       sql`, `,
     )})
    returning p.*, old.previous`);
  const raw = result[0] as Record<string, unknown> | undefined;
  if (!raw) return null;
  const row = fromRaw(raw);
  const previous = raw.previous as PaymentStatus;
  await recordChange(tx, row, previous, cause, opts.event);
  return { row, previous };
}

/** Raw SQL rows come back snake_case with string bigints and dates; map them like drizzle does. */
export function fromRaw(r: Record<string, unknown>): PaymentRow {
  const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
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
    channel: (r.channel as string | null) ?? null,
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
