import { defineStateMachine } from "./state-machine.ts";

/** The ten payment products (design brief, section 1). */
export const PRODUCTS = [
  "quick_pay",
  "online_banking",
  "agreement_pay",
  "platform_pay",
  "foreign_card",
  "carrier_billing",
  "virtual_currency",
  "account_pay",
  "credit_pay",
  "payout",
] as const;
export type Product = (typeof PRODUCTS)[number];

/**
 * Payment states.
 * - awaiting_payment: a pre-order exists with a pay link; nothing charged yet.
 * - risk_review: accepted, waiting for the risk decision.
 * - requires_verification: risk asked for step-up (SMS OTP) before going on.
 * - processing: handed to the router; a channel attempt is running or its outcome is unknown.
 * - requires_action: the channel waits for the payer (bank page, QR scan, SMS confirmation).
 * - succeeded / failed / canceled: terminal. expired is final except for a late confirmed charge.
 */
export const PAYMENT_STATUSES = [
  "awaiting_payment",
  "risk_review",
  "requires_verification",
  "processing",
  "requires_action",
  "succeeded",
  "failed",
  "expired",
  "canceled",
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const paymentStateMachine = defineStateMachine<PaymentStatus>({
  awaiting_payment: ["risk_review", "expired", "canceled"],
  risk_review: ["requires_verification", "processing", "failed", "expired"],
  requires_verification: ["processing", "failed", "expired"],
  processing: ["requires_action", "succeeded", "failed"],
  requires_action: ["succeeded", "failed", "expired"],
  succeeded: [],
  failed: [],
  // A channel that confirms a charge after we expired the payment wins: the money was taken, so the
  // payment must say so (and the merchant is told). Nothing else leaves `expired`.
  expired: ["succeeded"],
  canceled: [],
});
