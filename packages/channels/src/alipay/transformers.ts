import type { Money } from "@pps/money";
import { CHANNEL_FLOWS } from "../flows.ts";
import { encodePassthrough } from "../shared/adapter.ts";
import { readDecimal, toDecimal } from "../shared/amounts.ts";
import {
  assertNever,
  failed,
  operationFailed,
  operationFailedCallback,
  operationSucceeded,
  operationSucceededCallback,
  operationUnknown,
  paymentAuthorizedCallback,
  paymentFailedCallback,
  paymentSucceededCallback,
  qrCodeOrPending,
  refusalOutcome,
  unknown,
  type FailureCode,
  type OperationCallbackBase,
  type PaymentCallbackBase,
} from "../shared/outcomes.ts";
import { fromChinaTime, toChinaDateTime } from "../shared/time.ts";
import type {
  ChannelEndpoint,
  ChannelOutcome,
  OperationFailureCode,
  OperationOutcome,
  OperationQueryOutcome,
  OperationRequest,
  ParsedCallback,
  PayRequest,
  QueryOutcome,
} from "../types.ts";
import type { AlipayAuthNotification, AlipayNotification, AlipayResponse, AlipayTradeStatus } from "./client.ts";

export const ALIPAY_PRECREATE = "alipay.trade.precreate";
export const ALIPAY_QUERY = "alipay.trade.query";
/** Pre-authorization: the payer freezes the amount by scanning the voucher's QR code. */
export const ALIPAY_FREEZE = "alipay.fund.auth.order.voucher.create";
/** Capture: 解冻转支付, a trade paid from the frozen funds, the rest unfrozen (auth_confirm_mode COMPLETE). */
export const ALIPAY_TRADE_PAY = "alipay.trade.pay";
/** Void: the frozen funds released. */
export const ALIPAY_UNFREEZE = "alipay.fund.auth.order.unfreeze";
/** One operation of a fund authorization (the freeze, an unfreeze) by its request number. */
export const ALIPAY_AUTH_QUERY = "alipay.fund.auth.operation.detail.query";
export const ALIPAY_REFUND = "alipay.trade.refund";
export const ALIPAY_REFUND_QUERY = "alipay.trade.fastpay.refund.query";

/**
 * Alipay's answers carry no expiry for a freeze: it holds for the channel's window from when it was made.
 * (An expiry a moment early is the safe side: we capture or void before it.)
 */
const FREEZE_WINDOW_MS = CHANNEL_FLOWS.alipay.authorize?.windowMs ?? 0;

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
    total_amount: toDecimal(req.amount, req.currency),
    trans_currency: req.currency,
    subject: req.subject,
    // A QR code for a PC checkout, an app hand-off on the phone.
    product_code: req.method.flow === "deeplink" ? "QUICK_MSECURITY_PAY" : "FACE_TO_FACE_PAYMENT",
    time_expire: toChinaDateTime(new Date(req.expiresAt)),
    passback_params: encodePassthrough(req.metadata),
  };
  return { ...common(endpoint, ALIPAY_PRECREATE, now), notify_url: req.callbackUrl, biz_content: JSON.stringify(biz) };
}

/**
 * Pay with capture later: a fund-authorization voucher under our attempt id, as both the authorization
 * order (out_order_no) and its freeze request (out_request_no). Our metadata rides in extra_param, the
 * voucher's passthrough.
 */
export function toAlipayFreezeParams(req: PayRequest, endpoint: ChannelEndpoint, now: Date): Record<string, string> {
  const minutes = Math.max(1, Math.ceil((new Date(req.expiresAt).getTime() - now.getTime()) / 60_000));
  const biz = {
    out_order_no: req.attemptId,
    out_request_no: req.attemptId,
    order_title: req.subject,
    amount: toDecimal(req.amount, req.currency),
    trans_currency: req.currency,
    product_code: "PRE_AUTH",
    timeout_express: `${minutes}m`,
    extra_param: JSON.stringify({ passback_params: encodePassthrough(req.metadata) }),
  };
  return { ...common(endpoint, ALIPAY_FREEZE, now), notify_url: req.callbackUrl, biz_content: JSON.stringify(biz) };
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

/** An amount in yuan as Alipay wrote it (in trans_currency when it names one, CNY otherwise); null when not one. */
function reportedAmount(value: string | undefined, currency: string | undefined): Money | null {
  const m = readDecimal(value, currency ?? "CNY");
  return m && m.amount > 0 ? m : null;
}

/** A paid trade, with what Alipay says it took: without total_amount it is not a success we can apply. */
function paidOutcome(r: AlipayResponse, tradeNo: string): ChannelOutcome {
  const paid = reportedAmount(r.total_amount, r.trans_currency);
  if (!paid) return unknown("alipay reported a paid trade without a total_amount");
  return { status: "succeeded", channelTxnId: tradeNo, amount: paid.amount, currency: paid.currency, settlement: null };
}

export function alipayStatusToOutcome(status: AlipayTradeStatus, r: AlipayResponse, tradeNo: string): ChannelOutcome {
  switch (status) {
    case "WAIT_BUYER_PAY":
      return qrCodeOrPending(tradeNo, r.qr_code, r.deeplink);
    case "TRADE_SUCCESS":
    case "TRADE_FINISHED":
      return paidOutcome(r, tradeNo);
    case "TRADE_CLOSED":
      // Alipay closes a trade refunded in full: it was paid (send_pay_date), and a payment query says so.
      return r.send_pay_date ? paidOutcome(r, tradeNo) : failed(alipayFailureCode(r.close_reason), msg(r), tradeNo);
    default:
      return assertNever(status, "alipay trade_status");
  }
}

export function alipayPrecreateOutcome(r: AlipayResponse): ChannelOutcome {
  if (r.code !== "10000") return alipayPayRefusal(r);
  if (!r.trade_no) return unknown("alipay answered 10000 without trade_no");
  return alipayStatusToOutcome(r.trade_status ?? "WAIT_BUYER_PAY", r, r.trade_no);
}

/** A pay-like request (precreate, voucher.create) that did not answer 10000. */
function alipayPayRefusal(r: AlipayResponse): ChannelOutcome {
  switch (r.code) {
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
          return r.trade_no ? paidOutcome(r, r.trade_no) : unknown(msg(r));
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
  if (n.out_biz_no && n.refund_fee) return alipayRefundNotificationToCallback(n, n.out_biz_no);
  const amount = reportedAmount(n.total_amount, n.trans_currency);
  if (!amount) return { ok: false, reason: "malformed", detail: `bad total_amount ${n.total_amount}` };
  const occurredAt = fromChinaTime(n.gmt_payment ?? n.gmt_close ?? n.notify_time);
  if (!occurredAt) return { ok: false, reason: "malformed", detail: "bad gmt_payment/notify_time" };
  const base: PaymentCallbackBase = {
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
      return paymentSucceededCallback(base);
    case "TRADE_CLOSED":
      return paymentFailedCallback(
        base,
        alipayFailureCode(n.close_reason),
        `TRADE_CLOSED ${n.close_reason ?? ""}`.trim(),
      );
    case "WAIT_BUYER_PAY":
      return { ok: false, reason: "not_final", detail: `trade_status ${status}` };
    default:
      return assertNever(status, "alipay trade_status");
  }
}

// ---- Pre-authorization: the fund authorization's freeze, as a payment ----

/** The fund-authorization query of the freeze our attempt made (the payment, for a manual capture). */
export function toAlipayFreezeQueryParams(
  ref: { attemptId: string; channelTxnId: string | null },
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return toAlipayAuthQueryParams(ref, ref.attemptId, "FREEZE", endpoint, now);
}

function toAlipayAuthQueryParams(
  ref: { attemptId: string; channelTxnId: string | null },
  requestNo: string,
  operationType: "FREEZE" | "UNFREEZE",
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  const biz = {
    out_order_no: ref.attemptId,
    ...(ref.channelTxnId ? { auth_no: ref.channelTxnId } : {}),
    out_request_no: requestNo,
    operation_type: operationType,
  };
  return { ...common(endpoint, ALIPAY_AUTH_QUERY, now), biz_content: JSON.stringify(biz) };
}

function freezeExpiry(gmtTrans: string | undefined): string | null {
  const at = gmtTrans ? fromChinaTime(gmtTrans) : null;
  return at ? new Date(at.getTime() + FREEZE_WINDOW_MS).toISOString() : null;
}

/** A freeze in its state (the voucher's answer, or the query of the freeze). */
export function alipayFreezeOutcome(r: AlipayResponse): ChannelOutcome {
  if (r.code !== "10000") return alipayPayRefusal(r);
  const authNo = r.auth_no;
  if (!authNo) return unknown("alipay answered 10000 without auth_no");
  switch (r.status ?? "INIT") {
    case "INIT":
      return qrCodeOrPending(authNo, r.code_value, r.deeplink);
    case "CLOSED":
      // The payer never froze the funds (gave up, or the voucher timed out).
      return failed(alipayFailureCode(r.close_reason), msg(r), authNo);
    case "SUCCESS":
      return frozenOutcome(r, authNo);
    default:
      return unknown(`alipay freeze status ${r.status}`);
  }
}

/** A freeze that succeeded: still held, turned into a trade (captured), or released. */
function frozenOutcome(r: AlipayResponse, authNo: string): ChannelOutcome {
  switch (r.order_status) {
    case "AUTHORIZED": {
      const held = reportedAmount(r.amount, r.trans_currency);
      const expiresAt = freezeExpiry(r.gmt_trans);
      if (!held || !expiresAt) return unknown("alipay reported a freeze without amount or gmt_trans");
      return { status: "authorized", channelTxnId: authNo, amount: held.amount, currency: held.currency, expiresAt };
    }
    case "FINISH":
    case "CLOSED": {
      const paid = reportedAmount(r.total_pay_amount, r.trans_currency);
      if (paid)
        return {
          status: "succeeded",
          channelTxnId: authNo,
          amount: paid.amount,
          currency: paid.currency,
          settlement: null,
        };
      // Released with nothing paid: unfrozen by us, or the window ran out. Our failure codes have no
      // "released by the merchant": expired is the nearest (as for the other channels), the message says which.
      return failed("expired", `authorization released with nothing paid: ${msg(r)}`, authNo);
    }
    default:
      return unknown(`alipay freeze order_status ${r.order_status ?? "(none)"}`);
  }
}

// ---- Operations: capture (trade.pay with auth_no), void (unfreeze), refund ----

/**
 * Capture: the trade Alipay makes of the freeze carries our attempt id as out_trade_no, so the payment is
 * named the same way at Alipay whether it was a sale or a capture (refunds and queries find it by it). The
 * trade is the capture's record: alipay.trade.pay has no request number of its own, and a payment is
 * captured once. No notify_url: the trade's notification would read as a second payment result.
 */
export function toAlipayCaptureParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  const biz = {
    out_trade_no: req.attemptId,
    auth_no: req.channelTxnId ?? "",
    product_code: "PREAUTH_PAY",
    auth_confirm_mode: "COMPLETE",
    total_amount: toDecimal(req.amount, req.currency),
    trans_currency: req.currency,
    subject: req.reason ?? "capture",
  };
  return { ...common(endpoint, ALIPAY_TRADE_PAY, now), biz_content: JSON.stringify(biz) };
}

export function toAlipayUnfreezeParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  const biz = {
    auth_no: req.channelTxnId ?? "",
    out_request_no: req.operationId,
    amount: toDecimal(req.amount, req.currency),
    remark: req.reason ?? "void",
  };
  return { ...common(endpoint, ALIPAY_UNFREEZE, now), biz_content: JSON.stringify(biz) };
}

/** The void's query: the unfreeze by its request number. */
export function toAlipayUnfreezeQueryParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return toAlipayAuthQueryParams(req, req.operationId, "UNFREEZE", endpoint, now);
}

/** The capture's query: the trade by our attempt id (alipay.trade.pay has no request number to query by). */
export function toAlipayCaptureQueryParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return { ...common(endpoint, ALIPAY_QUERY, now), biz_content: JSON.stringify({ out_trade_no: req.attemptId }) };
}

/** Refunds name the trade by our attempt id: a sale's and a capture's trade both carry it. */
export function toAlipayRefundParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  const biz = {
    out_trade_no: req.attemptId,
    refund_amount: toDecimal(req.amount, req.currency),
    out_request_no: req.operationId,
    ...(req.reason ? { refund_reason: req.reason } : {}),
  };
  return { ...common(endpoint, ALIPAY_REFUND, now), biz_content: JSON.stringify(biz) };
}

export function toAlipayRefundQueryParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  const biz = { out_trade_no: req.attemptId, out_request_no: req.operationId, query_options: ["gmt_refund_pay"] };
  return { ...common(endpoint, ALIPAY_REFUND_QUERY, now), biz_content: JSON.stringify(biz) };
}

/**
 * sub_code of a refused operation → our code; null for the ones after which it may be done under this
 * request number (a retry is asked for, or the number exists with other parameters) and those we do not
 * know. Trade methods use ACQ.* codes, fund-authorization methods their own.
 */
export function alipayOperationFailureCode(subCode: string | undefined): OperationFailureCode | null {
  switch (subCode) {
    case "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": // 退款金额超限
      return "amount_exceeds_refundable";
    case "ACQ.TRADE_HAS_FINISHED": // 交易已完结: past the refund period
      return "refund_window_closed";
    case "ACQ.AUTH_AMOUNT_NOT_ENOUGH":
    case "REQUEST_AMOUNT_EXCEED":
      return "amount_exceeds_authorized";
    case "ACQ.AUTH_ORDER_EXPIRED":
    case "AUTH_ORDER_EXPIRED":
      return "authorization_expired";
    case "ACQ.TRADE_STATUS_ERROR":
    case "ACQ.TRADE_HAS_CLOSE":
    case "ACQ.TRADE_NOT_ALLOW_REFUND":
    case "ORDER_ALREADY_CLOSED":
    case "ORDER_ALREADY_FINISH":
      return "invalid_state";
    case "ACQ.REFUND_TIMES_LIMIT":
      return "refund_limit_reached";
    case "ACQ.TRADE_NOT_SETTLED":
      return "not_settled";
    case "ACQ.TRADE_NOT_ALLOW_CANCEL":
      return "cancel_window_closed";
    case "ACQ.ACCESS_FORBIDDEN":
    case "ACCESS_FORBIDDEN":
      return "flow_not_supported";
    case "ACQ.TRADE_NOT_EXIST":
    case "AUTH_ORDER_NOT_EXIST":
    case "ACQ.INVALID_PARAMETER":
    case "ILLEGAL_ARGUMENT":
    case "ACQ.CURRENCY_NOT_SUPPORT":
    case "ACQ.SELLER_BALANCE_NOT_ENOUGH":
    case "ACQ.REASON_TRADE_BEEN_FREEZEN":
    case "ACQ.REASON_TRADE_REFUND_FEE_ERR":
    case "ACQ.PAYMENT_FAIL": // the trade from the freeze could not be paid
    case "UNFREEZE_FAILED":
      return "channel_rejected";
    default:
      // ACQ.SYSTEM_ERROR / SYSTEM_ERROR (retry with the same number), ACQ.DISCORDANT_REPEAT_REQUEST and
      // ACQ.CONTEXT_INCONSISTENT (the number exists with other parameters), ACQ.TRADE_HAS_SUCCESS, and new ones.
      return null;
  }
}

/** An operation request that did not answer 10000. */
function alipayOperationRefusal(r: AlipayResponse): OperationOutcome {
  switch (r.code) {
    case "40002": // invalid parameters, including our signature
      return operationFailed("channel_rejected", msg(r));
    case "40006": // no permission for this API: not signed up for the product
      return operationFailed("flow_not_supported", msg(r));
    case "40004":
      return refusalOutcome(alipayOperationFailureCode(r.sub_code), msg(r), `alipay ${msg(r)}`);
    case "20000":
      return r.sub_code === "ACQ.SYSTEM_BUSY"
        ? operationFailed("channel_unavailable", msg(r))
        : operationUnknown(`alipay ${msg(r)}`);
    default:
      return operationUnknown(`alipay ${msg(r)}`);
  }
}

function reportedOperation(
  value: string | undefined,
  currency: string | undefined,
  channelOpId: string | null,
  what: string,
): OperationOutcome {
  return operationSucceeded(channelOpId, reportedAmount(value, currency), `alipay reported ${what} without its amount`);
}

export function alipayCaptureOutcome(r: AlipayResponse, req: OperationRequest): OperationOutcome {
  if (r.code === "10003") return operationUnknown("alipay: trade waiting (10003), the trade query tells");
  if (r.code !== "10000") return alipayOperationRefusal(r);
  if (!r.trade_no || (r.out_trade_no && r.out_trade_no !== req.attemptId))
    return operationUnknown("alipay capture answered without our trade");
  return reportedOperation(r.total_amount, r.trans_currency, r.trade_no, "a capture");
}

/** The trade query, read for the capture that made the trade. */
export function alipayCaptureQueryOutcome(r: AlipayResponse): OperationQueryOutcome {
  if (r.code === "40004" && r.sub_code === "ACQ.TRADE_NOT_EXIST") return { status: "not_found" };
  if (r.code !== "10000" || !r.trade_no || !r.trade_status) return operationUnknown(`alipay capture query ${msg(r)}`);
  switch (r.trade_status) {
    case "TRADE_SUCCESS":
    case "TRADE_FINISHED":
      return reportedOperation(r.total_amount, r.trans_currency, r.trade_no, "a captured trade");
    case "TRADE_CLOSED":
      return r.send_pay_date
        ? reportedOperation(r.total_amount, r.trans_currency, r.trade_no, "a captured trade")
        : operationFailed("invalid_state", `capture trade closed unpaid: ${msg(r)}`);
    case "WAIT_BUYER_PAY":
      return { status: "pending", channelOpId: r.trade_no };
    default:
      return assertNever(r.trade_status, "alipay trade_status");
  }
}

export function alipayUnfreezeOutcome(r: AlipayResponse, req: OperationRequest): OperationOutcome {
  if (r.code !== "10000") return alipayOperationRefusal(r);
  return unfreezeState(r, req);
}

export function alipayUnfreezeQueryOutcome(r: AlipayResponse, req: OperationRequest): OperationQueryOutcome {
  if (r.code === "40004" && (r.sub_code === "AUTH_OPERATION_NOT_EXIST" || r.sub_code === "AUTH_ORDER_NOT_EXIST"))
    return { status: "not_found" };
  if (r.code !== "10000") return operationUnknown(`alipay unfreeze query ${msg(r)}`);
  if (r.operation_type !== undefined && r.operation_type !== "UNFREEZE")
    return operationUnknown(`alipay answered about a ${r.operation_type} operation`);
  return unfreezeState(r, req);
}

function unfreezeState(r: AlipayResponse, req: OperationRequest): OperationOutcome {
  if (r.out_request_no !== req.operationId)
    return operationUnknown(`alipay answered about out_request_no ${r.out_request_no ?? "(none)"}`);
  switch (r.status) {
    case "SUCCESS":
      return reportedOperation(r.amount, r.trans_currency, r.operation_id ?? null, "an unfreeze");
    case "INIT":
      return { status: "pending", channelOpId: r.operation_id ?? null };
    case "CLOSED":
      return operationFailed("channel_rejected", `unfreeze closed: ${msg(r)}`);
    default:
      return operationUnknown(`alipay unfreeze status ${r.status ?? "(none)"}`);
  }
}

/**
 * Alipay names a refund by our out_request_no only (there is no refund id). fund_change Y: this request
 * moved the money; N: it moved nothing, being a repeat of a refund done before or not done at all, which
 * only the refund query can tell.
 */
export function alipayRefundOutcome(r: AlipayResponse, req: OperationRequest): OperationOutcome {
  if (r.code !== "10000") return alipayOperationRefusal(r);
  if (r.out_trade_no && r.out_trade_no !== req.attemptId)
    return operationUnknown(`alipay refunded out_trade_no ${r.out_trade_no}, not ${req.attemptId}`);
  if (r.fund_change !== "Y") return operationUnknown(`alipay refund fund_change ${r.fund_change ?? "(none)"}`);
  return reportedOperation(r.send_back_fee, r.trans_currency, null, "a refund");
}

/** No refund_status (or no refund at all in the answer) means Alipay has no refund under this number. */
export function alipayRefundQueryOutcome(r: AlipayResponse, req: OperationRequest): OperationQueryOutcome {
  if (r.code === "40004" && r.sub_code === "ACQ.TRADE_NOT_EXIST") return { status: "not_found" };
  if (r.code !== "10000") return operationUnknown(`alipay refund query ${msg(r)}`);
  if (!r.refund_status) return { status: "not_found" };
  if (r.out_request_no !== req.operationId)
    return operationUnknown(`alipay answered about out_request_no ${r.out_request_no ?? "(none)"}`);
  switch (r.refund_status) {
    case "REFUND_SUCCESS":
      return reportedOperation(r.refund_amount, r.trans_currency, null, "a refund");
    case "REFUND_PROCESSING":
      return { status: "pending", channelOpId: null };
    default:
      return operationUnknown(`alipay refund_status ${r.refund_status}`);
  }
}

// ---- Notifications of operations and of fund authorizations ----

/**
 * The trade notification that follows a refund (out_biz_no = its request number). Alipay answers refunds
 * at once, so this repeats what the answer said; without this refund's own amount (send_back_fee; refund_fee
 * is the trade's total) it tells nothing we can apply.
 */
function alipayRefundNotificationToCallback(n: AlipayNotification, requestNo: string): ParsedCallback {
  const amount = reportedAmount(n.send_back_fee, n.trans_currency);
  if (!amount) return { ok: false, reason: "not_final", detail: "refund notification without send_back_fee" };
  const at = fromChinaTime(n.gmt_refund ?? n.notify_time);
  if (!at) return { ok: false, reason: "malformed", detail: "bad gmt_refund/notify_time" };
  return operationSucceededCallback({
    channel: "alipay",
    kind: "refund",
    operationId: requestNo,
    channelOpId: null,
    amount: amount.amount,
    currency: amount.currency,
    occurredAt: at.toISOString(),
    notificationId: n.notify_id,
  });
}

/** The freeze's notification is the payment's result; an unfreeze's is the void's. */
export function alipayAuthNotificationToCallback(n: AlipayAuthNotification): ParsedCallback {
  const amount = reportedAmount(n.amount, n.trans_currency);
  if (!amount) return { ok: false, reason: "malformed", detail: `bad amount ${n.amount}` };
  if (n.status === "INIT") return { ok: false, reason: "not_final", detail: `${n.notify_type} status INIT` };
  const at = fromChinaTime(n.gmt_trans ?? n.notify_time);
  if (!at) return { ok: false, reason: "malformed", detail: "bad gmt_trans/notify_time" };
  if (n.notify_type === "fund_auth_unfreeze") {
    const unfreeze: OperationCallbackBase = {
      channel: "alipay",
      kind: "void",
      operationId: n.out_request_no,
      channelOpId: n.operation_id,
      amount: amount.amount,
      currency: amount.currency,
      occurredAt: at.toISOString(),
      notificationId: n.notify_id,
    };
    return n.status === "SUCCESS"
      ? operationSucceededCallback(unfreeze)
      : operationFailedCallback(unfreeze, "channel_rejected", `unfreeze ${n.status}`);
  }
  const base: PaymentCallbackBase = {
    channel: "alipay",
    attemptId: n.out_order_no,
    channelTxnId: n.auth_no,
    amount: amount.amount,
    currency: amount.currency,
    settlement: null,
    occurredAt: at.toISOString(),
    notificationId: n.notify_id,
  };
  if (n.status === "CLOSED")
    return paymentFailedCallback(
      base,
      alipayFailureCode(n.close_reason),
      `freeze CLOSED ${n.close_reason ?? ""}`.trim(),
    );
  const expiresAt = freezeExpiry(n.gmt_trans);
  if (!expiresAt) return { ok: false, reason: "malformed", detail: "freeze without gmt_trans" };
  return paymentAuthorizedCallback(base, expiresAt);
}
