import { z } from "zod";
import { canonicalParams, sign, verify } from "@pps/signing";
import { classifyAnswer, parseJson, type ClientAnswer, type ResolvedOptions } from "../shared/adapter.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * unionpay: a card scheme gateway. JSON bodies both ways; each carries `signature` = base64 RSA-SHA256
 * (PKCS#1 v1.5) over `canonicalParams(fields)` (sorted k=v, empty values and `signature` left out).
 * We sign with our private key; UnionPay signs answers and notifications with its own private key.
 */

/** Transaction states (origRespCode in answers, respCode in notifications), ISO 8583 flavoured. */
export const UNIONPAY_TXN_CODES = ["00", "03", "04", "05", "51", "31", "32"] as const;
export type UnionPayTxnCode = (typeof UNIONPAY_TXN_CODES)[number];

export const UNIONPAY_BUSY_CODE = "96";

const opt = z.string().optional();

export const unionpayAnswerSchema = z.object({
  version: opt,
  respCode: z.string(),
  respMsg: opt,
  merId: opt,
  orderId: opt,
  queryId: opt,
  txnAmt: opt,
  currencyCode: opt,
  origRespCode: z.enum(UNIONPAY_TXN_CODES).optional(),
  origRespMsg: opt,
  payUrl: opt,
  traceTime: opt,
  signature: z.string(),
});
export type UnionPayAnswer = z.infer<typeof unionpayAnswerSchema>;

export const unionpayNotificationSchema = z.object({
  version: opt,
  merId: z.string(),
  orderId: z.string(),
  queryId: z.string(),
  txnAmt: z.string().regex(/^\d+$/),
  currencyCode: z.string(),
  respCode: z.enum(UNIONPAY_TXN_CODES),
  respMsg: opt,
  traceNo: z.string(),
  traceTime: z.string(),
  reqReserved: opt,
  signature: z.string(),
});
export type UnionPayNotification = z.infer<typeof unionpayNotificationSchema>;

export function signUnionPay(fields: Record<string, string>, privateKeyPem: string): Record<string, string> {
  return { ...fields, signature: sign("RSA_SHA256", canonicalParams(fields), privateKeyPem) };
}

export function verifyUnionPay(fields: Record<string, unknown>, publicKeyPem: string): boolean {
  const signature = fields["signature"];
  return typeof signature === "string" && verify("RSA_SHA256", canonicalParams(fields), signature, publicKeyPem);
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  const parsed = parseJson(text);
  return parsed.ok && typeof parsed.value === "object" && parsed.value !== null && !Array.isArray(parsed.value)
    ? (parsed.value as Record<string, unknown>)
    : null;
}

export function createUnionPayClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function post(
    path: string,
    fields: Record<string, string>,
    timeoutMs: number,
  ): Promise<ClientAnswer<UnionPayAnswer>> {
    const body = JSON.stringify(signUnionPay(fields, endpoint.signingKey));
    const res = await opts.call(
      { url: `${endpoint.baseUrl}${path}`, method: "POST", headers: { "content-type": "application/json" }, body },
      timeoutMs,
    );
    return classifyAnswer(res, (a) => {
      const json = parseJsonObject(a.body);
      if (!json) return { ok: false, detail: "not a JSON object" };
      if (!verifyUnionPay(json, endpoint.verifyKey)) return { ok: false, detail: "bad signature" };
      const parsed = unionpayAnswerSchema.safeParse(json);
      if (!parsed.success) return { ok: false, detail: "unexpected answer shape" };
      return { ok: true, data: parsed.data, busy: parsed.data.respCode === UNIONPAY_BUSY_CODE };
    });
  }

  return {
    pay: (fields: Record<string, string>, timeoutMs: number) => post("/unionpay/gateway/api/pay", fields, timeoutMs),
    query: (fields: Record<string, string>, timeoutMs: number) =>
      post("/unionpay/gateway/api/query", fields, timeoutMs),
    verifyNotification(
      rawBody: string,
    ):
      | { ok: true; data: UnionPayNotification }
      | { ok: false; reason: "signature_invalid" | "malformed"; detail: string } {
      const json = parseJsonObject(rawBody);
      if (!json) return { ok: false, reason: "malformed", detail: "not a JSON object" };
      if (!verifyUnionPay(json, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "RSA signature does not verify" };
      const parsed = unionpayNotificationSchema.safeParse(json);
      if (!parsed.success) return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      if (parsed.data.merId !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another merchant" };
      return { ok: true, data: parsed.data };
    },
  };
}
