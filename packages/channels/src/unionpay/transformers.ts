import { encodePassthrough } from "../shared/adapter.ts";
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
import type { UnionPayAnswer, UnionPayNotification, UnionPayTxnCode } from "./client.ts";

/** ISO 4217 numeric codes UnionPay uses; it settles CNY only. */
const NUMERIC_CURRENCY: Record<string, string> = { CNY: "156" };
const ALPHA_CURRENCY: Record<string, string> = { "156": "CNY" };

export function toUnionPayPayFields(req: PayRequest, endpoint: ChannelEndpoint, now: Date): Record<string, string> {
  return {
    version: "5.1.0",
    encoding: "UTF-8",
    signMethod: "RSA2",
    txnType: "01",
    bizType: "000201",
    merId: endpoint.merchantId,
    orderId: req.attemptId,
    txnTime: toChinaCompact(now),
    // The scheme's amounts are integer fen.
    txnAmt: String(req.amount),
    currencyCode: NUMERIC_CURRENCY[req.currency] ?? req.currency,
    issInsCode: req.method.bankCode ?? "",
    frontUrl: req.returnUrl,
    backUrl: req.callbackUrl,
    orderDesc: req.subject,
    reqReserved: encodePassthrough(req.metadata),
    payTimeout: toChinaCompact(new Date(req.expiresAt)),
  };
}

export function toUnionPayQueryFields(
  ref: { attemptId: string; channelTxnId: string | null },
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return {
    version: "5.1.0",
    encoding: "UTF-8",
    signMethod: "RSA2",
    txnType: "00",
    merId: endpoint.merchantId,
    txnTime: toChinaCompact(now),
    ...(ref.channelTxnId ? { queryId: ref.channelTxnId } : { orderId: ref.attemptId }),
  };
}

type FailedCode = Extract<UnionPayTxnCode, "05" | "51" | "31" | "32">;

function failureCode(code: FailedCode): FailureCode {
  switch (code) {
    case "05":
      return "card_declined";
    case "51":
      return "insufficient_funds";
    case "31":
      return "payer_canceled";
    case "32":
      return "expired";
    default:
      return assertNever(code, "unionpay failure code");
  }
}

export function unionpayTxnToOutcome(
  code: UnionPayTxnCode,
  txnId: string,
  payUrl: string | undefined,
  msg: string,
): ChannelOutcome {
  switch (code) {
    case "00":
      return { status: "succeeded", channelTxnId: txnId, settlement: null };
    case "04":
      return payUrl
        ? { status: "requires_action", channelTxnId: txnId, action: { type: "redirect", url: payUrl } }
        : { status: "pending", channelTxnId: txnId };
    case "03":
      return { status: "pending", channelTxnId: txnId };
    case "05":
    case "51":
    case "31":
    case "32":
      return failed(failureCode(code), `${code}: ${msg}`, txnId);
    default:
      return assertNever(code, "unionpay transaction code");
  }
}

function stateOf(a: UnionPayAnswer): ChannelOutcome {
  if (!a.origRespCode || !a.queryId) return unknown("unionpay answered 00 without origRespCode or queryId");
  return unionpayTxnToOutcome(a.origRespCode, a.queryId, a.payUrl, a.origRespMsg ?? a.respMsg ?? "");
}

export function unionpayPayOutcome(a: UnionPayAnswer): ChannelOutcome {
  const msg = `${a.respCode}: ${a.respMsg ?? ""}`;
  switch (a.respCode) {
    case "00":
      return stateOf(a);
    case "01": // request format error
    case "11": // our signature did not verify
    case "12": // unknown merchant
      return failed("channel_rejected", msg);
    case "13":
      return failed("currency_not_supported", msg);
    case "14":
      return failed("bank_not_supported", msg);
    case "96":
      return failed("channel_unavailable", msg);
    default:
      // Including 94 (order reference reused with other parameters): money may have moved.
      return unknown(`unionpay respCode ${msg}`);
  }
}

export function unionpayQueryOutcome(a: UnionPayAnswer): QueryOutcome {
  switch (a.respCode) {
    case "00":
      return stateOf(a);
    case "34":
      return { status: "not_found" };
    default:
      return unknown(`unionpay query respCode ${a.respCode}: ${a.respMsg ?? ""}`);
  }
}

export function unionpayNotificationToCallback(n: UnionPayNotification): ParsedCallback {
  const currency = ALPHA_CURRENCY[n.currencyCode];
  const occurredAt = fromChinaTime(n.traceTime);
  if (!currency || !occurredAt) return { ok: false, reason: "malformed", detail: "bad currencyCode or traceTime" };
  const base: Omit<CallbackResult, "status" | "failureCode" | "failureMessage"> = {
    channel: "unionpay",
    attemptId: n.orderId,
    channelTxnId: n.queryId,
    amount: Number(n.txnAmt),
    currency,
    settlement: null,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.traceNo,
  };
  const code = n.respCode;
  switch (code) {
    case "00":
      return { ok: true, result: { ...base, status: "succeeded", failureCode: null, failureMessage: null } };
    case "05":
    case "51":
    case "31":
    case "32":
      return {
        ok: true,
        result: {
          ...base,
          status: "failed",
          failureCode: failureCode(code),
          failureMessage: `${code}: ${n.respMsg ?? ""}`,
        },
      };
    case "03":
    case "04":
      return { ok: false, reason: "not_final", detail: `respCode ${code}` };
    default:
      return assertNever(code, "unionpay transaction code");
  }
}
