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

/**
 * A refund's state (refundquery's refund_status_$n, the refund notification's refund_status): SUCCESS,
 * PROCESSING, CHANGE (退款异常: the money left the merchant but could not reach the payer's account; an
 * operator settles it at the merchant platform) and REFUNDCLOSE (closed, nothing returned).
 */
export const WECHAT_REFUND_STATUSES = ["SUCCESS", "PROCESSING", "CHANGE", "REFUNDCLOSE"] as const;
export type WechatRefundStatus = (typeof WECHAT_REFUND_STATUSES)[number];

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

/** The answer of /secapi/pay/refund: result_code SUCCESS means the refund was accepted, not that it is done. */
export const wechatRefundAnswerSchema = z.object({
  return_code: z.enum(["SUCCESS", "FAIL"]),
  return_msg: opt,
  mch_id: opt,
  result_code: z.enum(["SUCCESS", "FAIL"]).optional(),
  err_code: opt,
  err_code_des: opt,
  transaction_id: opt,
  out_trade_no: opt,
  out_refund_no: opt,
  refund_id: opt,
  refund_fee: opt,
  total_fee: opt,
  fee_type: opt,
  sign: z.string(),
});
export type WechatRefundAnswer = z.infer<typeof wechatRefundAnswerSchema>;

/**
 * The answer of /pay/refundquery. The refunds of the order come as indexed fields (out_refund_no_0,
 * refund_status_0, …, up to refund_count), so the schema keeps every field it does not name.
 */
export const wechatRefundQueryAnswerSchema = z.looseObject({
  return_code: z.enum(["SUCCESS", "FAIL"]),
  return_msg: opt,
  result_code: z.enum(["SUCCESS", "FAIL"]).optional(),
  err_code: opt,
  err_code_des: opt,
  transaction_id: opt,
  out_trade_no: opt,
  total_fee: opt,
  fee_type: opt,
  refund_count: opt,
  sign: z.string(),
});
export type WechatRefundQueryAnswer = z.infer<typeof wechatRefundQueryAnswerSchema> & Record<string, unknown>;

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

/**
 * A refund result notification. Real WeChat Pay encrypts these fields into `req_info` (AES-256-ECB keyed
 * with md5 of the API key) and does not sign the message; here they travel in the clear and signed like the
 * pay notification, which the simulator does too, so the same HMAC check covers both.
 */
export const wechatRefundNotificationSchema = z.object({
  return_code: z.literal("SUCCESS"),
  appid: opt,
  mch_id: z.string(),
  nonce_str: opt,
  transaction_id: z.string(),
  out_trade_no: z.string(),
  refund_id: z.string(),
  out_refund_no: z.string(),
  total_fee: opt,
  refund_fee: z.string().regex(/^\d+$/),
  fee_type: z.string(),
  refund_status: z.enum(WECHAT_REFUND_STATUSES),
  success_time: opt,
  refund_recv_accout: opt,
  refund_account: opt,
  refund_request_source: opt,
  notify_id: z.string(),
  sign: z.string(),
});
export type WechatRefundNotification = z.infer<typeof wechatRefundNotificationSchema>;

export type VerifiedWechatNotification =
  | { ok: true; kind: "pay"; data: WechatNotification }
  | { ok: true; kind: "refund"; data: WechatRefundNotification }
  | { ok: false; reason: "signature_invalid" | "malformed"; detail: string };

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
  async function post<T extends { err_code?: string | undefined }>(
    path: string,
    fields: Record<string, string>,
    schema: z.ZodType<T>,
    timeoutMs: number,
  ): Promise<ClientAnswer<T>> {
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
      const parsed = schema.safeParse(fieldsIn);
      if (!parsed.success) return { ok: false, detail: "unexpected answer shape" };
      return { ok: true, data: parsed.data, busy: parsed.data.err_code === WECHAT_BUSY_CODE };
    });
  }

  return {
    unifiedOrder: (fields: Record<string, string>, timeoutMs: number) =>
      post("/wechat/pay/unifiedorder", fields, wechatAnswerSchema, timeoutMs),
    orderQuery: (fields: Record<string, string>, timeoutMs: number) =>
      post("/wechat/pay/orderquery", fields, wechatAnswerSchema, timeoutMs),
    // The real /secapi/ path also wants the merchant's client certificate (mutual TLS): a transport matter.
    refund: (fields: Record<string, string>, timeoutMs: number) =>
      post("/wechat/secapi/pay/refund", fields, wechatRefundAnswerSchema, timeoutMs),
    refundQuery: (fields: Record<string, string>, timeoutMs: number) =>
      post(
        "/wechat/pay/refundquery",
        fields,
        wechatRefundQueryAnswerSchema as z.ZodType<WechatRefundQueryAnswer>,
        timeoutMs,
      ),
    verifyNotification(rawBody: string): VerifiedWechatNotification {
      const fields = parseFlatXml(rawBody);
      if (!fields) return { ok: false, reason: "malformed", detail: "not WeChat XML" };
      if (!wechatVerify(fields, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "HMAC-SHA256 sign does not match" };
      // A refund result names its refund; a payment result does not.
      const parsed =
        fields["out_refund_no"] !== undefined
          ? { kind: "refund" as const, result: wechatRefundNotificationSchema.safeParse(fields) }
          : { kind: "pay" as const, result: wechatNotificationSchema.safeParse(fields) };
      if (!parsed.result.success)
        return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      if (parsed.result.data.mch_id !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another merchant" };
      return parsed.kind === "refund"
        ? { ok: true, kind: "refund", data: parsed.result.data as WechatRefundNotification }
        : { ok: true, kind: "pay", data: parsed.result.data as WechatNotification };
    },
  };
}
