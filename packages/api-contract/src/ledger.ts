import { z } from "@hono/zod-openapi";
import { payerIdSchema, text, timestampSchema } from "./common.ts";

/** The payer accounts an operator opens: account pay (wallet), virtual currency (coins), credit pay (credit line). */
export const PAYER_ACCOUNT_KINDS = ["payer_wallet", "payer_coins", "payer_credit"] as const;
export const ACCOUNT_STATUSES = ["active", "frozen", "closed"] as const;

const minorUnits = (description: string) => z.number().int().safe().openapi({ description });

export const accountIdParams = z.object({
  id: z
    .string()
    .regex(/^acc_[0-9A-Z]{26}$/, "acc_ followed by 26 capitals and digits")
    .openapi({ param: { name: "id", in: "path" }, example: "acc_01J9Z3J7K6Q1M8X2V5N4B7C0D9" }),
});

/** Who changes an account and why, kept in its audit trail (or on the entry of an adjustment). */
const actor = {
  operator: text(128).openapi({ description: "Who asks for the change (an operator's name or id)." }),
  reason: text(500).openapi({ description: "Why: kept with the change for the audit." }),
};

export const openAccountBody = z
  .strictObject({
    kind: z.enum(PAYER_ACCOUNT_KINDS),
    owner_id: payerIdSchema,
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/)
      .openapi({ description: "ISO 4217 for wallets and credit lines; a coin code (not ISO 4217) for coins." }),
    credit_limit: z
      .number()
      .int()
      .safe()
      .min(0)
      .optional()
      .openapi({ description: "Credit lines: minor units (default 0)." }),
    ...actor,
  })
  .openapi("OpenAccountRequest");

export const accountStatusBody = z
  .strictObject({ status: z.enum(ACCOUNT_STATUSES), ...actor })
  .openapi("AccountStatusRequest");

export const creditLimitBody = z
  .strictObject({ credit_limit: z.number().int().safe().min(0), ...actor })
  .openapi("CreditLimitRequest");

export const adjustmentBody = z
  .strictObject({
    adjustment_id: text(64).openapi({ description: "Your id for it: the same id posts once." }),
    amount: minorUnits("Credited when positive, debited when negative; never 0.").refine((n) => n !== 0, "not 0"),
    ...actor,
  })
  .openapi("AdjustmentRequest");

export const coinGrantBody = z
  .strictObject({
    grant_id: text(64).openapi({ description: "Your id for it: the same id grants once." }),
    amount: z.number().int().safe().min(1),
    ...actor,
  })
  .openapi("CoinGrantRequest");

export const accountSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    owner_id: z.string(),
    currency: z.string(),
    status: z.enum(ACCOUNT_STATUSES),
    balance: minorUnits("Credits minus debits posted (a credit line in use is negative)."),
    held: minorUnits("Reserved by live holds (pre-authorizations)."),
    available: minorUnits("What can still be spent: balance - held - floor.").nullable(),
    credit_limit: z.number().int().nullable(),
    credit_used: z.number().int().nullable(),
    changes: z.array(
      z.object({
        change: z.enum(["opened", "status", "credit_limit"]),
        from: z.string().nullable(),
        to: z.string(),
        operator: z.string(),
        reason: z.string(),
        at: timestampSchema,
      }),
    ),
  })
  .openapi("LedgerAccount");

export const postedEntrySchema = z
  .object({
    entry_id: z.string(),
    duplicate: z.boolean().openapi({ description: "The id was posted before: this is that entry." }),
    account: accountSchema,
  })
  .openapi("PostedEntry");

export const statementQuery = z.object({
  after: z.coerce.number().int().min(0).optional().openapi({ description: "The cursor: the last seq you have." }),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});

export const statementSchema = z
  .object({
    lines: z.array(
      z.object({
        seq: z.number().int(),
        entry_id: z.string(),
        cause: z.string(),
        cause_id: z.string(),
        amount: z.number().int(),
        currency: z.string(),
        balance_after: z.number().int(),
        memo: z.record(z.string(), z.unknown()),
        created_at: timestampSchema,
      }),
    ),
    next_after: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Pass as `after` for the next page; null at the end." }),
  })
  .openapi("AccountStatement");
