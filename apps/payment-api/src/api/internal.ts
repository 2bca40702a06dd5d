import { getMerchantSigning, getPlatformKey } from "@pps/api-contract";
import { AppError } from "@pps/domain";
import { requireBearerToken, validationHook } from "@pps/runtime";
import type { MiddlewareHandler } from "hono";
import type { PaymentApiEnv } from "../http/auth.ts";
import type { ApiDeps, PaymentApiApp } from "../http/context.ts";

/**
 * Service-to-service API inside the cluster (never exposed through the gateway): the notifier reads a
 * merchant's signing scheme and key here to sign notifications the merchant's SDK can verify.
 */
export function registerInternal(app: PaymentApiApp, deps: ApiDeps): void {
  app.use(
    "/internal/*",
    requireBearerToken(deps.env.INTERNAL_TOKEN, "service") as unknown as MiddlewareHandler<PaymentApiEnv>,
  );
  app.openapi(
    getMerchantSigning,
    async (c) => {
      const merchant = await deps.merchants.get(c.req.valid("param").id);
      if (!merchant) throw new AppError("merchant.unknown", "unknown merchant");
      c.header("cache-control", "no-store");
      return c.json(
        {
          merchant_id: merchant.id,
          status: merchant.status,
          sign_scheme: merchant.signScheme,
          secret_key: merchant.secretKey,
        },
        200,
      );
    },
    validationHook({ notFound: { code: "merchant.unknown", message: "unknown merchant" } }),
  );
}

/** Our public key, for merchants that verify RSA signatures on responses and notifications. */
export function registerPlatformKey(app: PaymentApiApp, deps: ApiDeps): void {
  app.openapi(getPlatformKey, (c) =>
    c.json({ algorithm: "RSA_SHA256" as const, public_key: deps.env.PLATFORM_SIGNING_PUBLIC_KEY }, 200),
  );
}
