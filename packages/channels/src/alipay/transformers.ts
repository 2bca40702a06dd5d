import { fromDecimalString, toDecimalString, type Money } from "@pps/money";
import { encodePassthrough } from "../shared/adapter.ts";
import { assertNever, failed, unknown, type FailureCode } from "../shared/outcomes.ts";
import { fromChinaTime, toChinaDateTime } from "../shared/time.ts";
import type {
  CallbackResult,
  ChannelEndpoint,
  ChannelOutcome,
  ParsedCallback,
  PayRequest,
  QueryOutcome,
} from "../types.ts";
import type { AlipayNotification, AlipayResponse, AlipayTradeStatus } from "./client.ts";

export const ALIPAY_PRECREATE = "alipay.trade.precreate";
export const ALIPAY_QUERY = "alipay.trade.query";

function common(endpoint: ChannelEndpoint, method: string, now: Date): Record<string, string> {
  return {
    app_id: endpoint.merchantId,
    method,
    format: "JSON",
    charset: "utf-8",
    timestamp: toChinaDateTime(now),
    version: "1.0",
  };
}

export function toAlipayPrecreateParams(req: PayRequest, endpoint: ChannelEndpoint, now: Date): Record<string, string> {
  const biz = {
    out_trade_no: req.attemptId,
    total_amount: toDecimalString({ amount: req.amount, currency: req.currency } as Money),
    trans_currency: req.currency,
    subject: req.subject,
    // A QR code for a PC checkout, an app hand-off on the phone.
    product_code: req.method.flow === "deeplink" ? "QUICK_MSECURITY_PAY" : "FACE_TO_FACE_PAYMENT",
    time_expire: toChinaDateTime(new Date(req.expiresAt)),
    passback_params: encodePassthrough(req.metadata),
  };
  return { ...common(endpoint, ALIPAY_PRECREATE, now), notify_url: req.callbackUrl, biz_content: JSON.stringify(biz) };
}

export function toAlipayQueryParams(
  ref: { attemptId: string; channelTxnId: string | null },
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  const biz = ref.channelTxnId ? { trade_no: ref.channelTxnId } : { out_trade_no: ref.attemptId };
  return { ...common(endpoint, ALIPAY_QUERY, now), biz_content: JSON.stringify(biz) };
}

/** Why a trade closed (sub_code on answers, close_reason on closed trades) → our code. */
export function alipayFailureCode(reason: string | undefined): FailureCode {
  switch (reason) {
    case "ACQ.BUYER_BALANCE_NOT_ENOUGH":
      return "insufficient_funds";
    case "ACQ.PAYMENT_FAIL":
      return "card_declined";
    case "USER_CANCELED":
      return "payer_canceled";
    default:
      return "expired";
  }
}

function msg(r: {
  code?: string | undefined;
  msg?: string | undefined;
  sub_code?: string | undefined;
  sub_msg?: string | undefined;
  close_reason?: string | undefined;
}): string {
  return [r.code, r.msg, r.sub_code, r.sub_msg, r.close_reason].filter(Boolean).join(" ");
}

export function alipayStatusToOutcome(status: AlipayTradeStatus, r: AlipayResponse, tradeNo: string): ChannelOutcome {
  switch (status) {
    case "WAIT_BUYER_PAY":
      return r.qr_code
        ? {
            status: "requires_action",
            channelTxnId: tradeNo,
            action: { type: "qr_code", payload: r.qr_code, deeplink: r.deeplink ?? null },
          }
        : { status: "pending", channelTxnId: tradeNo };
    case "TRADE_SUCCESS":
    case "TRADE_FINISHED":
      return { status: "succeeded", channelTxnId: tradeNo, settlement: null };
    case "TRADE_CLOSED":
      return failed(alipayFailureCode(r.close_reason), msg(r), tradeNo);
    default:
      return assertNever(status, "alipay trade_status");
  }
}

export function alipayPrecreateOutcome(r: AlipayResponse): ChannelOutcome {
  switch (r.code) {
    case "10000":
      if (!r.trade_no) return unknown("alipay answered 10000 without trade_no");
      return alipayStatusToOutcome(r.trade_status ?? "WAIT_BUYER_PAY", r, r.trade_no);
    case "40002": // invalid parameters, including our signature
    case "40006": // insufficient permissions
      return failed("channel_rejected", msg(r));
    case "40004":
      switch (r.sub_code) {
        case "ACQ.BUYER_BALANCE_NOT_ENOUGH":
        case "ACQ.PAYMENT_FAIL":
          return failed(alipayFailureCode(r.sub_code), msg(r), r.trade_no ?? null);
        case "ACQ.CURRENCY_NOT_SUPPORT":
          return failed("currency_not_supported", msg(r));
        case "ACQ.INVALID_PARAMETER":
          return failed("channel_rejected", msg(r));
        case "ACQ.TRADE_HAS_SUCCESS":
          return r.trade_no ? { status: "succeeded", channelTxnId: r.trade_no, settlement: null } : unknown(msg(r));
        default:
          // ACQ.CONTEXT_INCONSISTENT (reference reused with other parameters) and anything new.
          return unknown(`alipay ${msg(r)}`);
      }
    case "20000":
      return r.sub_code === "ACQ.SYSTEM_BUSY" ? failed("channel_unavailable", msg(r)) : unknown(`alipay ${msg(r)}`);
    default:
      return unknown(`alipay ${msg(r)}`);
  }
}

export function alipayQueryOutcome(r: AlipayResponse): QueryOutcome {
  if (r.code === "10000") {
    if (!r.trade_no || !r.trade_status) return unknown("alipay query answered without trade_no or trade_status");
    return alipayStatusToOutcome(r.trade_status, r, r.trade_no);
  }
  if (r.code === "40004" && r.sub_code === "ACQ.TRADE_NOT_EXIST") return { status: "not_found" };
  return unknown(`alipay query ${msg(r)}`);
}

export function alipayNotificationToCallback(n: AlipayNotification): ParsedCallback {
  let amount: Money;
  try {
    amount = fromDecimalString(n.total_amount, "CNY");
  } catch {
    return { ok: false, reason: "malformed", detail: `bad total_amount ${n.total_amount}` };
  }
  const occurredAt = fromChinaTime(n.gmt_payment ?? n.gmt_close ?? n.notify_time);
  if (!occurredAt) return { ok: false, reason: "malformed", detail: "bad gmt_payment/notify_time" };
  const base: Omit<CallbackResult, "status" | "failureCode" | "failureMessage"> = {
    channel: "alipay",
    attemptId: n.out_trade_no,
    channelTxnId: n.trade_no,
    amount: amount.amount,
    currency: amount.currency,
    settlement: null,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.notify_id,
  };
  const status = n.trade_status;
  switch (status) {
    case "TRADE_SUCCESS":
    case "TRADE_FINISHED":
      return { ok: true, result: { ...base, status: "succeeded", failureCode: null, failureMessage: null } };
    case "TRADE_CLOSED":
      return {
        ok: true,
        result: {
          ...base,
          status: "failed",
          failureCode: alipayFailureCode(n.close_reason),
          failureMessage: `TRADE_CLOSED ${n.close_reason ?? ""}`.trim(),
        },
      };
    case "WAIT_BUYER_PAY":
      return { ok: false, reason: "not_final", detail: `trade_status ${status}` };
    default:
      return assertNever(status, "alipay trade_status");
  }
}
