import { encodePassthrough, randomNonce } from "../shared/adapter.ts";
import { readMinorUnits } from "../shared/amounts.ts";
import {
  assertNever,
  failed,
  operationFailed,
  operationFailedCallback,
  operationSucceeded,
  operationSucceededCallback,
  operationUnknown,
  paymentFailedCallback,
  paymentSucceededCallback,
  qrCodeOrPending,
  refusalOutcome,
  unknown,
  type FailureCode,
  type OperationCallbackBase,
  type PaymentCallbackBase,
} from "../shared/outcomes.ts";
import { fromChinaTime, toChinaCompact } from "../shared/time.ts";
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
import {
  WECHAT_REFUND_STATUSES,
  type WechatAnswer,
  type WechatNotification,
  type WechatRefundAnswer,
  type WechatRefundNotification,
  type WechatRefundQueryAnswer,
  type WechatRefundStatus,
  type WechatTradeState,
} from "./client.ts";

/** The development app id; real deployments have their own (adapter option `appId`). */
export const DEFAULT_WECHAT_APP_ID = "wx_pps_dev_app";

export function toWechatOrderFields(req: PayRequest, endpoint: ChannelEndpoint, appId: string): Record<string, string> {
  return {
    appid: appId,
    mch_id: endpoint.merchantId,
    nonce_str: randomNonce(),
    body: req.subject,
    out_trade_no: req.attemptId,
    total_fee: String(req.amount),
    fee_type: req.currency,
    spbill_create_ip: req.payer.ip ?? "127.0.0.1",
    time_expire: toChinaCompact(new Date(req.expiresAt)),
    notify_url: req.callbackUrl,
    // A QR code to scan on a PC (NATIVE) or an app hand-off on the phone (APP).
    trade_type: req.method.flow === "deeplink" ? "APP" : "NATIVE",
    attach: encodePassthrough(req.metadata),
  };
}

export function toWechatQueryFields(
  ref: { attemptId: string; channelTxnId: string | null },
  endpoint: ChannelEndpoint,
  appId: string,
): Record<string, string> {
  return {
    appid: appId,
    mch_id: endpoint.merchantId,
    nonce_str: randomNonce(),
    ...(ref.channelTxnId ? { transaction_id: ref.channelTxnId } : { out_trade_no: ref.attemptId }),
  };
}

/** err_code on a failed trade (or a FAIL result) → our code. */
export function wechatErrorCode(errCode: string | undefined, fallback: FailureCode): FailureCode {
  switch (errCode) {
    case "NOTENOUGH":
      return "insufficient_funds";
    case "PAYERROR":
      return "card_declined";
    case "USER_CANCELED":
      return "payer_canceled";
    case "ORDERCLOSED":
      return "expired";
    default:
      return fallback;
  }
}

function msg(a: {
  err_code?: string | undefined;
  err_code_des?: string | undefined;
  trade_state_desc?: string | undefined;
  return_msg?: string | undefined;
}): string {
  const text = a.err_code_des ?? a.trade_state_desc ?? a.return_msg ?? "no message";
  return a.err_code ? `${a.err_code}: ${text}` : text;
}

/** An amount in fen and its currency as WeChat wrote them; null when either is missing or not one. */
function reportedFee(
  fee: string | undefined,
  feeType: string | undefined,
): { amount: number; currency: string } | null {
  if (!feeType || !/^[A-Z]{3}$/.test(feeType)) return null;
  const amount = readMinorUnits(fee);
  return amount === null ? null : { amount, currency: feeType };
}

/** A paid order, with what WeChat says it took: without total_fee and fee_type we cannot call it a success. */
function paidOutcome(a: WechatAnswer, txnId: string): ChannelOutcome {
  const fee = reportedFee(a.total_fee, a.fee_type);
  if (!fee) return unknown("wechat reported a paid order without total_fee or fee_type");
  return { status: "succeeded", channelTxnId: txnId, ...fee, settlement: null };
}

export function wechatStateToOutcome(state: WechatTradeState, a: WechatAnswer, txnId: string): ChannelOutcome {
  switch (state) {
    case "SUCCESS":
    case "REFUND": // it was paid; a refund is a later, separate matter
      return paidOutcome(a, txnId);
    case "NOTPAY":
      return qrCodeOrPending(txnId, a.code_url, a.deeplink);
    case "USERPAYING":
      return { status: "pending", channelTxnId: txnId };
    case "CLOSED":
      return failed(wechatErrorCode(a.err_code, "expired"), msg(a), txnId);
    case "REVOKED":
      return failed("payer_canceled", msg(a), txnId);
    case "PAYERROR":
      return failed(wechatErrorCode(a.err_code, "card_declined"), msg(a), txnId);
    default:
      return assertNever(state, "wechat trade_state");
  }
}

export function wechatOrderOutcome(a: WechatAnswer): ChannelOutcome {
  if (a.return_code === "FAIL") {
    if (a.err_code === "SYSTEMBUSY") return failed("channel_unavailable", msg(a));
    // The gateway refused the message itself (signature, format): it created nothing.
    return failed("channel_rejected", msg(a));
  }
  if (a.result_code === "SUCCESS") {
    if (!a.transaction_id) return unknown("wechat answered SUCCESS without transaction_id");
    return wechatStateToOutcome(a.trade_state ?? "NOTPAY", a, a.transaction_id);
  }
  switch (a.err_code) {
    case "NOTENOUGH":
    case "PAYERROR":
    case "ORDERCLOSED":
      return failed(wechatErrorCode(a.err_code, "card_declined"), msg(a), a.transaction_id ?? null);
    case "ORDERPAID":
      return a.transaction_id ? paidOutcome(a, a.transaction_id) : unknown(msg(a));
    case "FEE_TYPE_NOT_SUPPORTED":
      return failed("currency_not_supported", msg(a));
    case "INVALID_REQUEST":
    case "PARAM_ERROR":
    case "SIGNERROR":
    case "APPID_NOT_EXIST":
    case "MCHID_NOT_EXIST":
      return failed("channel_rejected", msg(a));
    case "SYSTEMBUSY":
      return failed("channel_unavailable", msg(a));
    default:
      // SYSTEMERROR, OUT_TRADE_NO_USED and anything new: we cannot tell whether an order exists.
      return unknown(`wechat ${msg(a)}`);
  }
}

export function wechatQueryOutcome(a: WechatAnswer): QueryOutcome {
  if (a.return_code === "SUCCESS" && a.result_code === "SUCCESS") {
    if (!a.trade_state || !a.transaction_id)
      return unknown("wechat query answered without trade_state or transaction_id");
    return wechatStateToOutcome(a.trade_state, a, a.transaction_id);
  }
  if (a.err_code === "ORDERNOTEXIST") return { status: "not_found" };
  return unknown(`wechat query ${msg(a)}`);
}

export function wechatNotificationToCallback(n: WechatNotification): ParsedCallback {
  const fee = reportedFee(n.total_fee, n.fee_type);
  if (!fee) return { ok: false, reason: "malformed", detail: "bad total_fee or fee_type" };
  const occurredAt = fromChinaTime(n.time_end);
  if (!occurredAt) return { ok: false, reason: "malformed", detail: "bad time_end" };
  const base: PaymentCallbackBase = {
    channel: "wechat",
    attemptId: n.out_trade_no,
    channelTxnId: n.transaction_id,
    ...fee,
    settlement: null,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.notify_id,
  };
  const state = n.trade_state;
  switch (state) {
    case "SUCCESS":
    case "REFUND":
      return paymentSucceededCallback(base);
    case "CLOSED":
    case "REVOKED":
    case "PAYERROR": {
      const fallback: FailureCode =
        state === "CLOSED" ? "expired" : state === "REVOKED" ? "payer_canceled" : "card_declined";
      return paymentFailedCallback(base, wechatErrorCode(n.err_code, fallback), msg(n));
    }
    case "NOTPAY":
    case "USERPAYING":
      return { ok: false, reason: "not_final", detail: `trade_state ${state}` };
    default:
      return assertNever(state, "wechat trade_state");
  }
}

// ---- Refunds: /secapi/pay/refund, /pay/refundquery and the refund notification ----

/** A refund of the order our attempt created: our operation id as out_refund_no, the order's total beside it. */
export function toWechatRefundFields(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  appId: string,
): Record<string, string> {
  return {
    // The order, named as its query names it: by WeChat's transaction id once we know it.
    ...toWechatQueryFields(req, endpoint, appId),
    out_refund_no: req.operationId,
    total_fee: String(req.paymentAmount),
    refund_fee: String(req.amount),
    refund_fee_type: req.currency,
    ...(req.reason ? { refund_desc: req.reason } : {}),
    notify_url: req.callbackUrl,
  };
}

/** The refund query by our refund number (WeChat also takes refund_id, transaction_id or out_trade_no). */
export function toWechatRefundQueryFields(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  appId: string,
): Record<string, string> {
  return { appid: appId, mch_id: endpoint.merchantId, nonce_str: randomNonce(), out_refund_no: req.operationId };
}

/**
 * err_code of a refused refund → our code; null for the codes after which the refund may exist under this
 * number (SYSTEMERROR and BIZERR_NEED_RETRY ask for a retry with the same out_refund_no; REFUND_FEE_MISMATCH
 * says a refund with this number exists with other amounts) or that we do not know.
 */
export function wechatRefundFailureCode(errCode: string | undefined): OperationFailureCode | null {
  switch (errCode) {
    case "TRADE_OVERDUE": // the order is older than the refund period (a year)
      return "refund_window_closed";
    case "INVALID_REQUEST": // "refund_fee大于可退金额": more than what remains refundable
      return "amount_exceeds_refundable";
    // Real WeChat reports the 50-refund limit as a generic ERROR with a message; the simulator gives it
    // this code so it can be told apart (a real ERROR falls to invalid_state below, also a refusal).
    case "REFUND_COUNT_EXCEEDED":
      return "refund_limit_reached";
    case "ERROR": // "订单状态错误", "订单已全额退款": the order is not in a state to refund
      return "invalid_state";
    case "NO_AUTH": // the merchant has no right to this API
      return "flow_not_supported";
    case "SYSTEMBUSY":
    case "FREQUENCY_LIMITED":
    case "INVALID_REQ_TOO_MUCH":
      return "channel_unavailable";
    case "NOTENOUGH": // the merchant's refundable balance, not the payer's
    case "USER_ACCOUNT_ABNORMAL":
    case "INVALID_TRANSACTIONID":
    case "ORDERNOTEXIST":
    case "PARAM_ERROR":
    case "SIGNERROR":
    case "APPID_NOT_EXIST":
    case "MCHID_NOT_EXIST":
    case "XML_FORMAT_ERROR":
    case "REQUIRE_POST_METHOD":
    case "FEE_TYPE_NOT_SUPPORTED":
      return "channel_rejected";
    default:
      return null;
  }
}

/** The refund answer: accepted means pending (the result comes by notification or refundquery). */
export function wechatRefundOutcome(a: WechatRefundAnswer, req: OperationRequest): OperationOutcome {
  if (a.return_code === "FAIL") {
    if (a.err_code === "SYSTEMBUSY") return operationFailed("channel_unavailable", msg(a));
    // The gateway refused the message itself (signature, format, "invalid refund_fee"): nothing was accepted.
    return operationFailed("channel_rejected", msg(a));
  }
  if (a.result_code === "SUCCESS") {
    if (a.out_refund_no !== req.operationId)
      return operationUnknown(`wechat accepted out_refund_no ${a.out_refund_no ?? "(none)"}, not ${req.operationId}`);
    return { status: "pending", channelOpId: a.refund_id ?? null };
  }
  return refusalOutcome(wechatRefundFailureCode(a.err_code), msg(a), `wechat refund ${msg(a)}`);
}

/** The fields of the refund at index n of a refundquery answer, or null when the answer has none that is ours. */
function refundAt(
  a: WechatRefundQueryAnswer,
  operationId: string,
): { n: number; get: (k: string) => string | undefined } | null {
  const count = Number(a.refund_count ?? "0");
  if (!Number.isSafeInteger(count) || count < 0) return null;
  const field = (k: string): string | undefined => (typeof a[k] === "string" ? (a[k] as string) : undefined);
  // A query by out_refund_no lists that refund alone; a query by order lists them all.
  for (let n = 0; n < count; n++) {
    if (field(`out_refund_no_${n}`) === operationId) return { n, get: (k) => field(`${k}_${n}`) };
  }
  return null;
}

function isRefundStatus(value: string | undefined): value is WechatRefundStatus {
  return (WECHAT_REFUND_STATUSES as readonly string[]).includes(value ?? "");
}

export function wechatRefundQueryOutcome(a: WechatRefundQueryAnswer, req: OperationRequest): OperationQueryOutcome {
  if (a.return_code !== "SUCCESS" || a.result_code !== "SUCCESS") {
    if (a.err_code === "REFUNDNOTEXIST") return { status: "not_found" };
    // A query that failed says nothing about the refund, busy included.
    return operationUnknown(`wechat refundquery ${msg(a)}`);
  }
  const refund = refundAt(a, req.operationId);
  if (!refund) return operationUnknown(`wechat refundquery lists no refund ${req.operationId}`);
  const status = refund.get("refund_status");
  if (!isRefundStatus(status)) return operationUnknown(`wechat refund_status ${status ?? "(none)"}`);
  const channelOpId = refund.get("refund_id") ?? null;
  switch (status) {
    case "SUCCESS":
      return operationSucceeded(
        channelOpId,
        reportedFee(refund.get("refund_fee"), a.fee_type),
        "wechat reported a refund SUCCESS without refund_fee or fee_type",
      );
    case "PROCESSING":
      return { status: "pending", channelOpId };
    case "REFUNDCLOSE":
      return operationFailed("channel_rejected", "REFUNDCLOSE: the refund was closed, nothing returned");
    case "CHANGE":
      // The money left the merchant but did not reach the payer: neither done nor undone; an operator decides.
      return operationUnknown("CHANGE: refund exception, to be settled at the WeChat merchant platform");
    default:
      return assertNever(status, "wechat refund_status");
  }
}

/** A refund notification. A closed refund carries no time of its own: it is when we learn of it. */
export function wechatRefundNotificationToCallback(n: WechatRefundNotification, now: Date): ParsedCallback {
  const fee = reportedFee(n.refund_fee, n.fee_type);
  if (!fee) return { ok: false, reason: "malformed", detail: "bad refund_fee or fee_type" };
  const base = (occurredAt: Date): OperationCallbackBase => ({
    channel: "wechat",
    kind: "refund",
    operationId: n.out_refund_no,
    channelOpId: n.refund_id,
    ...fee,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.notify_id,
  });
  const status = n.refund_status;
  switch (status) {
    case "SUCCESS": {
      const at = n.success_time ? fromChinaTime(n.success_time) : null;
      if (!at) return { ok: false, reason: "malformed", detail: "bad success_time" };
      return operationSucceededCallback(base(at));
    }
    case "REFUNDCLOSE":
      return operationFailedCallback(
        base(now),
        "channel_rejected",
        "REFUNDCLOSE: the refund was closed, nothing returned",
      );
    case "PROCESSING":
    case "CHANGE":
      return { ok: false, reason: "not_final", detail: `refund_status ${status}` };
    default:
      return assertNever(status, "wechat refund_status");
  }
}
