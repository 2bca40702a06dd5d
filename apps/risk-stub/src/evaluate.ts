import type { RiskDecision } from "@pps/messaging";
import { normalizeBlocklistValue, type Blocklist } from "./blocklist.ts";
import { REASON_CODES, REASON_OUTCOME, type ReasonCode, type RulesConfig } from "./rules.ts";

export type RiskOutcome = RiskDecision["outcome"];

/** What the rules look at in the payment itself. */
export type RiskInput = {
  amount: number;
  currency: string;
  payerId: string;
  deviceId: string | null;
  ip: string | null;
};

/** What risk-stub remembers about the payer, including this payment. */
export type PayerHistory = {
  /** The payer had a payment decided before this one. */
  paidBefore: boolean;
  /** This payment's device was among those the payer paid from before (false when there is no device). */
  deviceKnown: boolean;
  /** The payer's payments within the velocity window ending at this payment, this one included. */
  paymentsInWindow: number;
};

export type Evaluation = { outcome: RiskOutcome; reasons: ReasonCode[] };

/**
 * The decision for one payment: every rule that fires adds its reason; block beats challenge beats allow.
 * Limits are inclusive (an amount equal to a limit passes); velocity fires on the (maxPayments + 1)th payment
 * in the window. Pure: everything it needs is passed in.
 */
export function evaluateRisk(
  rules: RulesConfig,
  blocklist: Blocklist,
  input: RiskInput,
  history: PayerHistory,
): Evaluation {
  const fired = new Set<ReasonCode>();

  if (blocklist.payer.has(normalizeBlocklistValue("payer", input.payerId))) fired.add("payer_blocklisted");
  if (input.deviceId !== null && blocklist.device.has(normalizeBlocklistValue("device", input.deviceId)))
    fired.add("device_blocklisted");
  if (input.ip !== null && blocklist.ip.has(normalizeBlocklistValue("ip", input.ip))) fired.add("ip_blocklisted");

  const limits = rules.amountLimits[input.currency];
  if (limits?.hardLimit != null && input.amount > limits.hardLimit) fired.add("amount_over_hard_limit");
  if (limits?.softLimit != null && input.amount > limits.softLimit) fired.add("amount_over_soft_limit");

  // A payer's first payment has no device history to compare with, so it is never "new device".
  if (rules.newDevice.enabled && input.deviceId !== null && history.paidBefore && !history.deviceKnown)
    fired.add("new_device");
  if (rules.velocity.enabled && history.paymentsInWindow > rules.velocity.maxPayments) fired.add("velocity_exceeded");

  const reasons = REASON_CODES.filter((r) => fired.has(r));
  const outcome: RiskOutcome = reasons.some((r) => REASON_OUTCOME[r] === "block")
    ? "block"
    : reasons.some((r) => REASON_OUTCOME[r] === "challenge")
      ? "challenge"
      : "allow";
  return { outcome, reasons };
}
