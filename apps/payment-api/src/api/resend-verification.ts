import { and, eq, sql } from "drizzle-orm";
import { payments, verifications } from "@pps/db/schema";
import { resendVerification } from "@pps/api-contract";
import { AppError } from "@pps/domain";
import { validationHook } from "@pps/runtime";
import { type ApiDeps, type PaymentApiApp, signedCall } from "../http/context.ts";
import { requestHash, runIdempotent } from "../http/idempotency.ts";
import { assertPayerActive } from "../payments/merchants.ts";
import { hashOtp, maskPhone, newOtp, sendOtp } from "../payments/otp.ts";

/**
 * POST /v1/payments/{id}/verification/resend: a new SMS code for a payment awaiting verification, when the
 * first did not arrive or expired. The new code replaces the old one and restarts the expiry; wrong tries
 * keep counting (a resend is no way around the attempt limit), and resends are limited too.
 */
export function registerResendVerification(app: PaymentApiApp, deps: ApiDeps): void {
  const middleware = signedCall(deps, { mutating: true, body: "none" });
  const notFound = validationHook({ notFound: { code: "payment.not_found", message: "no such payment" } });
  app.openapi(
    { ...resendVerification, middleware },
    async (c) => {
      const { id } = c.req.valid("param");
      const { merchant, nonce, idempotencyKey } = c.get("auth");
      const key = idempotencyKey!;
      const now = deps.now?.() ?? Date.now();
      // Filled inside the transaction, sent after it commits.
      const pending: { otp?: { phone: string; code: string } } = {};

      const result = await runIdempotent(
        deps.db,
        { merchantId: merchant.id, key, hash: requestHash(c.req.method, c.req.path, c.get("rawBody")), nonce },
        async (tx) => {
          const [row] = await tx
            .select({ status: payments.status, payerId: payments.payerId })
            .from(payments)
            .where(and(eq(payments.id, id), eq(payments.merchantId, merchant.id)))
            .for("update");
          if (!row) throw new AppError("payment.not_found", "no such payment");
          await assertPayerActive(deps.frozenPayers, row.payerId);
          const [v] = await tx.select().from(verifications).where(eq(verifications.paymentId, id)).for("update");
          if (row.status !== "requires_verification" || v?.status !== "pending") {
            throw new AppError("payment.invalid_state", `the payment is ${row.status} and awaits no verification`);
          }
          if (v.resends >= deps.env.OTP_MAX_RESENDS)
            throw new AppError(
              "payment.verification_resend_limit",
              `at most ${deps.env.OTP_MAX_RESENDS} new codes per payment`,
            );
          const code = newOtp();
          const expiresAt = new Date(now + deps.env.OTP_TTL_SECONDS * 1000);
          await tx
            .update(verifications)
            .set({ codeHash: hashOtp(id, code), expiresAt, resends: sql`${verifications.resends} + 1` })
            .where(eq(verifications.paymentId, id));
          pending.otp = { phone: v.phone, code };
          return {
            status: 200,
            body: {
              payment_id: id,
              sent_to: maskPhone(v.phone),
              expires_at: expiresAt.toISOString(),
              resends_left: deps.env.OTP_MAX_RESENDS - v.resends - 1,
            },
          };
        },
      );
      // A replayed request sends nothing again: the code went out with the first one.
      if (result.replayed) c.header("idempotent-replayed", "true");
      else if (pending.otp)
        await sendOtp(deps, { paymentId: id, ...pending.otp, ttlSeconds: deps.env.OTP_TTL_SECONDS });
      return c.json(result.body as never, result.status as 200);
    },
    notFound,
  );
}
