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
/** v2 adds `authorized` (a manual-capture payment held at the channel). */
export const ATTEMPT_OUTCOMES_V2 = [...ATTEMPT_OUTCOMES, "authorized"] as const;

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
export type AttemptResultV1 = z.infer<typeof attemptResultSchema>;

/**
 * v2: adds the `authorized` outcome with `authorizationExpiresAt`, and what the channel itself reported it
 * took (`reportedAmount`, `reportedCurrency`, null when the answer carried none), which payment-api checks
 * against the payment before applying a success.
 */
export const attemptResultV2Schema = attemptResultSchema.extend({
  outcome: z.enum(ATTEMPT_OUTCOMES_V2),
  authorizationExpiresAt: z.iso.datetime({ offset: true }).nullable(),
  reportedAmount: z.number().int().positive().nullable(),
  reportedCurrency: z.string().length(3).nullable(),
});
export type AttemptResult = z.infer<typeof attemptResultV2Schema>;

export const OPERATION_RESULT_OUTCOMES = ["succeeded", "failed", "pending", "unknown"] as const;

/** The outcome of one operation call (capture, void, cancel, refund) as the router saw it. */
export const operationResultSchema = z.object({
  paymentId: z.string(),
  operationId: z.string(),
  kind: z.enum(["capture", "void", "cancel", "refund"]),
  channel: z.string(),
  outcome: z.enum(OPERATION_RESULT_OUTCOMES),
  channelOpId: z.string().nullable(),
  /** What we asked for, and what the channel says it moved (null when its answer carried none). */
  amount: z.number().int().positive(),
  currency: z.string().length(3),
  reportedAmount: z.number().int().positive().nullable(),
  reportedCurrency: z.string().length(3).nullable(),
  failureCode: z.string().nullable(),
  failureMessage: z.string().nullable(),
  occurredAt: z.iso.datetime({ offset: true }),
});
export type OperationResult = z.infer<typeof operationResultSchema>;

export const channelEvents = {
  attemptResult: defineEvent({
    type: "channel.attempt_result",
    version: 2,
    topic: TOPICS.channelResults.name,
    description:
      "The outcome of one channel attempt: succeeded, authorized (manual capture), failed (definitively), requires payer action, pending (result by callback) or unknown (being resolved by query).",
    payload: attemptResultV2Schema,
  }),
  operationResult: defineEvent({
    type: "channel.operation_result",
    version: 1,
    topic: TOPICS.channelResults.name,
    description:
      "The outcome of one operation call (capture, void, cancel, refund) on the channel that took the money: succeeded, failed (definitively, nothing moved), pending (result by callback or query) or unknown (being resolved by query).",
    payload: operationResultSchema,
  }),
} as const;

/** v1 of the attempt result (retired): read, never written. */
export const channelEventsV1 = {
  attemptResult: defineEvent({
    type: "channel.attempt_result",
    version: 1,
    retired:
      "Retired: v2 adds the authorized outcome and the amount the channel reported. Still read during a rollout.",
    topic: TOPICS.channelResults.name,
    description:
      "The outcome of one channel attempt: succeeded, failed (definitively), requires payer action, pending (result by callback) or unknown (being resolved by query).",
    payload: attemptResultSchema,
  }),
} as const;
