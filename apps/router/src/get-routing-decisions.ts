import type { Hono } from "hono";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";
import type { AttemptStore } from "./attempt-store.ts";

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** GET /v1/routing/decisions/{paymentId}: why each channel was (not) chosen, and what each attempt did. */
export function getRoutingDecisions(app: Hono<AppEnv>, deps: { store: AttemptStore }): void {
  app.get("/v1/routing/decisions/:paymentId", async (c) => {
    const paymentId = c.req.param("paymentId");
    const [decisions, attempts] = await Promise.all([deps.store.decisionsFor(paymentId), deps.store.attemptsFor(paymentId)]);
    if (decisions.length === 0) throw new AppError("payment.not_found", `no routing decision for payment ${paymentId}`);
    return c.json({
      paymentId,
      decisions: decisions.map((d) => ({
        attemptNo: d.attemptNo,
        reason: d.reason,
        decidedAt: iso(d.decidedAt),
        input: { product: d.product, amount: d.amount, currency: d.currency, bankCode: d.bankCode, wallet: d.wallet },
        winner: d.winner,
        candidates: d.candidates,
      })),
      attempts: attempts.map((a) => ({
        id: a.id,
        attemptNo: a.attemptNo,
        channel: a.channel,
        status: a.status,
        amount: a.amount,
        currency: a.currency,
        channelTxnId: a.channelTxnId,
        failureCode: a.failureCode,
        lastError: a.lastError,
        queryCount: a.queryCount,
        nextQueryAt: iso(a.nextQueryAt),
        createdAt: iso(a.createdAt),
        updatedAt: iso(a.updatedAt),
        completedAt: iso(a.completedAt),
      })),
    });
  });
}
