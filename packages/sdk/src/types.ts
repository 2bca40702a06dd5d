/** Wire types of the merchant API (snake_case, as on the wire). */

export type Product = "online_banking" | "platform_pay" | "foreign_card" | "carrier_billing";
export type PaymentStatus = "awaiting_payment" | "risk_review" | "requires_verification" | "processing" | "requires_action" | "succeeded" | "failed" | "expired" | "canceled";

export type CreatePaymentParams = {
  merchant_order_no: string;
  product: Product;
  /** Integer of minor units (cents, fen). */
  amount: number;
  currency: string;
  subject: string;
  payer: { id: string; ip?: string; device_id?: string; phone?: string };
  method?: { bank_code?: string; card_type?: "debit" | "credit"; wallet?: "wechat" | "alipay"; flow?: "qr_code" | "deeplink" };
  notify_url: string;
  return_url: string;
  expires_in?: number;
  metadata?: Record<string, string>;
};

export type NextAction =
  | { type: "redirect"; url: string }
  | { type: "qr_code"; payload: string; deeplink: string | null }
  | { type: "sms_confirmation"; phoneMasked: string };

export type Payment = {
  id: string;
  object: "payment";
  merchant_id: string;
  merchant_order_no: string;
  product: Product;
  amount: number;
  currency: string;
  subject: string;
  status: PaymentStatus;
  version: number;
  payer: { id: string };
  method: { bank_code: string | null; card_type: string | null; wallet: string | null; flow: string | null };
  channel: string | null;
  next_action: NextAction | null;
  failure: { code: string; message: string | null } | null;
  settlement: { amount: number; currency: string; fxRate: string } | null;
  metadata: Record<string, string>;
  pay_url?: string;
  expires_at: string;
  created_at: string;
  updated_at: string;
};

export type PaymentDetail = Payment & {
  attempts: { id: string; attempt_no: number; channel: string; outcome: string; channel_txn_id: string | null; failure: { code: string; message: string | null } | null; updated_at: string }[];
  timeline: { from: string | null; to: string; version: number; cause: string; at: string }[];
};

export type ApiErrorBody = { error: { code: string; message: string; requestId: string; details?: unknown } };

/** One event as published (the same envelope as on Kafka and in notifications). */
export type EventEnvelope = { id: string; type: string; version: number; occurredAt: string; aggregateId: string; payload: Record<string, unknown> & { version: number; status: PaymentStatus } };

export type EventsPage = { data: EventEnvelope[]; next_cursor: string | null; has_more: boolean };
