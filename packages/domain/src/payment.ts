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
 * - requires_capture: authorized only (capture_method manual): the amount is held at the channel until it
 *   is captured, voided, or the channel's window runs out.
 * - requires_review: the channel reported a result that does not match our records (amount, currency):
 *   held for an operator, nothing applied.
 * - succeeded: money taken (refunds do not change it; the amounts on the payment say what came back).
 * - canceled: ended with no money kept: an unpaid pre-order dropped, an authorization voided or expired,
 *   or a same-day cancel (撤销) of the whole payment.
 * - failed / expired: ended without taking money, except that a success the channel reports later is
 *   applied (money taken is never hidden) and surfaced as payment.late_succeeded.
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
  "requires_capture",
  "requires_review",
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const paymentStateMachine = defineStateMachine<PaymentStatus>({
  awaiting_payment: ["risk_review", "expired", "canceled"],
  risk_review: ["requires_verification", "processing", "failed", "expired"],
  requires_verification: ["processing", "failed", "expired"],
  processing: ["requires_action", "requires_capture", "succeeded", "failed", "requires_review"],
  requires_action: ["requires_capture", "succeeded", "failed", "expired", "requires_review"],
  // Captured (in full or in part: the rest is released), or voided / expired at the channel.
  requires_capture: ["succeeded", "canceled"],
  // A same-day cancel (撤销) returns the whole payment.
  succeeded: ["canceled"],
  // A channel that confirms a charge after we failed or expired the payment wins: the money was taken, so
  // the payment must say so (and the merchant is told, by its own event). A mismatching one is held.
  failed: ["succeeded", "requires_capture", "requires_review"],
  expired: ["succeeded", "requires_capture", "requires_review"],
  canceled: [],
  // An operator decides, after looking at the channel's record.
  requires_review: ["succeeded", "failed"],
});

/** How a payment's money is taken: at once (automatic), or authorized now and captured later (manual). */
export const CAPTURE_METHODS = ["automatic", "manual"] as const;
export type CaptureMethod = (typeof CAPTURE_METHODS)[number];
