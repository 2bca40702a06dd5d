import { AppError } from "@pps/domain";
import { requireBearerToken } from "@pps/runtime";
import type { Hono } from "hono";
import type { PaymentApiEnv } from "../http/auth.ts";
import type { ApiDeps } from "../http/context.ts";

/**
 * Service-to-service API inside the cluster (never exposed through the gateway): the notifier reads a
 * merchant's signing scheme and key here to sign notifications the merchant's SDK can verify.
 */
export function registerInternal(app: Hono<PaymentApiEnv>, deps: ApiDeps): void {
  app.use("/internal/*", requireBearerToken(deps.env.INTERNAL_TOKEN, "service"));
  app.get("/internal/v1/merchants/:id/signing", async (c) => {
    const merchant = await deps.merchants.get(c.req.param("id"));
    if (!merchant) throw new AppError("merchant.unknown", "unknown merchant");
    c.header("cache-control", "no-store");
    return c.json({ merchant_id: merchant.id, status: merchant.status, sign_scheme: merchant.signScheme, secret_key: merchant.secretKey });
  });
}
