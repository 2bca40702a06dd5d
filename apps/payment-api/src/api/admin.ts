import { randomBytes } from "node:crypto";
import { createMerchant, setPayerStatus, updateMerchant } from "@pps/api-contract";
import { merchants, payerAccounts } from "@pps/db/schema";
import { AppError, type ApiProduct, type LateSuccessPolicy } from "@pps/domain";
import { boundedJson, requireBearerToken, validationHook } from "@pps/runtime";
import type { SignFormat, SignScheme } from "@pps/signing";
import { eq, sql } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import type { PaymentApiEnv } from "../http/auth.ts";
import type { ApiDeps, PaymentApiApp } from "../http/context.ts";

function merchantView(m: typeof merchants.$inferSelect) {
  return {
    id: m.id,
    name: m.name,
    status: m.status as "active" | "suspended" | "closed",
    sign_scheme: m.signScheme as SignScheme,
    sign_format: m.signFormat as SignFormat,
    enabled_products: m.enabledProducts as ApiProduct[],
    late_success_policy: m.lateSuccessPolicy as LateSuccessPolicy,
    created_at: m.createdAt.toISOString(),
  };
}

/** Operator API: onboard merchants (the secret key is shown once), change their status, freeze payers. */
export function registerAdmin(app: PaymentApiApp, deps: ApiDeps): void {
  // Every path under /v1/admin needs the token, before anything else is read.
  app.use(
    "/v1/admin/*",
    requireBearerToken(deps.env.ADMIN_TOKEN, "admin") as unknown as MiddlewareHandler<PaymentApiEnv>,
  );
  const middleware = boundedJson(deps.env.MAX_BODY_BYTES, { object: true }) as MiddlewareHandler<PaymentApiEnv>;

  app.openapi({ ...createMerchant, middleware }, async (c) => {
    const req = c.req.valid("json");
    const secretKey = randomBytes(32).toString("base64url");
    const id = req.id ?? `m_${randomBytes(8).toString("hex")}`;
    const [row] = await deps.db
      .insert(merchants)
      .values({
        id,
        name: req.name,
        signScheme: req.sign_scheme,
        signFormat: req.sign_format,
        publicKey: req.public_key ?? null,
        secretKey,
        enabledProducts: req.enabled_products,
        lateSuccessPolicy: req.late_success_policy,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new AppError("request.conflict", "a merchant with this id exists");
    deps.logger.info({ merchantId: id, scheme: req.sign_scheme, format: req.sign_format }, "merchant created");
    return c.json({ ...merchantView(row), secret_key: secretKey }, 201);
  });

  app.openapi(
    { ...updateMerchant, middleware },
    async (c) => {
      const req = c.req.valid("json");
      const [row] = await deps.db
        .update(merchants)
        .set({
          ...(req.status ? { status: req.status } : {}),
          ...(req.enabled_products ? { enabledProducts: req.enabled_products } : {}),
          ...(req.sign_format ? { signFormat: req.sign_format } : {}),
          ...(req.late_success_policy ? { lateSuccessPolicy: req.late_success_policy } : {}),
          updatedAt: sql`now()`,
        })
        .where(eq(merchants.id, c.req.valid("param").id))
        .returning();
      if (!row) throw new AppError("request.not_found", "no such merchant");
      deps.merchants.invalidate(row.id);
      deps.logger.info({ merchantId: row.id, change: req }, "merchant updated");
      return c.json(merchantView(row), 200);
    },
    validationHook({ notFound: { code: "request.not_found", message: "no such merchant" } }),
  );

  app.openapi({ ...setPayerStatus, middleware }, async (c) => {
    const req = c.req.valid("json");
    const payerId = c.req.valid("param").id;
    await deps.db
      .insert(payerAccounts)
      .values({ payerId, status: req.status, reason: req.reason ?? null })
      .onConflictDoUpdate({
        target: payerAccounts.payerId,
        set: { status: req.status, reason: req.reason ?? null, updatedAt: sql`now()` },
      });
    deps.frozenPayers.set(payerId, req.status === "frozen");
    deps.logger.info({ payerId, status: req.status }, "payer status changed");
    return c.json({ id: payerId, status: req.status }, 200);
  });
}
