import { createPublicKey } from "node:crypto";
import { z } from "@hono/zod-openapi";
import { SIGN_FORMATS, SIGN_SCHEMES } from "@pps/signing";
import { LATE_SUCCESS_POLICIES } from "@pps/domain";
import { merchantIdSchema, payerIdSchema, text, timestampSchema } from "./common.ts";
import { productSchema } from "./payments.ts";

export const MERCHANT_STATUSES = ["active", "suspended", "closed"] as const;
export const PAYER_STATUSES = ["active", "frozen"] as const;

export const signSchemeSchema = z.enum(SIGN_SCHEMES).openapi("SignScheme");
export const signFormatSchema = z.enum(SIGN_FORMATS).openapi("SignFormat", {
  description:
    "v2 signs the exact method, path, query and body bytes (the default); legacy_params is the sorted k=v string, kept for merchants configured for it (docs/signing.md).",
});

/** An RSA public key in PEM (SPKI) that actually parses, so a merchant can never be onboarded with a key that cannot verify. */
const publicKeyPem = z
  .string()
  .max(8192)
  .refine((pem) => {
    if (!pem.includes("BEGIN PUBLIC KEY")) return false;
    try {
      const key = createPublicKey(pem);
      return key.asymmetricKeyType === "rsa" && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
    } catch {
      return false;
    }
  }, "must be a PEM RSA public key (SPKI, at least 2048 bits)");

export const lateSuccessPolicySchema = z.enum(LATE_SUCCESS_POLICIES).openapi("LateSuccessPolicy", {
  description:
    "What happens when a channel reports it took the money for a payment we had failed or expired: apply (the payment says succeeded) or refund (it also goes back in full at once). Either way you get payment.late_succeeded.",
});

export const createMerchantBody = z
  .strictObject({
    id: merchantIdSchema.optional(),
    name: text(128),
    sign_scheme: signSchemeSchema.default("HMAC_SHA256"),
    sign_format: signFormatSchema.default("v2"),
    public_key: publicKeyPem
      .optional()
      .openapi({ description: "RSA_SHA256 merchants: your public key; we verify your requests with it." }),
    enabled_products: z.array(productSchema).min(1),
    late_success_policy: lateSuccessPolicySchema.default("apply"),
  })
  .refine((m) => m.sign_scheme !== "RSA_SHA256" || m.public_key !== undefined, {
    message: "RSA_SHA256 merchants need public_key",
    path: ["public_key"],
  })
  .openapi("CreateMerchantRequest");

export const updateMerchantBody = z
  .strictObject({
    status: z.enum(MERCHANT_STATUSES).optional(),
    enabled_products: z.array(productSchema).min(1).optional(),
    sign_format: signFormatSchema.optional(),
    late_success_policy: lateSuccessPolicySchema.optional(),
  })
  .openapi("UpdateMerchantRequest");

export const merchantSchema = z
  .object({
    id: merchantIdSchema,
    name: z.string(),
    status: z.enum(MERCHANT_STATUSES),
    sign_scheme: signSchemeSchema,
    sign_format: signFormatSchema,
    enabled_products: z.array(productSchema),
    late_success_policy: lateSuccessPolicySchema,
    created_at: timestampSchema,
  })
  .openapi("Merchant");

export const createdMerchantSchema = merchantSchema
  .extend({ secret_key: z.string().openapi({ description: "Shown once: store it in your secret store." }) })
  .openapi("CreatedMerchant");

export const payerStatusBody = z
  .strictObject({ status: z.enum(PAYER_STATUSES), reason: text(256).optional() })
  .openapi("PayerStatusRequest");

export const payerStatusSchema = z.object({ id: payerIdSchema, status: z.enum(PAYER_STATUSES) }).openapi("PayerStatus");

export const merchantIdParams = z.object({ id: merchantIdSchema.openapi({ param: { name: "id", in: "path" } }) });
export const payerIdParams = z.object({ id: payerIdSchema.openapi({ param: { name: "id", in: "path" } }) });

export const merchantSigningSchema = z
  .object({
    merchant_id: merchantIdSchema,
    status: z.enum(MERCHANT_STATUSES),
    sign_scheme: signSchemeSchema,
    secret_key: z.string(),
  })
  .openapi("MerchantSigning");

export const platformKeySchema = z
  .object({ algorithm: z.literal("RSA_SHA256"), public_key: z.string() })
  .openapi("PlatformKey");
