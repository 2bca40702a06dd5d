import { z } from "zod";
import { canonicalJson, canonicalParams, sign, verify } from "@pps/signing";
import { classifyAnswer, parseJson, type ClientAnswer, type ResolvedOptions } from "../shared/adapter.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * alipay: an Alipay open-platform-like gateway. One endpoint (`/alipay/gateway.do`), form-encoded common
 * parameters with the business fields as a JSON string in `biz_content`, `sign_type=RSA2`, and `sign` =
 * base64 RSA-SHA256 over `canonicalParams(params)` (sorted k=v; `sign`, `sign_type` and empty values left
 * out) with our private key. Answers are JSON `{ "<method>_response": {…}, "sign": "…" }`, signed by Alipay
 * over canonicalJson of the response object; notifications are form-encoded and signed like our requests.
 */
export const ALIPAY_TRADE_STATUSES = ["WAIT_BUYER_PAY", "TRADE_SUCCESS", "TRADE_FINISHED", "TRADE_CLOSED"] as const;
export type AlipayTradeStatus = (typeof ALIPAY_TRADE_STATUSES)[number];

export const ALIPAY_BUSY_SUB_CODE = "ACQ.SYSTEM_BUSY";

const opt = z.string().optional();

export const alipayResponseSchema = z.object({
  code: z.string(),
  msg: opt,
  sub_code: opt,
  sub_msg: opt,
  out_trade_no: opt,
  trade_no: opt,
  qr_code: opt,
  deeplink: opt,
  trade_status: z.enum(ALIPAY_TRADE_STATUSES).optional(),
  total_amount: opt,
  close_reason: opt,
  send_pay_date: opt,
});
export type AlipayResponse = z.infer<typeof alipayResponseSchema>;

export const alipayNotificationSchema = z.object({
  notify_time: z.string(),
  notify_type: z.string(),
  notify_id: z.string(),
  app_id: z.string(),
  trade_no: z.string(),
  out_trade_no: z.string(),
  trade_status: z.enum(ALIPAY_TRADE_STATUSES),
  total_amount: z.string(),
  gmt_payment: opt,
  gmt_close: opt,
  close_reason: opt,
  passback_params: opt,
  sign: z.string(),
});
export type AlipayNotification = z.infer<typeof alipayNotificationSchema>;

export function alipaySignParams(params: Record<string, string>, privateKeyPem: string): Record<string, string> {
  return { ...params, sign_type: "RSA2", sign: sign("RSA_SHA256", canonicalParams(params), privateKeyPem) };
}

export function alipayVerifyParams(params: Record<string, string>, publicKeyPem: string): boolean {
  const signature = params["sign"];
  return typeof signature === "string" && verify("RSA_SHA256", canonicalParams(params), signature, publicKeyPem);
}

/** The answer's response-object key for a method, e.g. alipay.trade.query → alipay_trade_query_response. */
export function responseKey(method: string): string {
  return `${method.replaceAll(".", "_")}_response`;
}

export function createAlipayClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function call(params: Record<string, string>, timeoutMs: number): Promise<ClientAnswer<AlipayResponse>> {
    const method = params["method"]!;
    const body = new URLSearchParams(alipaySignParams(params, endpoint.signingKey)).toString();
    const res = await opts.call(
      {
        url: `${endpoint.baseUrl}/alipay/gateway.do`,
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
        body,
      },
      timeoutMs,
    );
    return classifyAnswer(res, (a) => {
      const parsedJson = parseJson(a.body);
      if (!parsedJson.ok) return { ok: false, detail: "not JSON" };
      const json = parsedJson.value;
      if (typeof json !== "object" || json === null) return { ok: false, detail: "not a JSON object" };
      const envelope = json as Record<string, unknown>;
      const response = envelope[responseKey(method)];
      const signature = envelope["sign"];
      if (typeof signature !== "string" || response === undefined) return { ok: false, detail: "unsigned answer" };
      if (!verify("RSA_SHA256", canonicalJson(response), signature, endpoint.verifyKey))
        return { ok: false, detail: "bad signature" };
      const parsed = alipayResponseSchema.safeParse(response);
      if (!parsed.success) return { ok: false, detail: "unexpected answer shape" };
      return { ok: true, data: parsed.data, busy: parsed.data.sub_code === ALIPAY_BUSY_SUB_CODE };
    });
  }

  return {
    call,
    verifyNotification(
      rawBody: string,
    ):
      | { ok: true; data: AlipayNotification }
      | { ok: false; reason: "signature_invalid" | "malformed"; detail: string } {
      const fields = Object.fromEntries(new URLSearchParams(rawBody));
      if (!alipayVerifyParams(fields, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "RSA2 sign does not verify" };
      const parsed = alipayNotificationSchema.safeParse(fields);
      if (!parsed.success) return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      if (parsed.data.app_id !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another app" };
      return { ok: true, data: parsed.data };
    },
  };
}
