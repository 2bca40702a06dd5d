import { encodePassthrough } from "../shared/adapter.ts";
import {
  assertNever,
  failed,
  operationFailed,
  operationFailedCallback,
  operationSucceededCallback,
  operationUnknown,
  paymentFailedCallback,
  paymentSucceededCallback,
  refusalOutcome,
  unknown,
  type FailureCode,
  type OperationCallbackBase,
  type PaymentCallbackBase,
} from "../shared/outcomes.ts";
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
import type {
  CarrierAnswer,
  CarrierCharge,
  CarrierChargeStatus,
  CarrierEvent,
  CarrierRefund,
  CarrierRefundAnswer,
  CarrierRefundEvent,
} from "./client.ts";

/** The carrier bills small amounts only: at most 500.00 CNY per payment. */
export const CARRIER_MAX_AMOUNT = 50_000;

export function toCarrierChargeBody(req: PayRequest & { payer: { phone: string } }, endpoint: ChannelEndpoint): string {
  return JSON.stringify({
    partnerId: endpoint.merchantId,
    partnerOrderId: req.attemptId,
    msisdn: req.payer.phone,
    amount: req.amount,
    currency: req.currency,
    description: req.subject,
    notifyUrl: req.callbackUrl,
    attach: encodePassthrough(req.metadata),
    expiresAt: req.expiresAt,
  });
}

/** The carrier's failureReason → our code. */
export function carrierFailureCode(reason: string | null | undefined, fallback: FailureCode): FailureCode {
  switch (reason) {
    case "INSUFFICIENT_BALANCE":
      return "insufficient_funds";
    case "SUBSCRIBER_BARRED":
    case "DECLINED":
      return "card_declined";
    case "CODE_ATTEMPTS_EXCEEDED":
      return "verification_failed";
    case "PAYER_CANCELED":
      return "payer_canceled";
    case "EXPIRED":
      return "expired";
    default:
      return fallback;
  }
}

function chargeMessage(c: CarrierCharge): string {
  return [c.status, c.failureReason, c.failureMessage].filter(Boolean).join(" ");
}

export function carrierStatusToOutcome(status: CarrierChargeStatus, c: CarrierCharge): ChannelOutcome {
  switch (status) {
    case "PENDING_CONFIRMATION":
      return {
        status: "requires_action",
        channelTxnId: c.chargeId,
        action: { type: "sms_confirmation", phoneMasked: c.msisdnMasked },
      };
    case "PROCESSING":
      return { status: "pending", channelTxnId: c.chargeId };
    case "SUCCEEDED":
      return {
        status: "succeeded",
        channelTxnId: c.chargeId,
        amount: c.amount,
        currency: c.currency,
        settlement: null,
      };
    case "FAILED":
      return failed(carrierFailureCode(c.failureReason, "card_declined"), chargeMessage(c), c.chargeId);
    case "EXPIRED":
      return failed("expired", chargeMessage(c), c.chargeId);
    case "CANCELED":
      return failed("payer_canceled", chargeMessage(c), c.chargeId);
    default:
      return assertNever(status, "carrier charge status");
  }
}

export function carrierCreateOutcome(a: CarrierAnswer): ChannelOutcome {
  if ("charge" in a) return carrierStatusToOutcome(a.charge.status, a.charge);
  const text = `${a.error.code}: ${a.error.message ?? ""}`;
  switch (a.error.code) {
    case "AMOUNT_LIMIT_EXCEEDED":
      return failed("amount_limit_exceeded", text);
    case "CURRENCY_NOT_SUPPORTED":
      return failed("currency_not_supported", text);
    case "INVALID_MSISDN":
      return failed("payer_phone_missing", text);
    case "INVALID_REQUEST":
    case "INVALID_SIGNATURE":
    case "UNKNOWN_PARTNER":
      return failed("channel_rejected", text);
    case "SERVICE_BUSY":
      return failed("channel_unavailable", text);
    default:
      // ORDER_CONFLICT (our reference reused with other parameters) and anything new.
      return unknown(`carrier ${text}`);
  }
}

export function carrierQueryOutcome(a: CarrierAnswer): QueryOutcome {
  if ("charge" in a) return carrierStatusToOutcome(a.charge.status, a.charge);
  if (a.error.code === "NOT_FOUND") return { status: "not_found" };
  return unknown(`carrier query ${a.error.code}: ${a.error.message ?? ""}`);
}

export function carrierEventToCallback(e: CarrierEvent): ParsedCallback {
  const c = e.charge;
  const occurredAt = new Date(c.completedAt ?? e.eventTime);
  if (Number.isNaN(occurredAt.getTime()))
    return { ok: false, reason: "malformed", detail: "bad completedAt/eventTime" };
  const base: PaymentCallbackBase = {
    channel: "carrier",
    attemptId: c.partnerOrderId,
    channelTxnId: c.chargeId,
    amount: c.amount,
    currency: c.currency,
    settlement: null,
    occurredAt: occurredAt.toISOString(),
    notificationId: e.eventId,
  };
  const outcome = carrierStatusToOutcome(c.status, c);
  switch (outcome.status) {
    case "succeeded":
      return paymentSucceededCallback(base);
    case "failed":
      return paymentFailedCallback(base, outcome.code, outcome.message);
    case "requires_action":
    case "pending":
    case "unknown":
    // Carrier billing has no pre-authorization: a charge is never held.
    case "authorized":
      return { ok: false, reason: "not_final", detail: `charge ${c.status}` };
    default:
      return assertNever(outcome, "carrier outcome");
  }
}

// Refunds: back on the subscriber's bill, answered at once.

export function toCarrierRefundBody(req: OperationRequest, endpoint: ChannelEndpoint): string {
  return JSON.stringify({
    partnerId: endpoint.merchantId,
    partnerRefundId: req.operationId,
    // The charge by the carrier's id when we have it, by our order reference otherwise.
    ...(req.channelTxnId ? { chargeId: req.channelTxnId } : {}),
    partnerOrderId: req.attemptId,
    amount: req.amount,
    currency: req.currency,
    reason: req.reason ?? "",
  });
}

/** The carrier's refusal codes (in an error, or as a failed refund's failureReason) → ours; null: not a refusal we know. */
export function carrierRefusalCode(code: string | null | undefined): OperationFailureCode | null {
  switch (code) {
    case "REFUND_AMOUNT_EXCEEDED":
    case "REFUND_AMOUNT_LIMIT_EXCEEDED":
      return "amount_exceeds_refundable";
    case "REFUND_LIMIT_REACHED":
      return "refund_limit_reached";
    case "BILL_PERIOD_CLOSED":
      return "refund_window_closed";
    case "CHARGE_NOT_REFUNDABLE":
    case "NOT_FOUND": // no such charge: nothing to refund
      return "invalid_state";
    case "CHARGE_NOT_SETTLED":
      return "not_settled";
    case "OPERATION_NOT_SUPPORTED":
      return "flow_not_supported";
    case "INVALID_REQUEST":
    case "INVALID_SIGNATURE":
    case "UNKNOWN_PARTNER":
    case "CURRENCY_NOT_SUPPORTED":
      return "channel_rejected";
    case "SERVICE_BUSY":
      return "channel_unavailable";
    default:
      return null;
  }
}

function refundToOperation(r: CarrierRefund, operationId: string): OperationOutcome {
  // An answer about another request than ours is no answer about ours.
  if (r.partnerRefundId !== operationId) return operationUnknown(`carrier refund for ${r.partnerRefundId}`);
  const status = r.status;
  switch (status) {
    case "SUCCEEDED":
      return { status: "succeeded", channelOpId: r.refundId, amount: r.amount, currency: r.currency };
    case "PROCESSING":
      return { status: "pending", channelOpId: r.refundId };
    case "FAILED":
      return operationFailed(
        carrierRefusalCode(r.failureReason) ?? "channel_rejected",
        [status, r.failureReason, r.failureMessage].filter(Boolean).join(" "),
      );
    default:
      return assertNever(status, "carrier refund status");
  }
}

export function carrierRefundOutcome(a: CarrierRefundAnswer, operationId: string): OperationOutcome {
  if ("refund" in a) return refundToOperation(a.refund, operationId);
  const text = `${a.error.code}: ${a.error.message ?? ""}`;
  // REFUND_CONFLICT (our number reused with other parameters) and anything new.
  return refusalOutcome(carrierRefusalCode(a.error.code), text, `carrier ${text}`);
}

export function carrierRefundQueryOutcome(a: CarrierRefundAnswer, operationId: string): OperationQueryOutcome {
  if ("refund" in a) return refundToOperation(a.refund, operationId);
  if (a.error.code === "NOT_FOUND") return { status: "not_found" };
  return operationUnknown(`carrier refund query ${a.error.code}: ${a.error.message ?? ""}`);
}

export function carrierRefundEventToCallback(e: CarrierRefundEvent): ParsedCallback {
  const r = e.refund;
  const occurredAt = new Date(r.completedAt ?? e.eventTime);
  if (Number.isNaN(occurredAt.getTime()))
    return { ok: false, reason: "malformed", detail: "bad completedAt/eventTime" };
  const outcome = refundToOperation(r, r.partnerRefundId);
  const base: OperationCallbackBase = {
    channel: "carrier",
    kind: "refund",
    operationId: r.partnerRefundId,
    channelOpId: r.refundId,
    amount: r.amount,
    currency: r.currency,
    occurredAt: occurredAt.toISOString(),
    notificationId: e.eventId,
  };
  switch (outcome.status) {
    case "succeeded":
      return operationSucceededCallback(base);
    case "failed":
      return operationFailedCallback(base, outcome.code, outcome.message);
    case "pending":
    case "unknown":
      return { ok: false, reason: "not_final", detail: `refund ${r.status}` };
    default:
      return assertNever(outcome, "carrier refund outcome");
  }
}
