import { fromDecimalString, toDecimalString, type Money } from "@pps/money";
import { assertNever, failed, unknown, type FailureCode } from "../shared/outcomes.ts";
import { fromChinaTime, toChinaCompact } from "../shared/time.ts";
import { encodePassthrough, randomNonce } from "../shared/adapter.ts";
import type {
  CallbackResult,
  ChannelEndpoint,
  ChannelOutcome,
  ParsedCallback,
  PayRequest,
  QueryOutcome,
} from "../types.ts";
import type { BankAnswer, BankNotification, BankTradeState } from "./client.ts";

export function toBankPayParams(req: PayRequest, endpoint: ChannelEndpoint, now: Date): Record<string, string> {
  return {
    merchant_no: endpoint.merchantId,
    order_no: req.attemptId,
    amount: toDecimalString({ amount: req.amount, currency: req.currency } as Money),
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
    case "SUCCESS":
      return { status: "succeeded", channelTxnId: txnId, settlement: null };
    case "FAILED":
    case "CLOSED":
      return failed(bankErrorCode(a.err_code, state), message(a), txnId);
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
  let amount: Money;
  try {
    amount = fromDecimalString(n.amount, n.currency);
  } catch {
    return { ok: false, reason: "malformed", detail: `bad amount ${n.amount} ${n.currency}` };
  }
  const occurredAt = (n.pay_time && fromChinaTime(n.pay_time)) || fromChinaTime(n.notify_time);
  if (!occurredAt) return { ok: false, reason: "malformed", detail: "bad pay_time/notify_time" };
  const base: Omit<CallbackResult, "status" | "failureCode" | "failureMessage"> = {
    channel: "bank_direct",
    attemptId: n.order_no,
    channelTxnId: n.bank_txn_no,
    amount: amount.amount,
    currency: amount.currency,
    settlement: null,
    occurredAt: occurredAt.toISOString(),
    notificationId: n.notify_id,
  };
  const state = n.trade_state;
  switch (state) {
    case "SUCCESS":
      return { ok: true, result: { ...base, status: "succeeded", failureCode: null, failureMessage: null } };
    case "FAILED":
    case "CLOSED":
      return {
        ok: true,
        result: {
          ...base,
          status: "failed",
          failureCode: bankErrorCode(n.err_code, state),
          failureMessage: message(n),
        },
      };
    case "PROCESSING":
    case "PAYING":
      return { ok: false, reason: "not_final", detail: `trade_state ${state}` };
    default:
      return assertNever(state, "bank trade_state");
  }
}
