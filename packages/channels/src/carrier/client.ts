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
 * carrier: mobile carrier billing (JSON). Requests carry `X-Partner-Id`, `X-Timestamp` (epoch ms), `X-Nonce`
 * and `X-Signature` = hex HMAC-SHA256 of `timestamp\nMETHOD\npath?query\nbody`; answers and callbacks carry
 * `X-Timestamp` and `X-Signature` = hex HMAC-SHA256 of `timestamp\nbody`, with the same shared secret.
 *
 * Refunds (POST /carrier/v1/refunds, our request number as `partnerRefundId`) go back on the subscriber's
 * bill: small amounts only, within the bill period of the charge (its calendar month, Beijing time), one per
 * charge, answered at once. GET /carrier/v1/refunds?partnerRefundId= finds one by our number.
 */
export const CARRIER_CHARGE_STATUSES = [
  "PENDING_CONFIRMATION",
  "PROCESSING",
  "SUCCEEDED",
  "FAILED",
  "EXPIRED",
  "CANCELED",
] as const;
export type CarrierChargeStatus = (typeof CARRIER_CHARGE_STATUSES)[number];

export const CARRIER_BUSY_CODE = "SERVICE_BUSY";

export const carrierChargeSchema = z.object({
  chargeId: z.string(),
  partnerOrderId: z.string(),
  status: z.enum(CARRIER_CHARGE_STATUSES),
  amount: z.number().int(),
  currency: z.string(),
  msisdnMasked: z.string(),
  failureReason: z.string().nullable().optional(),
  failureMessage: z.string().nullable().optional(),
  createdAt: z.string(),
  completedAt: z.string().nullable().optional(),
});
export type CarrierCharge = z.infer<typeof carrierChargeSchema>;

export const carrierErrorSchema = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });
export type CarrierError = z.infer<typeof carrierErrorSchema>;

export const carrierEventSchema = z.object({
  eventId: z.string(),
  eventTime: z.string(),
  partnerId: z.string(),
  charge: carrierChargeSchema,
});
export type CarrierEvent = z.infer<typeof carrierEventSchema>;

export const CARRIER_REFUND_STATUSES = ["PROCESSING", "SUCCEEDED", "FAILED"] as const;
export type CarrierRefundStatus = (typeof CARRIER_REFUND_STATUSES)[number];

export const carrierRefundSchema = z.object({
  refundId: z.string(),
  partnerRefundId: z.string(),
  chargeId: z.string(),
  partnerOrderId: z.string(),
  status: z.enum(CARRIER_REFUND_STATUSES),
  amount: z.number().int(),
  currency: z.string(),
  /** The bill the refund goes back on (YYYY-MM, Beijing time). */
  billPeriod: z.string().optional(),
  failureReason: z.string().nullable().optional(),
  failureMessage: z.string().nullable().optional(),
  createdAt: z.string(),
  completedAt: z.string().nullable().optional(),
});
export type CarrierRefund = z.infer<typeof carrierRefundSchema>;

/** A refund's result told by event (the same envelope as a charge's, with `refund` instead of `charge`). */
export const carrierRefundEventSchema = z.object({
  eventId: z.string(),
  eventTime: z.string(),
  partnerId: z.string(),
  refund: carrierRefundSchema,
});
export type CarrierRefundEvent = z.infer<typeof carrierRefundEventSchema>;

export type CarrierAnswer =
  | { status: number; charge: CarrierCharge }
  | { status: number; error: CarrierError["error"] };
export type CarrierRefundAnswer =
  | { status: number; refund: CarrierRefund }
  | { status: number; error: CarrierError["error"] };

export function carrierRequestSignature(
  timestamp: string,
  method: string,
  pathAndQuery: string,
  body: string,
  key: string,
): string {
  return sign("HMAC_SHA256", `${timestamp}\n${method}\n${pathAndQuery}\n${body}`, key);
}

export function carrierMessageSignature(timestamp: string, body: string, key: string): string {
  return sign("HMAC_SHA256", `${timestamp}\n${body}`, key);
}

export function verifyCarrierMessage(headers: Record<string, string>, body: string, key: string): boolean {
  const ts = header(headers, "x-timestamp");
  const sig = header(headers, "x-signature");
  return !!ts && !!sig && verify("HMAC_SHA256", `${ts}\n${body}`, sig, key);
}

type Raw<T> = RestAnswer<T, CarrierError["error"]>;

/** The carrier's error answer, read as its error object. */
const carrierError = {
  schema: carrierErrorSchema.transform((e) => e.error),
  busy: (e: CarrierError["error"]) => e.code === CARRIER_BUSY_CODE,
};

export function createCarrierClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  /** One signed exchange; a 2xx answer is parsed by `success`, anything else as the carrier's error object. */
  async function send<T>(
    method: "GET" | "POST",
    pathAndQuery: string,
    body: string,
    timeoutMs: number,
    success: { schema: z.ZodType<T>; what: string },
  ): Promise<ClientAnswer<Raw<T>>> {
    const ts = String(opts.now().getTime());
    const headers: Record<string, string> = {
      "x-partner-id": endpoint.merchantId,
      "x-timestamp": ts,
      "x-nonce": randomNonce(),
      "x-signature": carrierRequestSignature(ts, method, pathAndQuery, body, endpoint.signingKey),
    };
    if (method === "POST") headers["content-type"] = "application/json";
    const res = await opts.call(
      { url: `${endpoint.baseUrl}${pathAndQuery}`, method, headers, body: method === "POST" ? body : undefined },
      timeoutMs,
    );
    return classifyAnswer<Raw<T>>(res, (a) => {
      if (!verifyCarrierMessage(headersToRecord(a.headers), a.body, endpoint.verifyKey))
        return { ok: false, detail: "bad or missing signature" };
      const parsedJson = parseJson(a.body);
      if (!parsedJson.ok) return { ok: false, detail: "not JSON" };
      return readRestAnswer(a.status, parsedJson.value, success, carrierError);
    });
  }

  const charge = { schema: carrierChargeSchema, what: "charge" };
  const refund = { schema: carrierRefundSchema, what: "refund" };
  const asCharge = (answer: ClientAnswer<Raw<CarrierCharge>>): ClientAnswer<CarrierAnswer> =>
    mapRestSuccess(answer, (status, value) => ({ status, charge: value }));
  const asRefund = (answer: ClientAnswer<Raw<CarrierRefund>>): ClientAnswer<CarrierRefundAnswer> =>
    mapRestSuccess(answer, (status, value) => ({ status, refund: value }));

  return {
    createCharge: async (body: string, timeoutMs: number) =>
      asCharge(await send("POST", "/carrier/v1/charges", body, timeoutMs, charge)),
    getCharge: async (ref: { attemptId: string; channelTxnId: string | null }, timeoutMs: number) =>
      asCharge(
        await send(
          "GET",
          ref.channelTxnId
            ? `/carrier/v1/charges/${encodeURIComponent(ref.channelTxnId)}`
            : `/carrier/v1/charges?partnerOrderId=${encodeURIComponent(ref.attemptId)}`,
          "",
          timeoutMs,
          charge,
        ),
      ),
    createRefund: async (body: string, timeoutMs: number) =>
      asRefund(await send("POST", "/carrier/v1/refunds", body, timeoutMs, refund)),
    getRefund: async (partnerRefundId: string, timeoutMs: number) =>
      asRefund(
        await send(
          "GET",
          `/carrier/v1/refunds?partnerRefundId=${encodeURIComponent(partnerRefundId)}`,
          "",
          timeoutMs,
          refund,
        ),
      ),
    verifyEvent(
      headers: Record<string, string>,
      rawBody: string,
    ):
      | { ok: true; kind: "charge"; data: CarrierEvent }
      | { ok: true; kind: "refund"; data: CarrierRefundEvent }
      | { ok: false; reason: "signature_invalid" | "malformed"; detail: string } {
      if (!verifyCarrierMessage(headers, rawBody, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "X-Signature does not verify" };
      const parsedJson = parseJson(rawBody);
      if (!parsedJson.ok) return { ok: false, reason: "malformed", detail: "not JSON" };
      const json = parsedJson.value;
      const chargeEvent = carrierEventSchema.safeParse(json);
      const refundEvent = carrierRefundEventSchema.safeParse(json);
      const event = chargeEvent.success
        ? ({ ok: true, kind: "charge", data: chargeEvent.data } as const)
        : refundEvent.success
          ? ({ ok: true, kind: "refund", data: refundEvent.data } as const)
          : null;
      if (!event) return { ok: false, reason: "malformed", detail: "unexpected event shape" };
      if (event.data.partnerId !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "event for another partner" };
      return event;
    },
  };
}
