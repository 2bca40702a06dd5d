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
 * carrier: mobile carrier billing (JSON). Requests carry `X-Partner-Id`, `X-Timestamp` (epoch ms), `X-Nonce`
 * and `X-Signature` = hex HMAC-SHA256 of `timestamp\nMETHOD\npath?query\nbody`; answers and callbacks carry
 * `X-Timestamp` and `X-Signature` = hex HMAC-SHA256 of `timestamp\nbody`, with the same shared secret.
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

export type CarrierAnswer =
  | { status: number; charge: CarrierCharge }
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

export function createCarrierClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function send(
    method: "GET" | "POST",
    pathAndQuery: string,
    body: string,
    timeoutMs: number,
  ): Promise<ClientAnswer<CarrierAnswer>> {
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
    return classifyAnswer<CarrierAnswer>(res, (a) => {
      if (!verifyCarrierMessage(headersToRecord(a.headers), a.body, endpoint.verifyKey))
        return { ok: false, detail: "bad or missing signature" };
      const parsedJson = parseJson(a.body);
      if (!parsedJson.ok) return { ok: false, detail: "not JSON" };
      const json = parsedJson.value;
      if (a.status < 300) {
        const charge = carrierChargeSchema.safeParse(json);
        return charge.success
          ? { ok: true, data: { status: a.status, charge: charge.data }, busy: false }
          : { ok: false, detail: "unexpected charge shape" };
      }
      const error = carrierErrorSchema.safeParse(json);
      return error.success
        ? {
            ok: true,
            data: { status: a.status, error: error.data.error },
            busy: error.data.error.code === CARRIER_BUSY_CODE,
          }
        : { ok: false, detail: "unexpected error shape" };
    });
  }

  return {
    createCharge: (body: string, timeoutMs: number) => send("POST", "/carrier/v1/charges", body, timeoutMs),
    getCharge: (ref: { attemptId: string; channelTxnId: string | null }, timeoutMs: number) =>
      send(
        "GET",
        ref.channelTxnId
          ? `/carrier/v1/charges/${encodeURIComponent(ref.channelTxnId)}`
          : `/carrier/v1/charges?partnerOrderId=${encodeURIComponent(ref.attemptId)}`,
        "",
        timeoutMs,
      ),
    verifyEvent(
      headers: Record<string, string>,
      rawBody: string,
    ): { ok: true; data: CarrierEvent } | { ok: false; reason: "signature_invalid" | "malformed"; detail: string } {
      if (!verifyCarrierMessage(headers, rawBody, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "X-Signature does not verify" };
      const parsedJson = parseJson(rawBody);
      if (!parsedJson.ok) return { ok: false, reason: "malformed", detail: "not JSON" };
      const json = parsedJson.value;
      const parsed = carrierEventSchema.safeParse(json);
      if (!parsed.success) return { ok: false, reason: "malformed", detail: "unexpected event shape" };
      if (parsed.data.partnerId !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "event for another partner" };
      return { ok: true, data: parsed.data };
    },
  };
}
