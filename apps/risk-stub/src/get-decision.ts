import { eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskDecisions } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import {
  type AppEnv,
  BEARER_ERRORS,
  createRoute,
  errorResponses,
  json,
  noQuery,
  type RouteHandler,
  z,
} from "@pps/runtime";
import { adminSecurity } from "./risk-api.ts";
import { type ReasonCode, REASON_CODES } from "./rules.ts";

const OUTCOMES = ["allow", "challenge", "block"] as const;

export const riskDecisionSchema = z
  .object({
    paymentId: z.string(),
    decisionId: z.string(),
    eventId: z.string().openapi({ description: "The envelope id of the event that was decided." }),
    merchantId: z.string(),
    payerId: z.string(),
    outcome: z.enum(OUTCOMES),
    reasons: z
      .array(z.enum(REASON_CODES))
      .openapi({ description: "In the order the rules list them; the outcome is the strongest." }),
    rulesVersion: z
      .int()
      .openapi({ description: "The rules version it was made with (GET /v1/risk/rules?version=N)." }),
    inputs: z
      .record(z.string(), z.unknown())
      .openapi({ description: "What the rules saw: amount, currency, payer, device, IP and the history counts." }),
    decidedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("RiskDecision");

export const getDecisionRoute = createRoute({
  method: "get",
  path: "/v1/risk/decisions/{paymentId}",
  operationId: "getDecision",
  tags: ["Decisions"],
  summary: "The decision made for a payment, with the rules version and inputs",
  security: adminSecurity,
  request: {
    params: z.object({
      paymentId: z
        .string()
        .openapi({ description: "The payment id (pay_…).", example: "pay_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX" }),
    }),
    query: noQuery,
  },
  responses: {
    200: { description: "The decision.", content: json(riskDecisionSchema) },
    ...errorResponses([...BEARER_ERRORS, "request.not_found"]),
  },
});

/** GET /v1/risk/decisions/{paymentId}: the decision made for a payment, with the rules version and inputs. */
export function getDecision({ db }: { db: Database }): RouteHandler<typeof getDecisionRoute, AppEnv> {
  return async (c) => {
    const { paymentId } = c.req.valid("param");
    const [row] = await db.select().from(riskDecisions).where(eq(riskDecisions.paymentId, paymentId));
    if (!row) throw new AppError("request.not_found", "no risk decision for this payment");
    // Written only by decide-payment.ts, from the rules' own outcome, reason codes and inputs object.
    return c.json(
      {
        paymentId: row.paymentId,
        decisionId: row.decisionId,
        eventId: row.eventId,
        merchantId: row.merchantId,
        payerId: row.payerId,
        outcome: row.outcome as (typeof OUTCOMES)[number],
        reasons: row.reasons as ReasonCode[],
        rulesVersion: row.rulesVersion,
        inputs: row.inputs as Record<string, unknown>,
        decidedAt: row.decidedAt.toISOString(),
      },
      200,
    );
  };
}
