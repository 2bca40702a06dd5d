import { z } from "zod";
import { defineEvent } from "../registry.ts";
import { TOPICS } from "../topics.ts";

/** What the payer must do for a `requires_action` outcome. */
export const payerActionSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("redirect"), url: z.url() }),
  z.object({ type: z.literal("qr_code"), payload: z.string(), deeplink: z.string().nullable() }),
  z.object({ type: z.literal("sms_confirmation"), phoneMasked: z.string() }),
]);
export type PayerAction = z.infer<typeof payerActionSchema>;

export const ATTEMPT_OUTCOMES = ["succeeded", "failed", "requires_action", "pending", "unknown"] as const;

/**
 * The outcome of one channel attempt as the router saw it (sync answer, or resolution of an unknown by query).
 * `failed` here always means the channel definitively did not take the money.
 */
export const attemptResultSchema = z.object({
  paymentId: z.string(),
  attemptId: z.string(),
  attemptNo: z.number().int().positive(),
  channel: z.string(),
  outcome: z.enum(ATTEMPT_OUTCOMES),
  channelTxnId: z.string().nullable(),
  amount: z.number().int().positive(),
  currency: z.string().length(3),
  /** Set when the channel settled in another currency (foreign card). */
  settlement: z
    .object({ amount: z.number().int().positive(), currency: z.string().length(3), fxRate: z.string() })
    .nullable(),
  action: payerActionSchema.nullable(),
  failureCode: z.string().nullable(),
  failureMessage: z.string().nullable(),
  /** Whether the router will try another channel after this failure (payment-api then keeps it processing). */
  willRetry: z.boolean(),
  occurredAt: z.iso.datetime({ offset: true }),
});
export type AttemptResult = z.infer<typeof attemptResultSchema>;

export const channelEvents = {
  attemptResult: defineEvent({
    type: "channel.attempt_result",
    version: 1,
    topic: TOPICS.channelResults.name,
    description:
      "The outcome of one channel attempt: succeeded, failed (definitively), requires payer action, pending (result by callback) or unknown (being resolved by query).",
    payload: attemptResultSchema,
  }),
} as const;
