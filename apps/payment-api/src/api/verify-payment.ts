import { and, eq, sql } from "drizzle-orm";
import { payments, verifications } from "@pps/db/schema";
import { verifyPayment } from "@pps/api-contract";
import { AppError } from "@pps/domain";
import { validationHook } from "@pps/runtime";
import { type ApiDeps, type PaymentApiApp, signedCall } from "../http/context.ts";
import { requestHash, runIdempotent } from "../http/idempotency.ts";
import { assertPayerActive } from "../payments/merchants.ts";
import { otpMatches } from "../payments/otp.ts";
import { transition } from "../payments/repository.ts";
import { toApiPayment } from "../payments/payment-view.ts";

/**
 * POST /v1/payments/{id}/verify: the merchant relays the OTP the payer received by SMS. A right code
 * moves the payment on to processing; a wrong one counts an attempt (the count and the answer are stored
 * with the idempotency key, so a retried request does not count twice); the last wrong one fails the payment.
 */
export function registerVerifyPayment(app: PaymentApiApp, deps: ApiDeps): void {
  const middleware = signedCall(deps, { mutating: true, body: "json" });
  const notFound = validationHook({ notFound: { code: "payment.not_found", message: "no such payment" } });
  app.openapi(
    { ...verifyPayment, middleware },
    async (c) => {
      const { id } = c.req.valid("param");
      const { code } = c.req.valid("json");
      const { merchant, nonce, idempotencyKey } = c.get("auth");
      const key = idempotencyKey!;
      const now = deps.now?.() ?? Date.now();

      const result = await runIdempotent(
        deps.db,
        { merchantId: merchant.id, key, hash: requestHash(c.req.method, c.req.path, c.get("rawBody")), nonce },
        async (tx) => {
          const [row] = await tx
            .select()
            .from(payments)
            .where(and(eq(payments.id, id), eq(payments.merchantId, merchant.id)))
            .for("update");
          if (!row) throw new AppError("payment.not_found", "no such payment");
          // A payer frozen since the payment began goes no further (the merchant's status was checked with the signature).
          await assertPayerActive(deps.frozenPayers, row.payerId);
          const [v] = await tx.select().from(verifications).where(eq(verifications.paymentId, id)).for("update");
          if (row.status !== "requires_verification" || !v || v.status !== "pending") {
            throw new AppError("payment.invalid_state", `the payment is ${row.status} and awaits no verification`);
          }
          if (v.expiresAt.getTime() <= now) throw new AppError("payment.expired", "the verification code has expired");
          const ref = { causeRef: c.get("requestId") };
          if (otpMatches(id, code, v.codeHash)) {
            await tx.update(verifications).set({ status: "passed" }).where(eq(verifications.paymentId, id));
            const moved = await transition(
              tx,
              id,
              "processing",
              { cause: "verification", ...ref },
              { onlyFrom: ["requires_verification"] },
            );
            if (!moved) throw new AppError("payment.invalid_state", "the payment changed meanwhile");
            return { status: 200, body: toApiPayment(moved.row) };
          }
          const attempts = v.attempts + 1;
          const locked = attempts >= v.maxAttempts;
          await tx
            .update(verifications)
            .set({ attempts: sql`${verifications.attempts} + 1`, status: locked ? "locked" : "pending" })
            .where(eq(verifications.paymentId, id));
          if (locked) {
            await transition(
              tx,
              id,
              "failed",
              { cause: "verification", ...ref, detail: { attempts } },
              {
                onlyFrom: ["requires_verification"],
                patch: { failureCode: "verification_failed", failureMessage: "too many wrong verification codes" },
              },
            );
            return {
              status: 423,
              body: {
                error: {
                  code: "payment.verification_locked",
                  message: "too many wrong codes; the payment has failed",
                  requestId: c.get("requestId"),
                },
              },
            };
          }
          return {
            status: 422,
            body: {
              error: {
                code: "payment.verification_failed",
                message: "wrong code",
                requestId: c.get("requestId"),
                details: { attempts_left: v.maxAttempts - attempts },
              },
            },
          };
        },
      );
      if (!result.replayed) deps.relay.notify();
      else c.header("idempotent-replayed", "true");
      return c.json(result.body as never, result.status as 200);
    },
    notFound,
  );
}
