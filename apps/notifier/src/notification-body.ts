import type { Envelope, OperationSnapshot, PaymentSnapshot } from "@pps/messaging";

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
    // The money on the payment, as the merchant API shows it: in events written since the operations.
    ...(p.amountCaptured !== undefined
      ? {
          capture_method: p.captureMethod ?? "automatic",
          amount_authorized: p.amountAuthorized,
          amount_captured: p.amountCaptured,
          amount_refunded: p.amountRefunded,
          amount_refund_pending: p.amountRefundPending,
          authorization_expires_at: p.authorizationExpiresAt ?? null,
        }
      : {}),
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

/** An operation (capture, void, cancel, refund) as the merchant API shows it, with its payment's amounts after it. */
export function operationObject(o: OperationSnapshot) {
  return {
    id: o.operationId,
    object: o.kind,
    payment_id: o.paymentId,
    merchant_order_no: o.merchantOrderNo,
    merchant_ref: o.merchantRef,
    amount: o.amount,
    currency: o.currency,
    status: o.status,
    version: o.version,
    channel: o.channel,
    reason: o.reason,
    origin: o.origin,
    failure: o.failureCode ? { code: o.failureCode, message: o.failureMessage } : null,
    payment: {
      status: o.payment.status,
      amount: o.payment.amount,
      amount_authorized: o.payment.amountAuthorized,
      amount_captured: o.payment.amountCaptured,
      amount_refunded: o.payment.amountRefunded,
      amount_refund_pending: o.payment.amountRefundPending,
    },
    created_at: o.createdAt,
    updated_at: o.updatedAt,
  };
}

/** The notification body of an operation event (same envelope shape as a payment's). */
export function operationNotificationBody(envelope: Envelope<OperationSnapshot>): string {
  return JSON.stringify({
    id: envelope.id,
    type: envelope.type,
    created_at: envelope.occurredAt,
    data: { object: operationObject(envelope.payload) },
  });
}
