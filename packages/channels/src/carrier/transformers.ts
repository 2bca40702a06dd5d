import { encodePassthrough } from "../shared/adapter.ts";
import { assertNever, failed, unknown, type FailureCode } from "../shared/outcomes.ts";
import type {
  CallbackResult,
  ChannelEndpoint,
  ChannelOutcome,
  ParsedCallback,
  PayRequest,
  QueryOutcome,
} from "../types.ts";
import type { CarrierAnswer, CarrierCharge, CarrierChargeStatus, CarrierEvent } from "./client.ts";

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
      return { status: "succeeded", channelTxnId: c.chargeId, settlement: null };
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
  const base: Omit<CallbackResult, "status" | "failureCode" | "failureMessage"> = {
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
      return { ok: true, result: { ...base, status: "succeeded", failureCode: null, failureMessage: null } };
    case "failed":
      return {
        ok: true,
        result: { ...base, status: "failed", failureCode: outcome.code, failureMessage: outcome.message },
      };
    case "requires_action":
    case "pending":
    case "unknown":
      return { ok: false, reason: "not_final", detail: `charge ${c.status}` };
    default:
      return assertNever(outcome, "carrier outcome");
  }
}
