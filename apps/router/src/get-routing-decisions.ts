import { AppError } from "@pps/domain";
import { BEARER_ERRORS, type ServiceApp, validationHook, z } from "@pps/runtime";
import type { AttemptStore } from "./attempt-store.ts";
import { channelIdSchema } from "./channel-views.ts";
import { CIRCUIT_STATES } from "./circuit-breaker.ts";
import { paymentRecordsRoute, queriedRowShape, queriedRowView, timestamp } from "./payment-records-route.ts";
import { type Candidate, EXCLUSION_REASONS } from "./ranking.ts";
import { ATTEMPT_STATUSES } from "./resolution-policy.ts";

const candidateSchema = z
  .object({
    channel: channelIdSchema,
    excludedReason: z.enum(EXCLUSION_REASONS).nullable().openapi({
      description:
        "Why the channel could not take the payment (flow_not_supported: a manual-capture payment at a channel without pre-authorization).",
    }),
    fee: z.int().nullable().openapi({
      description:
        "Total fee for this amount in minor units of the payment's currency, when the channel is configured and can execute the payment.",
    }),
    feeFixed: z.int().nullable().openapi({
      description:
        "The fixed part of the fee in minor units of the payment's currency (the setting in hundredths, converted).",
    }),
    feeRateBps: z.int().nullable(),
    priority: z.int().nullable(),
    successRate: z.number().nullable(),
    avgLatencyMs: z.number().nullable(),
    calls: z.int(),
    circuit: z.enum(CIRCUIT_STATES),
    needsProbe: z.boolean(),
    rank: z.int().nullable().openapi({ description: "1 = first choice; null when excluded." }),
  })
  .openapi("RoutingCandidate");

export const routingDecisionsSchema = z
  .object({
    paymentId: z.string(),
    decisions: z.array(
      z.object({
        attemptNo: z.int(),
        reason: z.enum(["initial", "failover"]),
        decidedAt: timestamp,
        input: z.object({
          product: z.string(),
          amount: z.int(),
          currency: z.string(),
          bankCode: z.string().nullable(),
          wallet: z.string().nullable(),
        }),
        winner: z.string().nullable().openapi({ description: "null: no channel could take the payment." }),
        candidates: z.array(candidateSchema),
      }),
    ),
    attempts: z.array(
      z.object({
        id: z.string().openapi({
          description:
            "at<n>_<the payment id's ULID> (attemptIdOf in @pps/domain): names the payment and the attempt number; the channel's idempotency key and our order reference there.",
          example: "at1_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX",
        }),
        attemptNo: z.int(),
        channel: z.string().openapi({ description: "A channel id, or none when no channel could take the payment." }),
        status: z.enum(ATTEMPT_STATUSES),
        amount: z.int(),
        currency: z.string(),
        channelTxnId: z.string().nullable(),
        ...queriedRowShape(),
      }),
    ),
  })
  .openapi("RoutingDecisions");
type RoutingDecisionsBody = z.output<typeof routingDecisionsSchema>;

export const getRoutingDecisionsRoute = paymentRecordsRoute({
  path: "/v1/routing/decisions/{paymentId}",
  operationId: "getRoutingDecisions",
  summary: "Why each channel was (not) chosen for a payment, and what each attempt did",
  description: "The decisions (the first and each failover) and the attempts, in order.",
  schema: routingDecisionsSchema,
  errors: [...BEARER_ERRORS, "payment.not_found"],
});

/** GET /v1/routing/decisions/{paymentId}: why each channel was (not) chosen, and what each attempt did. */
export function getRoutingDecisions(app: ServiceApp, deps: { store: AttemptStore }): void {
  app.openapi(
    getRoutingDecisionsRoute,
    async (c) => {
      const { paymentId } = c.req.valid("param");
      const [decisions, attempts] = await Promise.all([
        deps.store.decisionsFor(paymentId),
        deps.store.attemptsFor(paymentId),
      ]);
      if (decisions.length === 0)
        throw new AppError("payment.not_found", `no routing decision for payment ${paymentId}`);
      const body: RoutingDecisionsBody = {
        paymentId,
        decisions: decisions.map((d) => ({
          attemptNo: d.attemptNo,
          reason: d.reason as "initial" | "failover",
          decidedAt: d.decidedAt.toISOString(),
          input: { product: d.product, amount: d.amount, currency: d.currency, bankCode: d.bankCode, wallet: d.wallet },
          winner: d.winner,
          // jsonb written by this router from Candidate values (attempt-store.ts).
          candidates: d.candidates as Candidate[],
        })),
        attempts: attempts.map((a) => ({
          id: a.id,
          attemptNo: a.attemptNo,
          channel: a.channel,
          status: a.status as (typeof ATTEMPT_STATUSES)[number],
          amount: a.amount,
          currency: a.currency,
          channelTxnId: a.channelTxnId,
          ...queriedRowView(a),
        })),
      };
      return c.json(body, 200);
    },
    validationHook({ notFound: { code: "payment.not_found", message: "no routing decision for this payment" } }),
  );
}
