import type { OperationKind } from "@pps/domain";
import { encodePassthrough } from "../shared/adapter.ts";
import { readMinorUnits } from "../shared/amounts.ts";
import {
  assertNever,
  failed,
  operationFailedCallback,
  operationSucceeded,
  operationSucceededCallback,
  operationUnknown,
  paymentAuthorizedCallback,
  paymentFailedCallback,
  paymentSucceededCallback,
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
  UNIONPAY_OPERATION_TXN_TYPE,
  type UnionPayAnswer,
  type UnionPayNotification,
  type UnionPayOperationAnswer,
  type UnionPayOperationNotification,
  type UnionPayTxnCode,
  type UnionPayTxnType,
} from "./client.ts";

/** ISO 4217 numeric codes UnionPay uses; it settles CNY only. */
const NUMERIC_CURRENCY: Record<string, string> = { CNY: "156" };
const ALPHA_CURRENCY: Record<string, string> = { "156": "CNY" };

/** An amount the scheme wrote (integer fen, numeric currency) → ours; null when either is missing or unreadable. */
function schemeAmount(
  txnAmt: string | undefined,
  currencyCode: string | undefined,
): { amount: number; currency: string } | null {
  const currency = currencyCode ? ALPHA_CURRENCY[currencyCode] : undefined;
  const amount = readMinorUnits(txnAmt);
  return amount !== null && currency ? { amount, currency } : null;
}

export function toUnionPayPayFields(req: PayRequest, endpoint: ChannelEndpoint, now: Date): Record<string, string> {
  return {
    version: "5.1.0",
    encoding: "UTF-8",
    signMethod: "RSA2",
    // 02 pre-authorization holds the amount until completed (03) or cancelled (32), at most 30 days.
    txnType: req.captureMethod === "manual" ? "02" : "01",
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

/**
 * A payment the scheme ended with nothing kept after it was paid: 32 (pre-authorization cancelled, or
 * lapsed) or 31 (consume cancelled the same day). Our failure codes have no "reversed by the merchant":
 * expired and payer_canceled are the nearest, and the message says which it was.
 */
function reversedCode(txnType: "31" | "32"): FailureCode {
  return txnType === "32" ? "expired" : "payer_canceled";
}

export function unionpayTxnToOutcome(
  code: UnionPayTxnCode,
  txnId: string,
  payUrl: string | undefined,
  msg: string,
  /** The transaction that set the state, with its amount and, for a pre-authorization, its end. */
  txn: {
    type?: UnionPayTxnType | undefined;
    amount?: string | undefined;
    currencyCode?: string | undefined;
    authExpireTime?: string | undefined;
  } = {},
): ChannelOutcome {
  switch (code) {
    case "00": {
      const type = txn.type ?? "01";
      if (type === "31" || type === "32") return failed(reversedCode(type), `${type} 00: ${msg}`, txnId);
      const amount = schemeAmount(txn.amount, txn.currencyCode);
      if (!amount) return unknown("unionpay answered 00 without a readable txnAmt and currencyCode");
      if (type === "02") {
        const expiresAt = txn.authExpireTime ? fromChinaTime(txn.authExpireTime) : null;
        if (!expiresAt) return unknown("unionpay answered a pre-authorization without authExpireTime");
        return { status: "authorized", channelTxnId: txnId, ...amount, expiresAt: expiresAt.toISOString() };
      }
      if (type === "04") return unknown("unionpay answered a refund for a payment query");
      // 01 consume, 03 pre-authorization completed: txnAmt is what was taken.
      return { status: "succeeded", channelTxnId: txnId, ...amount, settlement: null };
    }
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
  return unionpayTxnToOutcome(a.origRespCode, a.queryId, a.payUrl, a.origRespMsg ?? a.respMsg ?? "", {
    type: a.txnType,
    amount: a.txnAmt,
    currencyCode: a.currencyCode,
    authExpireTime: a.authExpireTime,
  });
}

export function unionpayPayOutcome(a: UnionPayAnswer): ChannelOutcome {
  const msg = `${a.respCode}: ${a.respMsg ?? ""}`;
  switch (a.respCode) {
    case "00":
      return stateOf(a);
    case "01": // request format error
    case "11": // our signature did not verify
    case "12": // unknown merchant
    case "30": // transaction type not open for the merchant (pre-authorization)
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
  const base: PaymentCallbackBase = {
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
  const type = n.txnType ?? "01";
  switch (code) {
    case "00":
      if (type === "02") {
        const expiresAt = n.authExpireTime ? fromChinaTime(n.authExpireTime) : null;
        if (!expiresAt) return { ok: false, reason: "malformed", detail: "pre-authorization without authExpireTime" };
        return paymentAuthorizedCallback(base, expiresAt.toISOString());
      }
      if (type === "31" || type === "32")
        return paymentFailedCallback(base, reversedCode(type), `${type} 00: ${n.respMsg ?? ""}`);
      if (type === "04") return { ok: false, reason: "malformed", detail: "refund notification without origQryId" };
      return paymentSucceededCallback(base);
    case "05":
    case "51":
    case "31":
    case "32":
      return paymentFailedCallback(base, failureCode(code), `${code}: ${n.respMsg ?? ""}`);
    case "03":
    case "04":
      return { ok: false, reason: "not_final", detail: `respCode ${code}` };
    default:
      return assertNever(code, "unionpay transaction code");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Back transactions: 03 pre-authorization completion, 32 pre-authorization cancel, 31 consume cancel,
// 04 refund. The first three are answered at once; a refund is accepted (origRespCode 03) and its result
// comes by notification to backUrl, or by query.

const KIND_OF_TXN_TYPE: Record<"03" | "04" | "31" | "32", OperationKind> = {
  "03": "capture",
  "04": "refund",
  "31": "cancel",
  "32": "void",
};

/**
 * Our operation → a back transaction. orderId is our operation id (the scheme's idempotency key); the
 * payment is origQryId once we know its queryId, and our own order reference (origOrderId) always. Every
 * kind carries its txnAmt: the scheme checks a cancel (31, 32) against the whole original amount.
 */
export function toUnionPayOperationFields(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return {
    version: "5.1.0",
    encoding: "UTF-8",
    signMethod: "RSA2",
    txnType: UNIONPAY_OPERATION_TXN_TYPE[req.kind],
    txnSubType: "00",
    bizType: "000201",
    merId: endpoint.merchantId,
    orderId: req.operationId,
    origQryId: req.channelTxnId ?? "",
    origOrderId: req.attemptId,
    txnTime: toChinaCompact(now),
    txnAmt: String(req.amount),
    currencyCode: NUMERIC_CURRENCY[req.currency] ?? req.currency,
    backUrl: req.callbackUrl,
    orderDesc: req.reason ?? "",
  };
}

/** The query of a back transaction: by its orderId (our operation id), with its type. */
export function toUnionPayOperationQueryFields(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return {
    version: "5.1.0",
    encoding: "UTF-8",
    signMethod: "RSA2",
    txnType: "00",
    merId: endpoint.merchantId,
    orderId: req.operationId,
    origTxnType: UNIONPAY_OPERATION_TXN_TYPE[req.kind],
    txnTime: toChinaCompact(now),
  };
}

/**
 * The scheme's refusal of a back transaction (respCode, or origRespCode / respCode of one that failed) →
 * our code; null for a code that does not say it was refused. Some codes depend on the transaction type:
 * 36 exceeds the original amount (authorized for a completion, refundable for a refund), 37 the original
 * is too old (authorization ended, or past the refund window), 39 not allowed now (a cancel after the
 * day's cut-off, a refund before the settlement).
 */
export function unionpayOperationRefusal(code: string | undefined, kind: OperationKind): OperationFailureCode | null {
  switch (code) {
    case "30":
      return "flow_not_supported";
    case "35":
      return "invalid_state";
    case "36":
      return kind === "capture" ? "amount_exceeds_authorized" : "amount_exceeds_refundable";
    case "37":
      return kind === "refund" ? "refund_window_closed" : "authorization_expired";
    case "38":
      return "refund_limit_reached";
    case "39":
      return kind === "cancel" ? "cancel_window_closed" : "not_settled";
    case "01": // request format error
    case "05": // the issuer refused it
    case "11": // our signature did not verify
    case "12": // unknown merchant
    case "13": // currency
    case "34": // the original transaction does not exist: nothing to act on
      return "channel_rejected";
    case "96":
      return "channel_unavailable";
    default:
      return null;
  }
}

function kindOf(a: { txnType?: string | undefined }): OperationKind | null {
  const t = a.txnType;
  return t === "03" || t === "04" || t === "31" || t === "32" ? KIND_OF_TXN_TYPE[t] : null;
}

/** A back transaction the scheme answered (respCode 00) → our outcome. */
function operationRecordOutcome(req: OperationRequest, a: UnionPayOperationAnswer): OperationOutcome {
  if (!a.origRespCode || !a.queryId) return operationUnknown("unionpay answered 00 without origRespCode or queryId");
  // An answer about another transaction than ours says nothing about ours.
  if (a.orderId !== req.operationId || kindOf(a) !== req.kind)
    return operationUnknown(`unionpay answered about ${a.txnType ?? "?"} ${a.orderId ?? "?"}`);
  const msg = `${a.origRespCode}: ${a.origRespMsg ?? a.respMsg ?? ""}`;
  switch (a.origRespCode) {
    case "00":
      return operationSucceeded(
        a.queryId,
        schemeAmount(a.txnAmt, a.currencyCode),
        "unionpay answered 00 without a readable txnAmt and currencyCode",
      );
    case "03": // in progress: a refund waits for the issuer
    case "04":
      return { status: "pending", channelOpId: a.queryId };
    default:
      return refusalOutcome(
        unionpayOperationRefusal(a.origRespCode, req.kind),
        msg,
        `unionpay ${a.txnType} origRespCode ${msg}`,
      );
  }
}

export function unionpayOperationOutcome(req: OperationRequest, a: UnionPayOperationAnswer): OperationOutcome {
  if (a.respCode === "00") return operationRecordOutcome(req, a);
  // Including 94 (this orderId was used already): the transaction may be done under it.
  return refusalOutcome(
    unionpayOperationRefusal(a.respCode, req.kind),
    `${a.respCode}: ${a.respMsg ?? ""}`,
    `unionpay respCode ${a.respCode}: ${a.respMsg ?? ""}`,
  );
}

export function unionpayOperationQueryOutcome(
  req: OperationRequest,
  a: UnionPayOperationAnswer,
): OperationQueryOutcome {
  switch (a.respCode) {
    case "00":
      return operationRecordOutcome(req, a);
    case "34":
      return { status: "not_found" };
    default:
      return operationUnknown(`unionpay query respCode ${a.respCode}: ${a.respMsg ?? ""}`);
  }
}

export function unionpayOperationNotificationToCallback(n: UnionPayOperationNotification): ParsedCallback {
  const moved = schemeAmount(n.txnAmt, n.currencyCode);
  const occurredAt = fromChinaTime(n.traceTime);
  if (!moved || !occurredAt) return { ok: false, reason: "malformed", detail: "bad txnAmt, currencyCode or traceTime" };
  const kind = KIND_OF_TXN_TYPE[n.txnType];
  const base: OperationCallbackBase = {
    channel: "unionpay",
    kind,
    operationId: n.orderId,
    channelOpId: n.queryId,
    ...moved,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.traceNo,
  };
  const msg = `${n.respCode}: ${n.respMsg ?? ""}`;
  if (n.respCode === "00") return operationSucceededCallback(base);
  if (n.respCode === "03" || n.respCode === "04") return { ok: false, reason: "not_final", detail: `respCode ${msg}` };
  const refusal = unionpayOperationRefusal(n.respCode, kind);
  if (!refusal) return { ok: false, reason: "malformed", detail: `unknown respCode ${msg}` };
  return operationFailedCallback(base, refusal, msg);
}
