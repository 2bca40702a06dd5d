import type { payments } from "@pps/db/schema";
import type { PaymentStatus, Product } from "@pps/domain";
import type { PaymentMethod, PaymentSnapshot } from "@pps/messaging";

export type PaymentRow = typeof payments.$inferSelect;

/** Storage row → the event payload downstream consumers see. */
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
    payer: { id: row.payerId, ip: row.payerIp, deviceId: row.payerDeviceId, phone: row.payerPhone },
    method: row.method as PaymentMethod,
    returnUrl: row.returnUrl,
    notifyUrl: row.notifyUrl,
    metadata: row.metadata as Record<string, string>,
    expiresAt: row.expiresAt.toISOString(),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
