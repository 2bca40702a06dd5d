import { z } from "zod";
import { defineEvent } from "../registry.ts";
import { TOPICS } from "../topics.ts";

export const RISK_OUTCOMES = ["allow", "challenge", "block"] as const;

export const riskDecisionSchema = z.object({
  decisionId: z.string(),
  paymentId: z.string(),
  merchantId: z.string(),
  outcome: z.enum(RISK_OUTCOMES),
  /** Stable reason codes of the rules that fired, e.g. `payer_blocklisted`, `amount_over_soft_limit`. */
  reasons: z.array(z.string()),
  decidedAt: z.iso.datetime({ offset: true }),
});
export type RiskDecision = z.infer<typeof riskDecisionSchema>;

export const riskEvents = {
  decided: defineEvent({
    type: "risk.decided",
    version: 1,
    topic: TOPICS.riskDecisions.name,
    description:
      "The risk decision for a payment: allow, challenge (step-up verification) or block, with the rules that fired.",
    payload: riskDecisionSchema,
  }),
} as const;
