import { encodePassthrough, randomNonce } from "../shared/adapter.ts";
import { assertNever, failed, unknown, type FailureCode } from "../shared/outcomes.ts";
import { fromChinaTime, toChinaCompact } from "../shared/time.ts";
import type {
  CallbackResult,
  ChannelEndpoint,
  ChannelOutcome,
  ParsedCallback,
  PayRequest,
  QueryOutcome,
} from "../types.ts";
import type { WechatAnswer, WechatNotification, WechatTradeState } from "./client.ts";

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

export function wechatStateToOutcome(state: WechatTradeState, a: WechatAnswer, txnId: string): ChannelOutcome {
  switch (state) {
    case "SUCCESS":
    case "REFUND": // it was paid; a refund is a later, separate matter
      return { status: "succeeded", channelTxnId: txnId, settlement: null };
    case "NOTPAY":
      return a.code_url
        ? {
            status: "requires_action",
            channelTxnId: txnId,
            action: { type: "qr_code", payload: a.code_url, deeplink: a.deeplink ?? null },
          }
        : { status: "pending", channelTxnId: txnId };
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
      return a.transaction_id
        ? { status: "succeeded", channelTxnId: a.transaction_id, settlement: null }
        : unknown(msg(a));
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
  const occurredAt = fromChinaTime(n.time_end);
  if (!occurredAt) return { ok: false, reason: "malformed", detail: "bad time_end" };
  const base: Omit<CallbackResult, "status" | "failureCode" | "failureMessage"> = {
    channel: "wechat",
    attemptId: n.out_trade_no,
    channelTxnId: n.transaction_id,
    amount: Number(n.total_fee),
    currency: n.fee_type,
    settlement: null,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.notify_id,
  };
  const state = n.trade_state;
  switch (state) {
    case "SUCCESS":
    case "REFUND":
      return { ok: true, result: { ...base, status: "succeeded", failureCode: null, failureMessage: null } };
    case "CLOSED":
    case "REVOKED":
    case "PAYERROR": {
      const fallback: FailureCode =
        state === "CLOSED" ? "expired" : state === "REVOKED" ? "payer_canceled" : "card_declined";
      return {
        ok: true,
        result: {
          ...base,
          status: "failed",
          failureCode: wechatErrorCode(n.err_code, fallback),
          failureMessage: msg(n),
        },
      };
    }
    case "NOTPAY":
    case "USERPAYING":
      return { ok: false, reason: "not_final", detail: `trade_state ${state}` };
    default:
      return assertNever(state, "wechat trade_state");
  }
}
