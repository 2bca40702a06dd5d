import { createHash } from "node:crypto";
import { z } from "zod";
import { sign, verify } from "@pps/signing";
import {
  classifyAnswer,
  parseJson,
  header,
  headersToRecord,
  mapRestSuccess,
  randomNonce,
  readRestAnswer,
  type ClientAnswer,
  type ResolvedOptions,
  type RestAnswer,
} from "../shared/adapter.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * paypal: a PayPal-like acquirer (REST JSON). Requests carry `PayPal-Request-Id` (idempotency: our attempt
 * id for an order, our operation id for a capture, void or refund), `PayPal-Merchant-Id`, `PayPal-Auth-Time`
 * and `PayPal-Auth-Signature` = hex HMAC-SHA256 of `METHOD\npath?query\ntime\nbody`. Answers and webhooks
 * carry `PayPal-Transmission-Id`, `-Time` and `-Sig` = hex HMAC-SHA256 of `id|time|merchantId|sha256hex(body)`,
 * with the same shared secret.
 *
 * An order with intent AUTHORIZE ends COMPLETED with an authorization (held for the 3-day honour period),
 * captured (`/v2/payments/authorizations/{id}/capture`, once, final_capture) or voided (`…/void`); a capture
 * is refunded in parts (`/v2/payments/captures/{id}/refund`). Captures and refunds carry our operation id as
 * `invoice_id` as well, and PayPal echoes it in the resource.
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
export const PAYPAL_AUTHORIZATION_STATUSES = [
  "CREATED",
  "CAPTURED",
  "PARTIALLY_CAPTURED",
  "DENIED",
  "PENDING",
  "VOIDED",
  "EXPIRED",
] as const;
export type PaypalAuthorizationStatus = (typeof PAYPAL_AUTHORIZATION_STATUSES)[number];
export const PAYPAL_REFUND_STATUSES = ["COMPLETED", "PENDING", "FAILED", "CANCELLED"] as const;
export type PaypalRefundStatus = (typeof PAYPAL_REFUND_STATUSES)[number];

const moneySchema = z.object({ currency_code: z.string(), value: z.string() });
const statusDetails = z.object({ reason: z.string() }).optional();

export const paypalCaptureSchema = z.object({
  id: z.string(),
  status: z.enum(PAYPAL_CAPTURE_STATUSES),
  status_details: statusDetails,
  amount: moneySchema,
  invoice_id: z.string().optional(),
  final_capture: z.boolean().optional(),
  create_time: z.string().optional(),
  update_time: z.string().optional(),
  seller_receivable_breakdown: z
    .object({
      gross_amount: moneySchema,
      exchange_rate: z
        .object({ source_currency: z.string(), target_currency: z.string(), value: z.string() })
        .optional(),
      receivable_amount: moneySchema.optional(),
    })
    .optional(),
});
export type PaypalCapture = z.infer<typeof paypalCaptureSchema>;

export const paypalAuthorizationSchema = z.object({
  id: z.string(),
  status: z.enum(PAYPAL_AUTHORIZATION_STATUSES),
  status_details: statusDetails,
  amount: moneySchema,
  invoice_id: z.string().optional(),
  expiration_time: z.string().optional(),
  create_time: z.string().optional(),
  update_time: z.string().optional(),
});
export type PaypalAuthorization = z.infer<typeof paypalAuthorizationSchema>;

export const paypalRefundSchema = z.object({
  id: z.string(),
  status: z.enum(PAYPAL_REFUND_STATUSES),
  status_details: statusDetails,
  amount: moneySchema,
  invoice_id: z.string().optional(),
  note_to_payer: z.string().optional(),
  create_time: z.string().optional(),
  update_time: z.string().optional(),
});
export type PaypalRefund = z.infer<typeof paypalRefundSchema>;

export const paypalOrderSchema = z.object({
  id: z.string(),
  intent: z.enum(["CAPTURE", "AUTHORIZE"]).optional(),
  status: z.enum(PAYPAL_ORDER_STATUSES),
  status_details: statusDetails,
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
            authorizations: z.array(paypalAuthorizationSchema).optional(),
            captures: z.array(paypalCaptureSchema).optional(),
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

/** A webhook's envelope; its resource is an order, a capture, an authorization or a refund (by resource_type). */
export const paypalWebhookSchema = z.object({
  id: z.string(),
  event_type: z.string(),
  create_time: z.string(),
  resource_type: z.string().optional(),
  resource: z.unknown(),
});
export type PaypalWebhook = z.infer<typeof paypalWebhookSchema>;

export type PaypalAnswer = { status: number; order: PaypalOrder } | { status: number; error: PaypalError };
/** The answer of a call whose success is a resource of type T (capture, authorization, refund). */
export type PaypalResourceAnswer<T> = { status: number; resource: T } | { status: number; error: PaypalError };

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

type OrderRef = { attemptId: string; channelTxnId: string | null };
type Raw<T> = RestAnswer<T, PaypalError>;

const paypalError = { schema: paypalErrorSchema, busy: (e: PaypalError) => e.name === PAYPAL_BUSY_NAME };

export function createPaypalClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  /** One signed exchange; a 2xx answer is parsed by `success`, anything else as PayPal's error object. */
  async function send<T>(
    method: "GET" | "POST",
    pathAndQuery: string,
    body: string,
    extraHeaders: Record<string, string>,
    timeoutMs: number,
    success: { schema: z.ZodType<T>; what: string },
  ): Promise<ClientAnswer<Raw<T>>> {
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
    return classifyAnswer<Raw<T>>(res, (a) => {
      if (!verifyPaypalTransmission(headersToRecord(a.headers), a.body, endpoint.merchantId, endpoint.verifyKey))
        return { ok: false, detail: "bad or missing transmission signature" };
      const parsedJson = parseJson(a.body);
      if (!parsedJson.ok) return { ok: false, detail: "not JSON" };
      return readRestAnswer(a.status, parsedJson.value, success, paypalError);
    });
  }

  const order = { schema: paypalOrderSchema, what: "order" };
  const asOrder = (answer: ClientAnswer<Raw<PaypalOrder>>): ClientAnswer<PaypalAnswer> =>
    mapRestSuccess(answer, (status, value) => ({ status, order: value }));
  const asResource = <T>(answer: ClientAnswer<Raw<T>>): ClientAnswer<PaypalResourceAnswer<T>> =>
    mapRestSuccess(answer, (status, value) => ({ status, resource: value }));
  // Every operation is sent under our operation id as PayPal-Request-Id: a repeat returns the first result.
  const operationHeaders = (operationId: string) => ({
    "paypal-request-id": operationId,
    prefer: "return=representation",
  });

  return {
    createOrder: async (body: string, requestId: string, timeoutMs: number) =>
      asOrder(
        await send("POST", "/paypal/v2/checkout/orders", body, { "paypal-request-id": requestId }, timeoutMs, order),
      ),
    getOrder: async (ref: OrderRef, timeoutMs: number) =>
      asOrder(
        await send(
          "GET",
          ref.channelTxnId
            ? `/paypal/v2/checkout/orders/${encodeURIComponent(ref.channelTxnId)}`
            : `/paypal/v2/checkout/orders?reference_id=${encodeURIComponent(ref.attemptId)}`,
          "",
          {},
          timeoutMs,
          order,
        ),
      ),
    captureAuthorization: async (authorizationId: string, body: string, operationId: string, timeoutMs: number) =>
      asResource(
        await send(
          "POST",
          `/paypal/v2/payments/authorizations/${encodeURIComponent(authorizationId)}/capture`,
          body,
          operationHeaders(operationId),
          timeoutMs,
          { schema: paypalCaptureSchema, what: "capture" },
        ),
      ),
    voidAuthorization: async (authorizationId: string, operationId: string, timeoutMs: number) =>
      asResource(
        await send(
          "POST",
          `/paypal/v2/payments/authorizations/${encodeURIComponent(authorizationId)}/void`,
          "",
          operationHeaders(operationId),
          timeoutMs,
          { schema: paypalAuthorizationSchema, what: "authorization" },
        ),
      ),
    refundCapture: async (captureId: string, body: string, operationId: string, timeoutMs: number) =>
      asResource(
        await send(
          "POST",
          `/paypal/v2/payments/captures/${encodeURIComponent(captureId)}/refund`,
          body,
          operationHeaders(operationId),
          timeoutMs,
          { schema: paypalRefundSchema, what: "refund" },
        ),
      ),
    /**
     * A refund by our number (its invoice_id). PayPal itself looks refunds up by its own id only
     * (GET /v2/payments/refunds/{id}); the acquirer we integrate with also takes `invoice_id`, which is all we
     * hold after an answer we never read.
     */
    findRefund: async (operationId: string, timeoutMs: number) =>
      asResource(
        await send(
          "GET",
          `/paypal/v2/payments/refunds?invoice_id=${encodeURIComponent(operationId)}`,
          "",
          {},
          timeoutMs,
          { schema: paypalRefundSchema, what: "refund" },
        ),
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
