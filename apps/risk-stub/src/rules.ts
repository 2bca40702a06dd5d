import { z } from "zod";

/**
 * The rules document: one JSON config, stored versioned in `risk.rules`, replaced whole by
 * `PUT /v1/risk/rules`. Amounts are integer minor units of their currency. Every limit is inclusive:
 * an amount equal to a limit passes it; only an amount strictly over it fires the rule.
 */

const minorUnits = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const amountLimitSchema = z
  .object({
    /** Over this: challenge. null: no soft limit for the currency. */
    softLimit: minorUnits.nullable(),
    /** Over this: block. null: no hard limit for the currency. */
    hardLimit: minorUnits.nullable(),
  })
  .strict()
  .refine((l) => l.softLimit === null || l.hardLimit === null || l.softLimit <= l.hardLimit, {
    message: "softLimit must not exceed hardLimit",
    path: ["softLimit"],
  });
export type AmountLimit = z.infer<typeof amountLimitSchema>;

/** The most payments per window a velocity rule may allow; bounds the per-payer history row. */
export const MAX_VELOCITY_PAYMENTS = 100;

export const rulesConfigSchema = z
  .object({
    /** Per ISO 4217 currency code; a currency without an entry has no amount rules. */
    amountLimits: z.record(z.string().regex(/^[A-Z]{3}$/, "must be an ISO 4217 code such as CNY"), amountLimitSchema),
    /** Challenge a payer who has paid before but never from this device. */
    newDevice: z.object({ enabled: z.boolean() }).strict(),
    /** Challenge a payer's payment when it is one of more than `maxPayments` within `windowSeconds`. */
    velocity: z
      .object({
        enabled: z.boolean(),
        maxPayments: z.number().int().min(1).max(MAX_VELOCITY_PAYMENTS),
        windowSeconds: z.number().int().min(1).max(86_400),
      })
      .strict(),
  })
  .strict();
export type RulesConfig = z.infer<typeof rulesConfigSchema>;

export const DEFAULT_RULES: RulesConfig = {
  amountLimits: {
    CNY: { softLimit: 500_000, hardLimit: 5_000_000 },
    USD: { softLimit: 100_000, hardLimit: 1_000_000 },
  },
  newDevice: { enabled: true },
  velocity: { enabled: true, maxPayments: 5, windowSeconds: 60 },
};

/** Stable reason codes, in the order a decision lists them. Never rename one; only add. */
export const REASON_CODES = [
  "payer_blocklisted",
  "device_blocklisted",
  "ip_blocklisted",
  "amount_over_hard_limit",
  "amount_over_soft_limit",
  "new_device",
  "velocity_exceeded",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** What each reason asks for; the decision is the strongest of them. */
export const REASON_OUTCOME: Readonly<Record<ReasonCode, "block" | "challenge">> = {
  payer_blocklisted: "block",
  device_blocklisted: "block",
  ip_blocklisted: "block",
  amount_over_hard_limit: "block",
  amount_over_soft_limit: "challenge",
  new_device: "challenge",
  velocity_exceeded: "challenge",
};
