import { resolveOperationReview, resolvePaymentReview } from "@pps/api-contract";
import { AppError } from "@pps/domain";
import { boundedJson, validationHook } from "@pps/runtime";
import type { MiddlewareHandler } from "hono";
import type { PaymentApiEnv } from "../http/auth.ts";
import type { ApiDeps, PaymentApiApp } from "../http/context.ts";
import { toApiOperation } from "../payments/operation-view.ts";
import { applyOperationResults } from "../payments/operations.ts";
import { toApiPayment } from "../payments/payment-view.ts";
import { fromRaw } from "../payments/repository.ts";
import { transitionMany } from "../payments/transitions-batch.ts";

/**
 * Operator decisions on what was held for review (a channel's result whose amount or currency did not
 * match): through the same write paths as every other change (transitionMany, applyOperationResults), with
 * the operator's note in the audit trail. Under /v1/admin: the admin token is checked for every path there.
 */
export function registerReviews(app: PaymentApiApp, deps: ApiDeps): void {
  const middleware = boundedJson(deps.env.MAX_BODY_BYTES, { object: true }) as MiddlewareHandler<PaymentApiEnv>;

  app.openapi(
    { ...resolvePaymentReview, middleware },
    async (c) => {
      const { id } = c.req.valid("param");
      const { outcome, note } = c.req.valid("json");
      const cause = { cause: "operator_review", causeRef: c.get("requestId"), detail: { note } };
      const row = await deps.db.$client.begin(async (sql) => {
        const [raw] = await sql<Record<string, unknown>[]>`select * from payment.payments where id = ${id} for update`;
        if (!raw) throw new AppError("payment.not_found", "no such payment");
        const p = fromRaw(raw);
        const now = new Date();
        const [done] = await transitionMany(sql, [
          outcome === "succeeded"
            ? {
                paymentId: id,
                to: "succeeded",
                cause,
                onlyFrom: ["requires_review"],
                patch: {
                  amountAuthorized: p.amount,
                  amountCaptured: p.amount,
                  authorizedAt: now,
                  capturedAt: now,
                  failureCode: null,
                  failureMessage: null,
                },
              }
            : {
                paymentId: id,
                to: "failed",
                cause,
                onlyFrom: ["requires_review"],
                patch: { failureCode: "review_failed", failureMessage: note },
              },
        ]);
        if (!done) throw new AppError("payment.invalid_state", `the payment is ${p.status}, not requires_review`);
        return done.row;
      });
      deps.relay.notify();
      deps.logger.info({ paymentId: id, outcome }, "payment review decided");
      return c.json(toApiPayment(row), 200);
    },
    validationHook({ notFound: { code: "payment.not_found", message: "no such payment" } }),
  );

  app.openapi(
    { ...resolveOperationReview, middleware },
    async (c) => {
      const { id } = c.req.valid("param");
      const { outcome, note } = c.req.valid("json");
      const cause = { cause: "operator_review", causeRef: c.get("requestId"), detail: { note } };
      const result = await deps.db.$client.begin(async (sql) => {
        const [exists] = await sql<{ status: string; merchant_order_no: string }[]>`
          select o.status, p.merchant_order_no from payment.payment_operations o join payment.payments p on p.id = o.payment_id
          where o.id = ${id}`;
        if (!exists) throw new AppError("operation.not_found", "no such operation");
        if (exists.status !== "requires_review")
          throw new AppError("payment.invalid_state", `the operation is ${exists.status}, not requires_review`);
        const [done] = await applyOperationResults(sql, [
          {
            operationId: id,
            to: outcome,
            cause,
            patch: outcome === "failed" ? { failureCode: "review_failed", failureMessage: note } : {},
          },
        ]);
        if (!done) throw new AppError("payment.invalid_state", "the operation changed meanwhile");
        return { op: done.op, orderNo: exists.merchant_order_no };
      });
      deps.relay.notify();
      deps.logger.info({ operationId: id, outcome }, "operation review decided");
      return c.json(toApiOperation(result.op, result.orderNo), 200);
    },
    validationHook({ notFound: { code: "operation.not_found", message: "no such operation" } }),
  );
}
