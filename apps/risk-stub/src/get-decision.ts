import { eq } from "drizzle-orm";
import type { Handler } from "hono";
import type { Database } from "@pps/db";
import { riskDecisions } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";

/** GET /v1/risk/decisions/{paymentId}: the decision made for a payment, with the rules version and inputs. */
export function getDecision({ db }: { db: Database }): Handler<AppEnv> {
  return async (c) => {
    const paymentId = c.req.param("paymentId") ?? "";
    const [row] = await db.select().from(riskDecisions).where(eq(riskDecisions.paymentId, paymentId));
    if (!row) throw new AppError("request.not_found", "no risk decision for this payment");
    return c.json({
      paymentId: row.paymentId,
      decisionId: row.decisionId,
      eventId: row.eventId,
      merchantId: row.merchantId,
      payerId: row.payerId,
      outcome: row.outcome,
      reasons: row.reasons,
      rulesVersion: row.rulesVersion,
      inputs: row.inputs,
      decidedAt: row.decidedAt.toISOString(),
    });
  };
}
