import { fromDecimalString, toDecimalString, type Money } from "@pps/money";
import { encodePassthrough } from "../shared/adapter.ts";
import { assertNever, failed, unknown, type FailureCode } from "../shared/outcomes.ts";
import type { CallbackResult, ChannelOutcome, ParsedCallback, PayRequest, QueryOutcome } from "../types.ts";
import type { PaypalAnswer, PaypalCaptureStatus, PaypalError, PaypalOrder, PaypalWebhook } from "./client.ts";

export function toPaypalOrderBody(req: PayRequest): string {
  return JSON.stringify({
    intent: "CAPTURE",
    purchase_units: [
      {
        reference_id: req.attemptId,
        custom_id: encodePassthrough(req.metadata),
        description: req.subject,
        amount: {
          currency_code: req.currency,
          value: toDecimalString({ amount: req.amount, currency: req.currency } as Money),
        },
      },
    ],
    application_context: {
      return_url: req.returnUrl,
      cancel_url: req.returnUrl,
      // Real PayPal webhooks are registered per app; the simulated acquirer takes the URL per order.
      webhook_url: req.callbackUrl,
      expires_at: req.expiresAt,
    },
  });
}

/** PayPal's reason for a declined capture or a voided order → our code. */
export function paypalFailureCode(reason: string | undefined): FailureCode {
  switch (reason) {
    case "INSUFFICIENT_FUNDS":
      return "insufficient_funds";
    case "INSTRUMENT_DECLINED":
    case "TRANSACTION_REFUSED":
    case "PAYER_CANNOT_PAY":
      return "card_declined";
    case "PAYER_CANCELED":
      return "payer_canceled";
    case "EXPIRED":
    case "PAYER_ACTION_EXPIRED":
      return "expired";
    default:
      return "card_declined";
  }
}

type Settlement = { amount: number; currency: string; fxRate: string } | null;
type Capture = NonNullable<NonNullable<PaypalOrder["purchase_units"][number]["payments"]>["captures"]>[number];

function settlementOf(capture: Capture): Settlement | "malformed" {
  const b = capture.seller_receivable_breakdown;
  if (!b?.exchange_rate || !b.receivable_amount) return null;
  try {
    const settled = fromDecimalString(b.receivable_amount.value, b.receivable_amount.currency_code);
    return { amount: settled.amount, currency: settled.currency, fxRate: b.exchange_rate.value };
  } catch {
    return "malformed";
  }
}

function captureOutcome(status: PaypalCaptureStatus, capture: Capture, orderId: string): ChannelOutcome {
  switch (status) {
    case "COMPLETED":
    case "REFUNDED": // it was captured; refunds are a later, separate matter
    case "PARTIALLY_REFUNDED": {
      const settlement = settlementOf(capture);
      if (settlement === "malformed") return unknown("paypal capture with an unreadable settlement");
      return { status: "succeeded", channelTxnId: orderId, settlement };
    }
    case "PENDING":
      return { status: "pending", channelTxnId: orderId };
    case "DECLINED":
    case "FAILED":
      return failed(
        paypalFailureCode(capture.status_details?.reason),
        `capture ${status} ${capture.status_details?.reason ?? ""}`.trim(),
        orderId,
      );
    default:
      return assertNever(status, "paypal capture status");
  }
}

export function paypalOrderToOutcome(order: PaypalOrder): ChannelOutcome {
  const status = order.status;
  switch (status) {
    case "CREATED":
    case "SAVED":
    case "PAYER_ACTION_REQUIRED": {
      const link = order.links?.find((l) => l.rel === "payer-action" || l.rel === "approve");
      return link
        ? { status: "requires_action", channelTxnId: order.id, action: { type: "redirect", url: link.href } }
        : { status: "pending", channelTxnId: order.id };
    }
    case "APPROVED":
      return { status: "pending", channelTxnId: order.id };
    case "COMPLETED": {
      const capture = order.purchase_units[0]?.payments?.captures[0];
      return capture
        ? captureOutcome(capture.status, capture, order.id)
        : unknown("paypal order COMPLETED without a capture");
    }
    case "VOIDED":
      return failed(
        paypalFailureCode(order.status_details?.reason),
        `VOIDED ${order.status_details?.reason ?? ""}`.trim(),
        order.id,
      );
    default:
      return assertNever(status, "paypal order status");
  }
}

function errorMessage(e: PaypalError): string {
  const issues = e.details?.map((d) => d.issue).join(",") ?? "";
  return [e.name, issues, e.message].filter(Boolean).join(" ");
}

export function paypalCreateOutcome(a: PaypalAnswer): ChannelOutcome {
  if ("order" in a) return paypalOrderToOutcome(a.order);
  const issue = a.error.details?.[0]?.issue;
  switch (a.error.name) {
    case "UNPROCESSABLE_ENTITY":
      switch (issue) {
        case "INSTRUMENT_DECLINED":
        case "INSUFFICIENT_FUNDS":
        case "TRANSACTION_REFUSED":
        case "PAYER_CANNOT_PAY":
          return failed(paypalFailureCode(issue), errorMessage(a.error));
        case "CURRENCY_NOT_SUPPORTED":
          return failed("currency_not_supported", errorMessage(a.error));
        default:
          // REQUEST_ID_CONFLICT (our reference reused with other parameters) and anything new.
          return unknown(`paypal ${errorMessage(a.error)}`);
      }
    case "INVALID_REQUEST":
    case "AUTHENTICATION_FAILURE":
    case "NOT_AUTHORIZED":
      return failed("channel_rejected", errorMessage(a.error));
    case "SERVICE_UNAVAILABLE":
      return failed("channel_unavailable", errorMessage(a.error));
    default:
      return unknown(`paypal ${errorMessage(a.error)}`);
  }
}

export function paypalQueryOutcome(a: PaypalAnswer): QueryOutcome {
  if ("order" in a) return paypalOrderToOutcome(a.order);
  if (a.error.name === "RESOURCE_NOT_FOUND") return { status: "not_found" };
  return unknown(`paypal query ${errorMessage(a.error)}`);
}

export function paypalWebhookToCallback(w: PaypalWebhook): ParsedCallback {
  const order = w.resource;
  const unit = order.purchase_units[0]!;
  let amount: Money;
  try {
    amount = fromDecimalString(unit.amount.value, unit.amount.currency_code);
  } catch {
    return { ok: false, reason: "malformed", detail: `bad amount ${unit.amount.value} ${unit.amount.currency_code}` };
  }
  const occurredAt = new Date(order.update_time ?? w.create_time);
  if (Number.isNaN(occurredAt.getTime())) return { ok: false, reason: "malformed", detail: "bad update_time" };
  const outcome = paypalOrderToOutcome(order);
  const base: Omit<CallbackResult, "status" | "failureCode" | "failureMessage" | "settlement"> = {
    channel: "paypal",
    attemptId: unit.reference_id,
    channelTxnId: order.id,
    amount: amount.amount,
    currency: amount.currency,
    occurredAt: occurredAt.toISOString(),
    notificationId: w.id,
  };
  switch (outcome.status) {
    case "succeeded":
      return {
        ok: true,
        result: {
          ...base,
          status: "succeeded",
          settlement: outcome.settlement,
          failureCode: null,
          failureMessage: null,
        },
      };
    case "failed":
      return {
        ok: true,
        result: {
          ...base,
          status: "failed",
          settlement: null,
          failureCode: outcome.code,
          failureMessage: outcome.message,
        },
      };
    case "requires_action":
    case "pending":
      return { ok: false, reason: "not_final", detail: `${w.event_type} order ${order.status}` };
    case "unknown":
      return { ok: false, reason: "malformed", detail: outcome.reason };
    default:
      return assertNever(outcome, "paypal outcome");
  }
}
