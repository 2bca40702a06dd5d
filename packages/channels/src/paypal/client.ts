import { createHash } from "node:crypto";
import { z } from "zod";
import { sign, verify } from "@pps/signing";
import {
  classifyAnswer,
  parseJson,
  header,
  headersToRecord,
  randomNonce,
  type ClientAnswer,
  type ResolvedOptions,
} from "../shared/adapter.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * paypal: a PayPal-like acquirer (REST JSON). Requests carry `PayPal-Request-Id` (idempotency: our attempt
 * id), `PayPal-Merchant-Id`, `PayPal-Auth-Time` and `PayPal-Auth-Signature` = hex HMAC-SHA256 of
 * `METHOD\npath?query\ntime\nbody`. Answers and webhooks carry `PayPal-Transmission-Id`, `-Time` and `-Sig`
 * = hex HMAC-SHA256 of `id|time|merchantId|sha256hex(body)`, with the same shared secret.
 */
export const PAYPAL_ORDER_STATUSES = [
  "CREATED",
  "SAVED",
  "PAYER_ACTION_REQUIRED",
  "APPROVED",
  "COMPLETED",
  "VOIDED",
] as const;
export type PaypalOrderStatus = (typeof PAYPAL_ORDER_STATUSES)[number];
export const PAYPAL_CAPTURE_STATUSES = [
  "COMPLETED",
  "DECLINED",
  "PENDING",
  "FAILED",
  "REFUNDED",
  "PARTIALLY_REFUNDED",
] as const;
export type PaypalCaptureStatus = (typeof PAYPAL_CAPTURE_STATUSES)[number];

const moneySchema = z.object({ currency_code: z.string(), value: z.string() });

export const paypalOrderSchema = z.object({
  id: z.string(),
  status: z.enum(PAYPAL_ORDER_STATUSES),
  status_details: z.object({ reason: z.string() }).optional(),
  create_time: z.string().optional(),
  update_time: z.string().optional(),
  purchase_units: z
    .array(
      z.object({
        reference_id: z.string(),
        custom_id: z.string().optional(),
        amount: moneySchema,
        payments: z
          .object({
            captures: z.array(
              z.object({
                id: z.string(),
                status: z.enum(PAYPAL_CAPTURE_STATUSES),
                status_details: z.object({ reason: z.string() }).optional(),
                amount: moneySchema,
                create_time: z.string().optional(),
                seller_receivable_breakdown: z
                  .object({
                    gross_amount: moneySchema,
                    exchange_rate: z
                      .object({ source_currency: z.string(), target_currency: z.string(), value: z.string() })
                      .optional(),
                    receivable_amount: moneySchema.optional(),
                  })
                  .optional(),
              }),
            ),
          })
          .optional(),
      }),
    )
    .min(1),
  links: z.array(z.object({ rel: z.string(), href: z.string(), method: z.string().optional() })).optional(),
});
export type PaypalOrder = z.infer<typeof paypalOrderSchema>;

export const paypalErrorSchema = z.object({
  name: z.string(),
  message: z.string().optional(),
  debug_id: z.string().optional(),
  details: z.array(z.object({ issue: z.string(), description: z.string().optional() })).optional(),
});
export type PaypalError = z.infer<typeof paypalErrorSchema>;

export const paypalWebhookSchema = z.object({
  id: z.string(),
  event_type: z.string(),
  create_time: z.string(),
  resource_type: z.string().optional(),
  resource: paypalOrderSchema,
});
export type PaypalWebhook = z.infer<typeof paypalWebhookSchema>;

export type PaypalAnswer = { status: number; order: PaypalOrder } | { status: number; error: PaypalError };

export const PAYPAL_BUSY_NAME = "SERVICE_UNAVAILABLE";

export function paypalRequestSignature(
  method: string,
  pathAndQuery: string,
  time: string,
  body: string,
  key: string,
): string {
  return sign("HMAC_SHA256", `${method}\n${pathAndQuery}\n${time}\n${body}`, key);
}

export function paypalTransmissionPayload(id: string, time: string, merchantId: string, body: string): string {
  return `${id}|${time}|${merchantId}|${createHash("sha256").update(body, "utf8").digest("hex")}`;
}

/** Verifies the transmission headers of an answer or a webhook. */
export function verifyPaypalTransmission(
  headers: Record<string, string>,
  body: string,
  merchantId: string,
  key: string,
): boolean {
  const id = header(headers, "paypal-transmission-id");
  const time = header(headers, "paypal-transmission-time");
  const sig = header(headers, "paypal-transmission-sig");
  if (!id || !time || !sig) return false;
  return verify("HMAC_SHA256", paypalTransmissionPayload(id, time, merchantId, body), sig, key);
}

export function createPaypalClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function send(
    method: "GET" | "POST",
    pathAndQuery: string,
    body: string,
    extraHeaders: Record<string, string>,
    timeoutMs: number,
  ): Promise<ClientAnswer<PaypalAnswer>> {
    const time = opts.now().toISOString();
    const headers: Record<string, string> = {
      ...extraHeaders,
      "paypal-merchant-id": endpoint.merchantId,
      "paypal-auth-time": time,
      "paypal-auth-signature": paypalRequestSignature(method, pathAndQuery, time, body, endpoint.signingKey),
      "paypal-auth-nonce": randomNonce(),
    };
    if (method === "POST") headers["content-type"] = "application/json";
    const res = await opts.call(
      { url: `${endpoint.baseUrl}${pathAndQuery}`, method, headers, body: method === "POST" ? body : undefined },
      timeoutMs,
    );
    return classifyAnswer<PaypalAnswer>(res, (a) => {
      if (!verifyPaypalTransmission(headersToRecord(a.headers), a.body, endpoint.merchantId, endpoint.verifyKey))
        return { ok: false, detail: "bad or missing transmission signature" };
      const parsedJson = parseJson(a.body);
      if (!parsedJson.ok) return { ok: false, detail: "not JSON" };
      const json = parsedJson.value;
      if (a.status < 300) {
        const order = paypalOrderSchema.safeParse(json);
        return order.success
          ? { ok: true, data: { status: a.status, order: order.data }, busy: false }
          : { ok: false, detail: "unexpected order shape" };
      }
      const error = paypalErrorSchema.safeParse(json);
      return error.success
        ? { ok: true, data: { status: a.status, error: error.data }, busy: error.data.name === PAYPAL_BUSY_NAME }
        : { ok: false, detail: "unexpected error shape" };
    });
  }

  return {
    createOrder: (body: string, requestId: string, timeoutMs: number) =>
      send("POST", "/paypal/v2/checkout/orders", body, { "paypal-request-id": requestId }, timeoutMs),
    getOrder: (ref: { attemptId: string; channelTxnId: string | null }, timeoutMs: number) =>
      send(
        "GET",
        ref.channelTxnId
          ? `/paypal/v2/checkout/orders/${encodeURIComponent(ref.channelTxnId)}`
          : `/paypal/v2/checkout/orders?reference_id=${encodeURIComponent(ref.attemptId)}`,
        "",
        {},
        timeoutMs,
      ),
    verifyWebhook(
      headers: Record<string, string>,
      rawBody: string,
    ): { ok: true; data: PaypalWebhook } | { ok: false; reason: "signature_invalid" | "malformed"; detail: string } {
      if (!verifyPaypalTransmission(headers, rawBody, endpoint.merchantId, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "transmission signature does not verify" };
      const parsedJson = parseJson(rawBody);
      if (!parsedJson.ok) return { ok: false, reason: "malformed", detail: "not JSON" };
      const json = parsedJson.value;
      const parsed = paypalWebhookSchema.safeParse(json);
      return parsed.success
        ? { ok: true, data: parsed.data }
        : { ok: false, reason: "malformed", detail: "unexpected webhook shape" };
    },
  };
}
