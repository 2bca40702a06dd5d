import type { OperationKind } from "@pps/domain";
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
  refusalOutcome,
  unknown,
  type FailureCode,
  type OperationCallbackBase,
  type PaymentCallbackBase,
} from "../shared/outcomes.ts";
import { fromChinaTime, toChinaCompact } from "../shared/time.ts";
import { encodePassthrough, randomNonce } from "../shared/adapter.ts";
import { readDecimal, toDecimal } from "../shared/amounts.ts";
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
  BANK_OPERATIONS,
  type BankAnswer,
  type BankNotification,
  type BankOperationAnswer,
  type BankOperationNotification,
  type BankOpType,
  type BankTradeState,
} from "./client.ts";

export function toBankPayParams(req: PayRequest, endpoint: ChannelEndpoint, now: Date): Record<string, string> {
  return {
    merchant_no: endpoint.merchantId,
    order_no: req.attemptId,
    // PREAUTH holds the amount until a capture or void (or 7 days); SALE takes it at once.
    trade_type: req.captureMethod === "manual" ? "PREAUTH" : "SALE",
    amount: toDecimal(req.amount, req.currency),
    currency: req.currency,
    product: req.product,
    bank_code: req.method.bankCode ?? "",
    card_type: req.method.cardType ?? "",
    subject: req.subject,
    notify_url: req.callbackUrl,
    return_url: req.returnUrl,
    attach: encodePassthrough(req.metadata),
    expire_time: toChinaCompact(new Date(req.expiresAt)),
    timestamp: toChinaCompact(now),
    nonce: randomNonce(),
  };
}

export function toBankQueryParams(
  ref: { attemptId: string; channelTxnId: string | null },
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return {
    merchant_no: endpoint.merchantId,
    ...(ref.channelTxnId ? { bank_txn_no: ref.channelTxnId } : { order_no: ref.attemptId }),
    timestamp: toChinaCompact(now),
    nonce: randomNonce(),
  };
}

/** The bank's err_code on a FAILED or CLOSED transaction → our code. */
export function bankErrorCode(errCode: string | undefined, state: "FAILED" | "CLOSED"): FailureCode {
  switch (errCode) {
    case "E1001":
      return "card_declined";
    case "E1002":
      return "insufficient_funds";
    case "E2001":
      return "payer_canceled";
    case "E2002":
      return "expired";
    default:
      return state === "CLOSED" ? "expired" : "card_declined";
  }
}

/**
 * A payment the bank ended with nothing kept after it had been paid: an authorization released (voided,
 * or lapsed after 7 days) or a sale revoked the same day. Our failure codes have no "reversed by the
 * merchant": expired and payer_canceled are the nearest, and the message says which it was.
 */
function reversedStateCode(state: "VOIDED" | "CANCELED"): FailureCode {
  return state === "VOIDED" ? "expired" : "payer_canceled";
}

function message(a: {
  err_code?: string | undefined;
  err_msg?: string | undefined;
  rsp_msg?: string | undefined;
}): string {
  const text = a.err_msg ?? a.rsp_msg ?? "no message";
  return a.err_code ? `${a.err_code}: ${text}` : text;
}

/** A transaction's state → our outcome (pay answers and query answers share it). */
export function bankStateToOutcome(state: BankTradeState, a: BankAnswer, txnId: string): ChannelOutcome {
  switch (state) {
    case "PROCESSING":
      return a.pay_url
        ? { status: "requires_action", channelTxnId: txnId, action: { type: "redirect", url: a.pay_url } }
        : { status: "pending", channelTxnId: txnId };
    case "PAYING":
      return { status: "pending", channelTxnId: txnId };
    case "SUCCESS": {
      // What the bank took: the captured part of a pre-authorization, the order amount of a sale.
      const taken = readDecimal(a.capture_amount ?? a.amount, a.currency);
      if (!taken) return unknown("bank answered SUCCESS without a readable amount and currency");
      return {
        status: "succeeded",
        channelTxnId: txnId,
        amount: taken.amount,
        currency: taken.currency,
        settlement: null,
      };
    }
    case "AUTHORIZED": {
      const held = readDecimal(a.auth_amount ?? a.amount, a.currency);
      const expiresAt = a.auth_expire_time ? fromChinaTime(a.auth_expire_time) : null;
      if (!held || !expiresAt) return unknown("bank answered AUTHORIZED without amount, currency or auth_expire_time");
      return {
        status: "authorized",
        channelTxnId: txnId,
        amount: held.amount,
        currency: held.currency,
        expiresAt: expiresAt.toISOString(),
      };
    }
    case "FAILED":
    case "CLOSED":
      return failed(bankErrorCode(a.err_code, state), message(a), txnId);
    case "VOIDED":
    case "CANCELED":
      return failed(reversedStateCode(state), `${state}: ${message(a)}`, txnId);
    default:
      return assertNever(state, "bank trade_state");
  }
}

/** A pay answer → our outcome. */
export function bankPayOutcome(a: BankAnswer): ChannelOutcome {
  switch (a.rsp_code) {
    case "0000":
      if (!a.trade_state || !a.bank_txn_no) return unknown("bank answered 0000 without trade_state or bank_txn_no");
      return bankStateToOutcome(a.trade_state, a, a.bank_txn_no);
    case "2001": // PARAM_ERROR
    case "2002": // SIGN_ERROR (our key is wrong): nothing was taken
    case "2005": // MERCHANT_ERROR
    case "4001": // TRADE_TYPE_NOT_PERMITTED (PREAUTH not open for the merchant)
      return failed("channel_rejected", message(a));
    case "2003":
      return failed("bank_not_supported", message(a));
    case "2004":
      return failed("currency_not_supported", message(a));
    case "9999":
      return failed("channel_unavailable", message(a));
    default:
      // Including 3001 ORDER_CONFLICT: an order with this reference exists, so money may have moved.
      return unknown(`bank rsp_code ${a.rsp_code}: ${message(a)}`);
  }
}

/** A query answer → our outcome. A query that the bank refused tells nothing about the payment: unknown. */
export function bankQueryOutcome(a: BankAnswer): QueryOutcome {
  switch (a.rsp_code) {
    case "0000":
      if (!a.trade_state || !a.bank_txn_no) return unknown("bank answered 0000 without trade_state or bank_txn_no");
      return bankStateToOutcome(a.trade_state, a, a.bank_txn_no);
    case "3004":
      return { status: "not_found" };
    default:
      return unknown(`bank query rsp_code ${a.rsp_code}: ${message(a)}`);
  }
}

export function bankNotificationToCallback(n: BankNotification): ParsedCallback {
  const state = n.trade_state;
  // A pre-authorization reports what it holds; a capture, what it took.
  const reported = state === "AUTHORIZED" ? n.auth_amount : state === "SUCCESS" ? n.capture_amount : undefined;
  const amount = readDecimal(reported ?? n.amount, n.currency);
  if (!amount) return { ok: false, reason: "malformed", detail: `bad amount ${n.amount} ${n.currency}` };
  const occurredAt = (n.pay_time && fromChinaTime(n.pay_time)) || fromChinaTime(n.notify_time);
  if (!occurredAt) return { ok: false, reason: "malformed", detail: "bad pay_time/notify_time" };
  const base: PaymentCallbackBase = {
    channel: "bank_direct",
    attemptId: n.order_no,
    channelTxnId: n.bank_txn_no,
    amount: amount.amount,
    currency: amount.currency,
    settlement: null,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.notify_id,
  };
  switch (state) {
    case "SUCCESS":
      return paymentSucceededCallback(base);
    case "AUTHORIZED": {
      const expiresAt = n.auth_expire_time ? fromChinaTime(n.auth_expire_time) : null;
      if (!expiresAt) return { ok: false, reason: "malformed", detail: "AUTHORIZED without auth_expire_time" };
      return paymentAuthorizedCallback(base, expiresAt.toISOString());
    }
    case "FAILED":
    case "CLOSED":
      return paymentFailedCallback(base, bankErrorCode(n.err_code, state), message(n));
    case "VOIDED":
    case "CANCELED":
      return paymentFailedCallback(base, reversedStateCode(state), `${state}: ${message(n)}`);
    case "PROCESSING":
    case "PAYING":
      return { ok: false, reason: "not_final", detail: `trade_state ${state}` };
    default:
      return assertNever(state, "bank trade_state");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Operations: pre-authorization capture and void, same-day cancel, refund. All answered at once.

const KIND_OF_OP_TYPE: Record<BankOpType, OperationKind> = {
  CAPTURE: "capture",
  VOID: "void",
  CANCEL: "cancel",
  REFUND: "refund",
};

/**
 * Our operation → the bank's request. `request_no` is our operation id (the bank's idempotency key per
 * op_type); the order is named by our reference and, once we know it, the bank's serial. Every kind
 * carries its amount: the bank checks a void or cancel against the whole order instead of assuming it.
 */
export function toBankOperationParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return {
    merchant_no: endpoint.merchantId,
    order_no: req.attemptId,
    ...(req.channelTxnId ? { bank_txn_no: req.channelTxnId } : {}),
    op_type: BANK_OPERATIONS[req.kind].opType,
    request_no: req.operationId,
    op_amount: toDecimal(req.amount, req.currency),
    currency: req.currency,
    order_amount: toDecimal(req.paymentAmount, req.currency),
    reason: req.reason ?? "",
    notify_url: req.callbackUrl,
    timestamp: toChinaCompact(now),
    nonce: randomNonce(),
  };
}

/** The bank's operation query: by op_type and our request number (for a refund, the refund query). */
export function toBankOperationQueryParams(
  req: OperationRequest,
  endpoint: ChannelEndpoint,
  now: Date,
): Record<string, string> {
  return {
    merchant_no: endpoint.merchantId,
    op_type: BANK_OPERATIONS[req.kind].opType,
    request_no: req.operationId,
    timestamp: toChinaCompact(now),
    nonce: randomNonce(),
  };
}

/**
 * The bank's refusal of an operation (rsp_code, or op_err_code of a failed operation) → our code; null for
 * a code that does not say the operation was refused.
 */
export function bankOperationRefusal(code: string | undefined): OperationFailureCode | null {
  switch (code) {
    case "4001":
      return "flow_not_supported";
    case "4002":
      return "invalid_state";
    case "4003":
      return "cancel_window_closed";
    case "4004":
      return "not_settled";
    case "4005":
      return "refund_window_closed";
    case "4006":
      return "refund_limit_reached";
    case "4007":
      return "amount_exceeds_refundable";
    case "4008":
      return "amount_exceeds_authorized";
    case "4009":
      return "authorization_expired";
    case "2001": // PARAM_ERROR
    case "2002": // SIGN_ERROR
    case "2004": // CURRENCY_ERROR
    case "2005": // MERCHANT_ERROR
    case "3004": // the original order does not exist at the bank: nothing to act on
    case "E1001": // the bank declined the operation itself
      return "channel_rejected";
    case "9999":
      return "channel_unavailable";
    default:
      return null;
  }
}

function opMessage(a: { op_err_code?: string | undefined; op_err_msg?: string | undefined }): string {
  return `${a.op_err_code ?? "no code"}: ${a.op_err_msg ?? "no message"}`;
}

/** One operation record the bank answered (rsp_code 0000) → our outcome. */
function bankOperationRecordOutcome(req: OperationRequest, a: BankOperationAnswer): OperationOutcome {
  if (!a.op_state || !a.op_txn_no) return operationUnknown("bank answered 0000 without op_state or op_txn_no");
  // An answer about another operation than ours says nothing about ours.
  if (a.request_no !== req.operationId || a.op_type !== BANK_OPERATIONS[req.kind].opType)
    return operationUnknown(`bank answered about ${a.op_type ?? "?"} ${a.request_no ?? "?"}`);
  switch (a.op_state) {
    case "SUCCESS":
      return operationSucceeded(
        a.op_txn_no,
        readDecimal(a.op_amount, a.op_currency),
        "bank answered SUCCESS without a readable op_amount and op_currency",
      );
    case "PROCESSING":
      return { status: "pending", channelOpId: a.op_txn_no };
    case "FAILED":
      return operationFailed(bankOperationRefusal(a.op_err_code) ?? "channel_rejected", opMessage(a));
    default:
      return assertNever(a.op_state, "bank op_state");
  }
}

/** An operation answer → our outcome. */
export function bankOperationOutcome(req: OperationRequest, a: BankOperationAnswer): OperationOutcome {
  if (a.rsp_code === "0000") return bankOperationRecordOutcome(req, a);
  // Including 3001 REQUEST_CONFLICT: this request number exists at the bank, so the operation may be done.
  return refusalOutcome(
    bankOperationRefusal(a.rsp_code),
    `${a.rsp_code}: ${a.rsp_msg ?? "no message"}`,
    `bank rsp_code ${a.rsp_code}: ${message(a)}`,
  );
}

/** An operation query answer → our outcome; a refused query tells nothing about the operation. */
export function bankOperationQueryOutcome(req: OperationRequest, a: BankOperationAnswer): OperationQueryOutcome {
  switch (a.rsp_code) {
    case "0000":
      return bankOperationRecordOutcome(req, a);
    case "3004":
      return { status: "not_found" };
    default:
      return operationUnknown(`bank operation query rsp_code ${a.rsp_code}: ${message(a)}`);
  }
}

export function bankOperationNotificationToCallback(n: BankOperationNotification): ParsedCallback {
  const moved = readDecimal(n.op_amount, n.op_currency);
  if (!moved) return { ok: false, reason: "malformed", detail: `bad op_amount ${n.op_amount} ${n.op_currency}` };
  const occurredAt = (n.op_time && fromChinaTime(n.op_time)) || fromChinaTime(n.notify_time);
  if (!occurredAt) return { ok: false, reason: "malformed", detail: "bad op_time/notify_time" };
  const base: OperationCallbackBase = {
    channel: "bank_direct",
    kind: KIND_OF_OP_TYPE[n.op_type],
    operationId: n.request_no,
    channelOpId: n.op_txn_no,
    amount: moved.amount,
    currency: moved.currency,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.notify_id,
  };
  switch (n.op_state) {
    case "SUCCESS":
      return operationSucceededCallback(base);
    case "FAILED":
      return operationFailedCallback(base, bankOperationRefusal(n.op_err_code) ?? "channel_rejected", opMessage(n));
    case "PROCESSING":
      return { ok: false, reason: "not_final", detail: `op_state ${n.op_state}` };
    default:
      return assertNever(n.op_state, "bank op_state");
  }
}
