import type { Envelope, PaymentSnapshot } from "@pps/messaging";

/** The payment as the merchant API shows it (snake_case), from the event's snapshot. */
export function paymentObject(p: PaymentSnapshot) {
  return {
    id: p.paymentId,
    object: "payment" as const,
    merchant_id: p.merchantId,
    merchant_order_no: p.merchantOrderNo,
    product: p.product,
    amount: p.amount,
    currency: p.currency,
    subject: p.subject,
    status: p.status,
    version: p.version,
    payer: { id: p.payer.id },
    method: {
      bank_code: p.method.bankCode,
      card_type: p.method.cardType,
      wallet: p.method.wallet,
      flow: p.method.flow,
    },
    channel: p.channel,
    failure: p.failureCode ? { code: p.failureCode, message: p.failureMessage } : null,
    metadata: p.metadata,
    expires_at: p.expiresAt,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
  };
}

/**
 * The notification body: built once when the notification is created and stored as the exact bytes every
 * attempt sends and signs, so a retry is byte-for-byte the same notification.
 */
export function paymentNotificationBody(envelope: Envelope<PaymentSnapshot>): string {
  return JSON.stringify({
    id: envelope.id,
    type: envelope.type,
    created_at: envelope.occurredAt,
    data: { object: paymentObject(envelope.payload) },
  });
}
