import { randomBytes } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { merchants, payerAccounts } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import { SIGN_SCHEMES } from "@pps/signing";
import { parseOrThrow, requireBearerToken } from "@pps/runtime";
import type { Hono } from "hono";
import { z } from "zod";
import type { PaymentApiEnv } from "../http/auth.ts";
import type { ApiDeps } from "../http/context.ts";
import { SUPPORTED_PRODUCTS } from "../http/wire.ts";

const createMerchantSchema = z.strictObject({
  id: z.string().regex(/^m_[A-Za-z0-9_]{1,60}$/).optional(),
  name: z.string().min(1).max(128),
  sign_scheme: z.enum(SIGN_SCHEMES).default("HMAC_SHA256"),
  public_key: z.string().includes("BEGIN PUBLIC KEY").max(8192).optional(),
  enabled_products: z.array(z.enum(SUPPORTED_PRODUCTS)).min(1),
});

const updateMerchantSchema = z.strictObject({
  status: z.enum(["active", "suspended", "closed"]).optional(),
  enabled_products: z.array(z.enum(SUPPORTED_PRODUCTS)).min(1).optional(),
});

const payerStatusSchema = z.strictObject({ status: z.enum(["active", "frozen"]), reason: z.string().max(256).optional() });

function merchantView(m: typeof merchants.$inferSelect) {
  return { id: m.id, name: m.name, status: m.status, sign_scheme: m.signScheme, enabled_products: m.enabledProducts, created_at: m.createdAt.toISOString() };
}

/** Operator API: onboard merchants (the secret key is shown once), change their status, freeze payers. */
export function registerAdmin(app: Hono<PaymentApiEnv>, deps: ApiDeps): void {
  app.use("/v1/admin/*", requireBearerToken(deps.env.ADMIN_TOKEN, "admin"));

  app.post("/v1/admin/merchants", async (c) => {
    const req = parseOrThrow(createMerchantSchema, c.get("body"), "request fields are invalid");
    if (req.sign_scheme === "RSA_SHA256" && !req.public_key) throw new AppError("request.validation_failed", "RSA_SHA256 merchants need public_key");
    const secretKey = randomBytes(32).toString("base64url");
    const id = req.id ?? `m_${randomBytes(8).toString("hex")}`;
    const [row] = await deps.db
      .insert(merchants)
      .values({ id, name: req.name, signScheme: req.sign_scheme, publicKey: req.public_key ?? null, secretKey, enabledProducts: req.enabled_products })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new AppError("request.validation_failed", "a merchant with this id exists");
    deps.logger.info({ merchantId: id, scheme: req.sign_scheme }, "merchant created");
    return c.json({ ...merchantView(row), secret_key: secretKey }, 201);
  });

  app.patch("/v1/admin/merchants/:id", async (c) => {
    const req = parseOrThrow(updateMerchantSchema, c.get("body"), "request fields are invalid");
    const [row] = await deps.db
      .update(merchants)
      .set({ ...(req.status ? { status: req.status } : {}), ...(req.enabled_products ? { enabledProducts: req.enabled_products } : {}), updatedAt: sql`now()` })
      .where(eq(merchants.id, c.req.param("id")))
      .returning();
    if (!row) throw new AppError("request.not_found", "no such merchant");
    deps.merchants.invalidate(row.id);
    deps.logger.info({ merchantId: row.id, change: req }, "merchant updated");
    return c.json(merchantView(row));
  });

  app.put("/v1/admin/payers/:id", async (c) => {
    const req = parseOrThrow(payerStatusSchema, c.get("body"), "request fields are invalid");
    const payerId = c.req.param("id");
    if (!/^[A-Za-z0-9_.:@-]{1,64}$/.test(payerId)) throw new AppError("request.validation_failed", "bad payer id");
    await deps.db
      .insert(payerAccounts)
      .values({ payerId, status: req.status, reason: req.reason ?? null })
      .onConflictDoUpdate({ target: payerAccounts.payerId, set: { status: req.status, reason: req.reason ?? null, updatedAt: sql`now()` } });
    deps.frozenPayers.set(payerId, req.status === "frozen");
    deps.logger.info({ payerId, status: req.status }, "payer status changed");
    return c.json({ id: payerId, status: req.status });
  });
}
