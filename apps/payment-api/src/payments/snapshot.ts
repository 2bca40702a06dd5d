import type { payments } from "@pps/db/schema";
import type { CaptureMethod, PaymentStatus, Product } from "@pps/domain";
import {
  type Envelope,
  type EventDefinition,
  type InternalPaymentSnapshot,
  internalTwinOf,
  makeEnvelope,
  type PaymentMethod,
  type PaymentSnapshot,
} from "@pps/messaging";

export type PaymentRow = typeof payments.$inferSelect;

/** Storage row → the public event payload downstream consumers see: the payer by id only, no personal data. */
export function toSnapshot(row: PaymentRow, previousStatus: PaymentStatus | null): PaymentSnapshot {
  return {
    paymentId: row.id,
    merchantId: row.merchantId,
    merchantOrderNo: row.merchantOrderNo,
    product: row.product as Product,
    amount: row.amount,
    currency: row.currency,
    status: row.status as PaymentStatus,
    previousStatus,
    version: row.version,
    channel: row.channel,
    failureCode: row.failureCode,
    failureMessage: row.failureMessage,
    subject: row.subject,
    payer: { id: row.payerId },
    method: row.method as PaymentMethod,
    returnUrl: row.returnUrl,
    notifyUrl: row.notifyUrl,
    metadata: row.metadata as Record<string, string>,
    expiresAt: row.expiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    captureMethod: row.captureMethod as CaptureMethod,
    amountAuthorized: row.amountAuthorized,
    amountCaptured: row.amountCaptured,
    amountRefunded: row.amountRefunded,
    amountRefundPending: row.amountRefundPending,
    authorizationExpiresAt: row.authorizationExpiresAt?.toISOString() ?? null,
  };
}

/** The public snapshot with the payer's contact data, for the restricted internal topic (risk-stub, router). */
export function toInternalSnapshot(publicSnapshot: PaymentSnapshot, row: PaymentRow): InternalPaymentSnapshot {
  return {
    ...publicSnapshot,
    payer: { id: row.payerId, ip: row.payerIp, deviceId: row.payerDeviceId, phone: row.payerPhone },
  };
}

export type OutboxMessage = { def: EventDefinition; envelope: Envelope };

/**
 * The messages announcing that a payment entered its current status: the public event (also the audit
 * row's envelope, the merchant events feed's), and for the changes risk-stub and router act on, its
 * restricted twin with the payer's contact data. Both share the event time, which risk's velocity counts in.
 */
export function changeMessages(
  def: EventDefinition,
  row: PaymentRow,
  previous: PaymentStatus | null,
  occurredAt = new Date(),
): { public: OutboxMessage; internal: OutboxMessage | null } {
  const snapshot = toSnapshot(row, previous);
  const envelope = makeEnvelope({
    type: def.type,
    version: def.version,
    aggregateId: row.id,
    payload: snapshot,
    occurredAt,
  });
  const twin = internalTwinOf(def.type, row.status as PaymentStatus);
  return {
    public: { def, envelope },
    internal: twin && {
      def: twin,
      envelope: makeEnvelope({
        type: twin.type,
        version: twin.version,
        aggregateId: row.id,
        payload: toInternalSnapshot(snapshot, row),
        occurredAt,
      }),
    },
  };
}
