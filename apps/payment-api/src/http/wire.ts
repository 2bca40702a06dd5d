import { z } from "zod";
import { isCurrencyCode } from "@pps/money";

/** Wire schemas (snake_case, strict: unknown fields are refused). Domain and storage types are mapped from these. */

const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    // Control characters have no business in these fields and break downstream formats.
    .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");

const httpUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0 && !u.username && !u.password;
    } catch {
      return false;
    }
  }, "must be an absolute http(s) URL without credentials");

export const SUPPORTED_PRODUCTS = ["online_banking", "platform_pay", "foreign_card", "carrier_billing"] as const;

export const payerSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.:@-]{1,64}$/, "1 to 64 of [A-Za-z0-9_.:@-]"),
  ip: z.union([z.ipv4(), z.ipv6()]).optional(),
  device_id: z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/, "1 to 128 of [A-Za-z0-9_.:-]").optional(),
  phone: z.string().regex(/^\+?[1-9][0-9]{6,14}$/, "an E.164 phone number").optional(),
});

export const methodSchema = z.strictObject({
  bank_code: z.string().regex(/^[A-Z]{2,10}$/, "2 to 10 capital letters").optional(),
  card_type: z.enum(["debit", "credit"]).optional(),
  wallet: z.enum(["wechat", "alipay"]).optional(),
  flow: z.enum(["qr_code", "deeplink"]).optional(),
});

export const createPaymentSchema = z.strictObject({
  merchant_order_no: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of [A-Za-z0-9_-]"),
  product: z.enum(SUPPORTED_PRODUCTS),
  amount: z.number().int("must be an integer of minor units").positive().max(Number.MAX_SAFE_INTEGER),
  currency: z.string().refine((c) => /^[A-Z]{3}$/.test(c) && isCurrencyCode(c), "must be a supported ISO 4217 code"),
  subject: text(128),
  payer: payerSchema,
  method: methodSchema.default({}),
  notify_url: httpUrl,
  return_url: httpUrl,
  /** Seconds the payment may stay unpaid; defaults to the platform's setting. */
  expires_in: z.number().int().min(60).max(7 * 86_400).optional(),
  metadata: z
    .record(z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/), z.string().max(500))
    .refine((m) => Object.keys(m).length <= 20, "at most 20 keys")
    .default({}),
});
export type CreatePaymentRequest = z.infer<typeof createPaymentSchema>;

export const verifyPaymentSchema = z.strictObject({ code: z.string().regex(/^[0-9]{6}$/, "six digits") });

export const paymentIdSchema = z.string().regex(/^pay_[0-9A-Z]{26}$/);

const failureSchema = z.object({ code: z.string(), message: z.string().nullable() }).nullable();

/** The payment object returned by every payment call (documentation schema for the OpenAPI document). */
export const paymentResponseSchema = z.object({
  id: z.string(),
  object: z.literal("payment"),
  merchant_id: z.string(),
  merchant_order_no: z.string(),
  product: z.enum(SUPPORTED_PRODUCTS),
  amount: z.number().int(),
  currency: z.string(),
  subject: z.string(),
  status: z.enum(["awaiting_payment", "risk_review", "requires_verification", "processing", "requires_action", "succeeded", "failed", "expired", "canceled"]),
  version: z.number().int(),
  payer: z.object({ id: z.string() }),
  method: z.object({ bank_code: z.string().nullable(), card_type: z.string().nullable(), wallet: z.string().nullable(), flow: z.string().nullable() }),
  channel: z.string().nullable(),
  next_action: z
    .union([
      z.object({ type: z.literal("redirect"), url: z.string() }),
      z.object({ type: z.literal("qr_code"), payload: z.string(), deeplink: z.string().nullable() }),
      z.object({ type: z.literal("sms_confirmation"), phoneMasked: z.string() }),
    ])
    .nullable(),
  failure: failureSchema,
  settlement: z.object({ amount: z.number().int(), currency: z.string(), fxRate: z.string() }).nullable(),
  metadata: z.record(z.string(), z.string()),
  pay_url: z.string().optional().describe("Pre-orders only: the link the payer opens to pay."),
  expires_at: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const paymentDetailSchema = paymentResponseSchema.extend({
  attempts: z.array(
    z.object({ id: z.string(), attempt_no: z.number().int(), channel: z.string(), outcome: z.string(), channel_txn_id: z.string().nullable(), failure: failureSchema, updated_at: z.string() }),
  ),
  timeline: z.array(z.object({ from: z.string().nullable(), to: z.string(), version: z.number().int(), cause: z.string(), at: z.string() })),
});

export const errorResponseSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string(), details: z.unknown().optional() }),
});
