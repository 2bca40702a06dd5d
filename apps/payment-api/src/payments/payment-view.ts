import type { Payment } from "@pps/api-contract";
import type { ApiProduct, CaptureMethod, PaymentStatus } from "@pps/domain";
import type { PayerAction, PaymentMethod } from "@pps/messaging";
import type { PaymentRow } from "./snapshot.ts";

/** Storage row → the merchant-facing API object (snake_case wire format). */
export function toApiPayment(row: PaymentRow, extra: { payUrl?: string | undefined } = {}): Payment {
  const method = row.method as PaymentMethod;
  return {
    id: row.id,
    object: "payment" as const,
    merchant_id: row.merchantId,
    merchant_order_no: row.merchantOrderNo,
    product: row.product as ApiProduct,
    amount: row.amount,
    currency: row.currency,
    subject: row.subject,
    status: row.status as PaymentStatus,
    version: row.version,
    payer: { id: row.payerId },
    method: { bank_code: method.bankCode, card_type: method.cardType, wallet: method.wallet, flow: method.flow },
    channel: row.channel,
    next_action: (row.status === "requires_action" ? (row.action as PayerAction | null) : null) ?? null,
    failure: row.failureCode ? { code: row.failureCode, message: row.failureMessage } : null,
    settlement: (row.settlement as Payment["settlement"]) ?? null,
    metadata: row.metadata as Record<string, string>,
    capture_method: row.captureMethod as CaptureMethod,
    amount_authorized: row.amountAuthorized,
    amount_captured: row.amountCaptured,
    amount_refunded: row.amountRefunded,
    amount_refund_pending: row.amountRefundPending,
    authorization_expires_at: row.authorizationExpiresAt?.toISOString() ?? null,
    captured_at: row.capturedAt?.toISOString() ?? null,
    ...(extra.payUrl ? { pay_url: extra.payUrl } : {}),
    expires_at: row.expiresAt.toISOString(),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
export type ApiPayment = Payment;
