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
 *
 * Pre-authorization is Alipay's fund authorization (资金授权): the payer freezes the amount by scanning a
 * voucher QR code (alipay.fund.auth.order.voucher.create, auth_no names the freeze), the merchant turns it
 * into a trade (alipay.trade.pay with auth_no: 解冻转支付, the rest unfrozen) or unfreezes it
 * (alipay.fund.auth.order.unfreeze); alipay.fund.auth.operation.detail.query tells about either.
 */
export const ALIPAY_TRADE_STATUSES = ["WAIT_BUYER_PAY", "TRADE_SUCCESS", "TRADE_FINISHED", "TRADE_CLOSED"] as const;
export type AlipayTradeStatus = (typeof ALIPAY_TRADE_STATUSES)[number];

export const ALIPAY_BUSY_SUB_CODE = "ACQ.SYSTEM_BUSY";

/** A fund-authorization operation's status (freeze, unfreeze, pay) and the authorization order's. */
export const ALIPAY_AUTH_OPERATION_STATUSES = ["INIT", "SUCCESS", "CLOSED"] as const;
export type AlipayAuthOperationStatus = (typeof ALIPAY_AUTH_OPERATION_STATUSES)[number];
export const ALIPAY_AUTH_ORDER_STATUSES = ["INIT", "AUTHORIZED", "FINISH", "CLOSED"] as const;
export type AlipayAuthOrderStatus = (typeof ALIPAY_AUTH_ORDER_STATUSES)[number];

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
  trans_currency: opt,
  gmt_payment: opt,
  // Fund authorization (voucher.create, unfreeze, operation.detail.query).
  auth_no: opt,
  out_order_no: opt,
  operation_id: opt,
  operation_type: opt,
  status: z.enum(ALIPAY_AUTH_OPERATION_STATUSES).optional(),
  order_status: z.enum(ALIPAY_AUTH_ORDER_STATUSES).optional(),
  amount: opt,
  total_freeze_amount: opt,
  rest_amount: opt,
  total_pay_amount: opt,
  gmt_trans: opt,
  code_type: opt,
  code_value: opt,
  // Refunds (trade.refund, trade.fastpay.refund.query).
  out_request_no: opt,
  fund_change: opt,
  refund_fee: opt,
  send_back_fee: opt,
  refund_amount: opt,
  refund_status: opt,
  gmt_refund_pay: opt,
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
  trans_currency: opt,
  // Set on the notification that follows a refund: its request number, the trade's refunded total, this refund.
  out_biz_no: opt,
  refund_fee: opt,
  send_back_fee: opt,
  gmt_refund: opt,
  sign: z.string(),
});
export type AlipayNotification = z.infer<typeof alipayNotificationSchema>;

/** A fund-authorization notification: the freeze (notify_type fund_auth_freeze) or an unfreeze (fund_auth_unfreeze). */
export const alipayAuthNotificationSchema = z.object({
  notify_time: z.string(),
  notify_type: z.enum(["fund_auth_freeze", "fund_auth_unfreeze"]),
  notify_id: z.string(),
  app_id: z.string(),
  auth_no: z.string(),
  out_order_no: z.string(),
  operation_id: z.string(),
  out_request_no: z.string(),
  operation_type: z.string(),
  amount: z.string(),
  status: z.enum(ALIPAY_AUTH_OPERATION_STATUSES),
  order_status: z.enum(ALIPAY_AUTH_ORDER_STATUSES).optional(),
  rest_amount: opt,
  total_freeze_amount: opt,
  total_pay_amount: opt,
  trans_currency: opt,
  gmt_create: opt,
  gmt_trans: opt,
  close_reason: opt,
  sign: z.string(),
});
export type AlipayAuthNotification = z.infer<typeof alipayAuthNotificationSchema>;

export type VerifiedAlipayNotification =
  | { ok: true; kind: "trade"; data: AlipayNotification }
  | { ok: true; kind: "fund_auth"; data: AlipayAuthNotification }
  | { ok: false; reason: "signature_invalid" | "malformed"; detail: string };

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
    verifyNotification(rawBody: string): VerifiedAlipayNotification {
      const fields = Object.fromEntries(new URLSearchParams(rawBody));
      if (!alipayVerifyParams(fields, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "RSA2 sign does not verify" };
      const fundAuth = fields["notify_type"]?.startsWith("fund_auth_") === true;
      const parsed = fundAuth
        ? { kind: "fund_auth" as const, result: alipayAuthNotificationSchema.safeParse(fields) }
        : { kind: "trade" as const, result: alipayNotificationSchema.safeParse(fields) };
      if (!parsed.result.success)
        return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      if (parsed.result.data.app_id !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another app" };
      return parsed.kind === "fund_auth"
        ? { ok: true, kind: "fund_auth", data: parsed.result.data as AlipayAuthNotification }
        : { ok: true, kind: "trade", data: parsed.result.data as AlipayNotification };
    },
  };
}
