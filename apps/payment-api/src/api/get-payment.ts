import { and, asc, eq } from "drizzle-orm";
import { paymentAttempts, paymentTransitions, payments } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import { parseOrThrow } from "@pps/runtime";
import type { Hono } from "hono";
import { z } from "zod";
import type { PaymentApiEnv } from "../http/auth.ts";
import { authenticate, type ApiDeps } from "../http/context.ts";
import { paymentIdSchema } from "../http/wire.ts";
import { toApiPayment } from "../payments/payment-view.ts";
import type { PaymentRow } from "../payments/snapshot.ts";

const byOrderNoQuery = z.strictObject({ merchant_order_no: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

async function detailed(deps: ApiDeps, row: PaymentRow) {
  const [attempts, timeline] = await Promise.all([
    deps.db.select().from(paymentAttempts).where(eq(paymentAttempts.paymentId, row.id)).orderBy(asc(paymentAttempts.attemptNo)),
    deps.db.select().from(paymentTransitions).where(eq(paymentTransitions.paymentId, row.id)).orderBy(asc(paymentTransitions.version), asc(paymentTransitions.id)),
  ]);
  return {
    ...toApiPayment(row),
    attempts: attempts.map((a) => ({
      id: a.attemptId,
      attempt_no: a.attemptNo,
      channel: a.channel,
      outcome: a.outcome,
      channel_txn_id: a.channelTxnId,
      failure: a.failureCode ? { code: a.failureCode, message: a.failureMessage } : null,
      updated_at: a.updatedAt.toISOString(),
    })),
    timeline: timeline.map((t) => ({ from: t.fromStatus, to: t.toStatus, version: t.version, cause: t.cause, at: t.at.toISOString() })),
  };
}

/** Queries are signed like every merchant call (timestamp window, no nonce) and see only the caller's payments. */
export function registerGetPayment(app: Hono<PaymentApiEnv>, deps: ApiDeps): void {
  app.get("/v1/payments/:id", async (c) => {
    const id = c.req.param("id");
    const { merchant } = await authenticate(c, deps, { requireNonce: false });
    if (!paymentIdSchema.safeParse(id).success) throw new AppError("payment.not_found", "no such payment");
    const [row] = await deps.db.select().from(payments).where(and(eq(payments.id, id), eq(payments.merchantId, merchant.id)));
    if (!row) throw new AppError("payment.not_found", "no such payment");
    return c.json(await detailed(deps, row));
  });

  app.get("/v1/payments", async (c) => {
    const query = parseOrThrow(byOrderNoQuery, c.req.query(), "request fields are invalid");
    const { merchant } = await authenticate(c, deps, { requireNonce: false });
    const [row] = await deps.db.select().from(payments).where(and(eq(payments.merchantId, merchant.id), eq(payments.merchantOrderNo, query.merchant_order_no)));
    if (!row) throw new AppError("payment.not_found", "no payment with this merchant_order_no");
    return c.json(await detailed(deps, row));
  });
}
