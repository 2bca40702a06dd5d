import { and, asc, eq, isNull } from "drizzle-orm";
import type { Database } from "@pps/db";
import { paymentAttempts, paymentTransitions, payments } from "@pps/db/schema";
import { getPayment, getPaymentByOrderNo, type PaymentDetail } from "@pps/api-contract";
import { AppError, type PaymentStatus } from "@pps/domain";
import { validationHook } from "@pps/runtime";
import { type ApiDeps, type PaymentApiApp, signedCall } from "../http/context.ts";
import { toApiOperation } from "../payments/operation-view.ts";
import { toApiPayment } from "../payments/payment-view.ts";
import { operationsOf } from "./operations.ts";
import type { PaymentRow } from "../payments/snapshot.ts";

type Reader = Pick<Database, "select" | "execute">;

async function detailed(deps: ApiDeps, db: Reader, row: PaymentRow): Promise<PaymentDetail> {
  const [attempts, timeline, operations] = await Promise.all([
    db
      .select()
      .from(paymentAttempts)
      .where(eq(paymentAttempts.paymentId, row.id))
      .orderBy(asc(paymentAttempts.attemptNo)),
    db
      .select()
      .from(paymentTransitions)
      .where(and(eq(paymentTransitions.paymentId, row.id), isNull(paymentTransitions.operationId)))
      .orderBy(asc(paymentTransitions.version), asc(paymentTransitions.id)),
    operationsOf(deps, row.id, undefined, db),
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
    timeline: timeline.map((t) => ({
      from: t.fromStatus as PaymentStatus | null,
      to: t.toStatus as PaymentStatus,
      version: t.version,
      cause: t.cause,
      at: t.at.toISOString(),
    })),
    operations: operations.map((o) => toApiOperation(o, row.merchantOrderNo)),
  };
}

/**
 * The payment, its attempts, timeline and operations as of one moment: read apart, a refund that succeeded
 * in between showed as succeeded while the payment's amounts still had it pending.
 */
function inOneSnapshot<T>(deps: ApiDeps, read: (tx: Reader) => Promise<T>): Promise<T> {
  return deps.db.transaction(read, { isolationLevel: "repeatable read", accessMode: "read only" });
}

/** Queries are signed like every merchant call (timestamp window, no nonce) and see only the caller's payments. */
export function registerGetPayment(app: PaymentApiApp, deps: ApiDeps): void {
  const middleware = signedCall(deps, { mutating: false, body: "none" });
  const notFound = validationHook({ notFound: { code: "payment.not_found", message: "no such payment" } });

  app.openapi(
    { ...getPayment, middleware },
    async (c) => {
      const { id } = c.req.valid("param");
      const { merchant } = c.get("auth");
      const detail = await inOneSnapshot(deps, async (tx) => {
        const [row] = await tx
          .select()
          .from(payments)
          .where(and(eq(payments.id, id), eq(payments.merchantId, merchant.id)));
        return row ? detailed(deps, tx, row) : null;
      });
      if (!detail) throw new AppError("payment.not_found", "no such payment");
      return c.json(detail, 200);
    },
    notFound,
  );

  app.openapi({ ...getPaymentByOrderNo, middleware }, async (c) => {
    const query = c.req.valid("query");
    const { merchant } = c.get("auth");
    const detail = await inOneSnapshot(deps, async (tx) => {
      const [row] = await tx
        .select()
        .from(payments)
        .where(and(eq(payments.merchantId, merchant.id), eq(payments.merchantOrderNo, query.merchant_order_no)));
      return row ? detailed(deps, tx, row) : null;
    });
    if (!detail) throw new AppError("payment.not_found", "no payment with this merchant_order_no");
    return c.json(detail, 200);
  });
}
