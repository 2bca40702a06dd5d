import { z } from "zod";
import { canonicalParams, sign, verify } from "@pps/signing";
import { classifyAnswer, type ClientAnswer, type ResolvedOptions } from "../shared/adapter.ts";
import { parseFlatXml, toFlatXml } from "../shared/xml.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * wechat: a WeChat Pay v2-like platform. Flat XML both ways (`<xml><k><![CDATA[v]]></k>…</xml>`); every
 * message carries `sign` = uppercase hex HMAC-SHA256, keyed with the API key, of
 * `canonicalParams(fields) + "&key=" + apiKey` (sorted k=v, empty values, `sign` and `sign_type` left out).
 */
export const WECHAT_TRADE_STATES = [
  "SUCCESS",
  "REFUND",
  "NOTPAY",
  "CLOSED",
  "REVOKED",
  "USERPAYING",
  "PAYERROR",
] as const;
export type WechatTradeState = (typeof WECHAT_TRADE_STATES)[number];

export const WECHAT_BUSY_CODE = "SYSTEMBUSY";

const opt = z.string().optional();

export const wechatAnswerSchema = z.object({
  return_code: z.enum(["SUCCESS", "FAIL"]),
  return_msg: opt,
  appid: opt,
  mch_id: opt,
  nonce_str: opt,
  result_code: z.enum(["SUCCESS", "FAIL"]).optional(),
  err_code: opt,
  err_code_des: opt,
  trade_type: opt,
  prepay_id: opt,
  code_url: opt,
  deeplink: opt,
  transaction_id: opt,
  out_trade_no: opt,
  trade_state: z.enum(WECHAT_TRADE_STATES).optional(),
  trade_state_desc: opt,
  total_fee: opt,
  fee_type: opt,
  time_end: opt,
  sign: z.string(),
});
export type WechatAnswer = z.infer<typeof wechatAnswerSchema>;

export const wechatNotificationSchema = z.object({
  return_code: z.literal("SUCCESS"),
  appid: opt,
  mch_id: z.string(),
  nonce_str: opt,
  result_code: z.enum(["SUCCESS", "FAIL"]),
  err_code: opt,
  err_code_des: opt,
  out_trade_no: z.string(),
  transaction_id: z.string(),
  total_fee: z.string().regex(/^\d+$/),
  fee_type: z.string(),
  time_end: z.string(),
  trade_state: z.enum(WECHAT_TRADE_STATES),
  attach: opt,
  notify_id: z.string(),
  sign: z.string(),
});
export type WechatNotification = z.infer<typeof wechatNotificationSchema>;

export function wechatSign(fields: Record<string, string>, apiKey: string): string {
  return sign("HMAC_SHA256", `${canonicalParams(fields)}&key=${apiKey}`, apiKey).toUpperCase();
}

export function wechatVerify(fields: Record<string, string>, apiKey: string): boolean {
  const signature = fields["sign"];
  return (
    typeof signature === "string" &&
    verify("HMAC_SHA256", `${canonicalParams(fields)}&key=${apiKey}`, signature, apiKey)
  );
}

export function createWechatClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function post(
    path: string,
    fields: Record<string, string>,
    timeoutMs: number,
  ): Promise<ClientAnswer<WechatAnswer>> {
    const signed = { ...fields, sign_type: "HMAC-SHA256" };
    const body = toFlatXml({ ...signed, sign: wechatSign(signed, endpoint.signingKey) });
    const res = await opts.call(
      {
        url: `${endpoint.baseUrl}${path}`,
        method: "POST",
        headers: { "content-type": "text/xml; charset=utf-8" },
        body,
      },
      timeoutMs,
    );
    return classifyAnswer(res, (a) => {
      const fieldsIn = parseFlatXml(a.body);
      if (!fieldsIn) return { ok: false, detail: "not WeChat XML" };
      if (!wechatVerify(fieldsIn, endpoint.verifyKey)) return { ok: false, detail: "bad signature" };
      const parsed = wechatAnswerSchema.safeParse(fieldsIn);
      if (!parsed.success) return { ok: false, detail: "unexpected answer shape" };
      return { ok: true, data: parsed.data, busy: parsed.data.err_code === WECHAT_BUSY_CODE };
    });
  }

  return {
    unifiedOrder: (fields: Record<string, string>, timeoutMs: number) =>
      post("/wechat/pay/unifiedorder", fields, timeoutMs),
    orderQuery: (fields: Record<string, string>, timeoutMs: number) =>
      post("/wechat/pay/orderquery", fields, timeoutMs),
    verifyNotification(
      rawBody: string,
    ):
      | { ok: true; data: WechatNotification }
      | { ok: false; reason: "signature_invalid" | "malformed"; detail: string } {
      const fields = parseFlatXml(rawBody);
      if (!fields) return { ok: false, reason: "malformed", detail: "not WeChat XML" };
      if (!wechatVerify(fields, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "HMAC-SHA256 sign does not match" };
      const parsed = wechatNotificationSchema.safeParse(fields);
      if (!parsed.success) return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      if (parsed.data.mch_id !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another merchant" };
      return { ok: true, data: parsed.data };
    },
  };
}
