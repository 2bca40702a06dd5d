import type { payments } from "@pps/db/schema";
import type { PaymentStatus, Product } from "@pps/domain";
import type { PayerAction, PaymentMethod, PaymentSnapshot } from "@pps/messaging";

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

/** Storage row → the merchant-facing API object (snake_case wire format). */
export function toApiPayment(row: PaymentRow, extra: { payUrl?: string } = {}) {
  const method = row.method as PaymentMethod;
  return {
    id: row.id,
    object: "payment" as const,
    merchant_id: row.merchantId,
    merchant_order_no: row.merchantOrderNo,
    product: row.product,
    amount: row.amount,
    currency: row.currency,
    subject: row.subject,
    status: row.status,
    version: row.version,
    payer: { id: row.payerId },
    method: { bank_code: method.bankCode, card_type: method.cardType, wallet: method.wallet, flow: method.flow },
    channel: row.channel,
    next_action: (row.status === "requires_action" ? (row.action as PayerAction | null) : null) ?? null,
    failure: row.failureCode ? { code: row.failureCode, message: row.failureMessage } : null,
    settlement: row.settlement ?? null,
    metadata: row.metadata,
    ...(extra.payUrl ? { pay_url: extra.payUrl } : {}),
    expires_at: row.expiresAt.toISOString(),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
export type ApiPayment = ReturnType<typeof toApiPayment>;
