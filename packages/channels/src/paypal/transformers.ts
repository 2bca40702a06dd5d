import type { Money } from "@pps/money";
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
  unknown,
  type FailureCode,
  type OperationCallbackBase,
} from "../shared/outcomes.ts";
import type {
  ChannelOutcome,
  OperationOutcome,
  OperationQueryOutcome,
  OperationRequest,
  ParsedCallback,
  PayRequest,
  QueryOutcome,
} from "../types.ts";
import {
  paypalAuthorizationSchema,
  paypalCaptureSchema,
  paypalOrderSchema,
  paypalRefundSchema,
  type PaypalAnswer,
  type PaypalAuthorization,
  type PaypalCapture,
  type PaypalError,
  type PaypalOrder,
  type PaypalRefund,
  type PaypalResourceAnswer,
  type PaypalWebhook,
} from "./client.ts";

/** A PayPal money object in minor units, or null when it does not read. */
function moneyOf(m: { currency_code: string; value: string }): Money | null {
  return readDecimal(m.value, m.currency_code);
}

export function toPaypalOrderBody(req: PayRequest): string {
  return JSON.stringify({
    // AUTHORIZE: the approved order holds the money (an authorization) until we capture or void it.
    intent: req.captureMethod === "manual" ? "AUTHORIZE" : "CAPTURE",
    purchase_units: [
      {
        reference_id: req.attemptId,
        custom_id: encodePassthrough(req.metadata),
        description: req.subject,
        amount: { currency_code: req.currency, value: toDecimal(req.amount, req.currency) },
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

function settlementOf(capture: PaypalCapture): Settlement | "malformed" {
  const b = capture.seller_receivable_breakdown;
  if (!b?.exchange_rate || !b.receivable_amount) return null;
  const settled = moneyOf(b.receivable_amount);
  return settled ? { amount: settled.amount, currency: settled.currency, fxRate: b.exchange_rate.value } : "malformed";
}

function captureOutcome(capture: PaypalCapture, orderId: string): ChannelOutcome {
  const status = capture.status;
  switch (status) {
    case "COMPLETED":
    case "REFUNDED": // it was captured; refunds are a later, separate matter
    case "PARTIALLY_REFUNDED": {
      const settlement = settlementOf(capture);
      if (settlement === "malformed") return unknown("paypal capture with an unreadable settlement");
      // What PayPal took: the capture's own amount (less than the order's after a partial capture).
      const taken = moneyOf(capture.amount);
      if (!taken) return unknown("paypal capture with an unreadable amount");
      return {
        status: "succeeded",
        channelTxnId: orderId,
        amount: taken.amount,
        currency: taken.currency,
        settlement,
      };
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

/** An AUTHORIZE order once approved: held, captured, or released (voided by us or lapsed). */
function authorizationOutcome(
  authorization: PaypalAuthorization,
  capture: PaypalCapture | undefined,
  orderId: string,
): ChannelOutcome {
  const status = authorization.status;
  switch (status) {
    case "CREATED": {
      const held = moneyOf(authorization.amount);
      const expiresAt = authorization.expiration_time ? new Date(authorization.expiration_time) : null;
      if (!held || !expiresAt || Number.isNaN(expiresAt.getTime()))
        return unknown("paypal authorization without a readable amount or expiration_time");
      return {
        status: "authorized",
        channelTxnId: orderId,
        amount: held.amount,
        currency: held.currency,
        expiresAt: expiresAt.toISOString(),
      };
    }
    case "CAPTURED":
    case "PARTIALLY_CAPTURED":
      return capture ? captureOutcome(capture, orderId) : unknown(`paypal authorization ${status} without a capture`);
    case "PENDING":
      return { status: "pending", channelTxnId: orderId };
    case "DENIED":
      return failed(
        "card_declined",
        `authorization DENIED ${authorization.status_details?.reason ?? ""}`.trim(),
        orderId,
      );
    case "VOIDED":
    case "EXPIRED":
      // Released with nothing kept (voided, or the honour period ran out). Our failure codes have no
      // "released by the merchant": expired is the nearest, and the message says which it was.
      return failed("expired", `authorization ${status}`, orderId);
    default:
      return assertNever(status, "paypal authorization status");
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
      const payments = order.purchase_units[0]?.payments;
      const authorization = payments?.authorizations?.[0];
      const capture = payments?.captures?.[0];
      if (authorization) return authorizationOutcome(authorization, capture, order.id);
      return capture ? captureOutcome(capture, order.id) : unknown("paypal order COMPLETED without a capture");
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

function orderWebhookToCallback(w: PaypalWebhook, order: PaypalOrder): ParsedCallback {
  const unit = order.purchase_units[0]!;
  const ordered = moneyOf(unit.amount);
  if (!ordered)
    return { ok: false, reason: "malformed", detail: `bad amount ${unit.amount.value} ${unit.amount.currency_code}` };
  const occurredAt = new Date(order.update_time ?? w.create_time);
  if (Number.isNaN(occurredAt.getTime())) return { ok: false, reason: "malformed", detail: "bad update_time" };
  const outcome = paypalOrderToOutcome(order);
  const base = {
    channel: "paypal" as const,
    attemptId: unit.reference_id,
    channelTxnId: order.id,
    occurredAt: occurredAt.toISOString(),
    notificationId: w.id,
  };
  switch (outcome.status) {
    case "succeeded":
      return paymentSucceededCallback({
        ...base,
        amount: outcome.amount,
        currency: outcome.currency,
        settlement: outcome.settlement,
      });
    case "authorized":
      return paymentAuthorizedCallback(
        { ...base, amount: outcome.amount, currency: outcome.currency, settlement: null },
        outcome.expiresAt,
      );
    case "failed":
      return paymentFailedCallback(
        { ...base, amount: ordered.amount, currency: ordered.currency, settlement: null },
        outcome.code,
        outcome.message,
      );
    case "requires_action":
    case "pending":
      return { ok: false, reason: "not_final", detail: `${w.event_type} order ${order.status}` };
    case "unknown":
      return { ok: false, reason: "malformed", detail: outcome.reason };
    default:
      return assertNever(outcome, "paypal outcome");
  }
}

/** The result of a capture or refund told by webhook (PAYMENT.CAPTURE.*), tied to us by its invoice_id. */
function operationWebhookToCallback(
  w: PaypalWebhook,
  kind: "capture" | "refund",
  resource: PaypalCapture | PaypalRefund,
): ParsedCallback {
  if (!resource.invoice_id) return { ok: false, reason: "malformed", detail: `${kind} without invoice_id` };
  const outcome =
    kind === "capture"
      ? captureToOperation(resource as PaypalCapture, resource.invoice_id)
      : refundToOperation(resource as PaypalRefund, resource.invoice_id);
  const occurredAt = new Date(resource.update_time ?? resource.create_time ?? w.create_time);
  if (Number.isNaN(occurredAt.getTime())) return { ok: false, reason: "malformed", detail: "bad update_time" };
  const moved = moneyOf(resource.amount);
  if (!moved) return { ok: false, reason: "malformed", detail: `bad ${kind} amount` };
  const base: OperationCallbackBase = {
    channel: "paypal",
    kind,
    operationId: resource.invoice_id,
    channelOpId: resource.id,
    amount: moved.amount,
    currency: moved.currency,
    occurredAt: occurredAt.toISOString(),
    notificationId: w.id,
  };
  switch (outcome.status) {
    case "succeeded":
      return operationSucceededCallback(base);
    case "failed":
      return operationFailedCallback(base, outcome.code, outcome.message);
    case "pending":
      return { ok: false, reason: "not_final", detail: `${w.event_type} ${kind} ${resource.status}` };
    case "unknown":
      return { ok: false, reason: "malformed", detail: outcome.reason };
    default:
      return assertNever(outcome, "paypal operation outcome");
  }
}

/**
 * A webhook by what it carries: an order (CHECKOUT.ORDER.*: the payment), a refund (PAYMENT.CAPTURE.REFUNDED)
 * or a capture of ours (PAYMENT.CAPTURE.*, with our invoice_id). Authorization events (PAYMENT.AUTHORIZATION.*)
 * carry no number of ours: the void's own answer tells its result, so they are acknowledged and ignored.
 */
export function paypalWebhookToCallback(w: PaypalWebhook): ParsedCallback {
  const type = w.resource_type ?? (w.event_type.startsWith("CHECKOUT.ORDER.") ? "checkout-order" : "");
  switch (type) {
    case "checkout-order": {
      const order = paypalOrderSchema.safeParse(w.resource);
      return order.success
        ? orderWebhookToCallback(w, order.data)
        : { ok: false, reason: "malformed", detail: "unexpected order shape" };
    }
    case "refund": {
      const refund = paypalRefundSchema.safeParse(w.resource);
      return refund.success
        ? operationWebhookToCallback(w, "refund", refund.data)
        : { ok: false, reason: "malformed", detail: "unexpected refund shape" };
    }
    case "capture": {
      const capture = paypalCaptureSchema.safeParse(w.resource);
      if (!capture.success) return { ok: false, reason: "malformed", detail: "unexpected capture shape" };
      // A sale's capture has no invoice_id of ours: its order event tells the payment.
      if (!capture.data.invoice_id)
        return { ok: false, reason: "not_final", detail: `${w.event_type}: the order event tells this payment` };
      return operationWebhookToCallback(w, "capture", capture.data);
    }
    case "authorization":
      return paypalAuthorizationSchema.safeParse(w.resource).success
        ? { ok: false, reason: "not_final", detail: `${w.event_type}: told by the void's answer` }
        : { ok: false, reason: "malformed", detail: "unexpected authorization shape" };
    default:
      return { ok: false, reason: "not_final", detail: `${w.event_type}: not an event we act on` };
  }
}

// Operations: capture and void of an authorization, refunds of a capture. All answered at once.

export function toPaypalCaptureBody(req: OperationRequest): string {
  return JSON.stringify({
    amount: { currency_code: req.currency, value: toDecimal(req.amount, req.currency) },
    // One capture per authorization: the rest of the hold is released with it.
    final_capture: true,
    invoice_id: req.operationId,
    ...(req.reason ? { note_to_payer: req.reason } : {}),
  });
}

export function toPaypalRefundBody(req: OperationRequest): string {
  return JSON.stringify({
    // In the payment's currency: PayPal converts to what it settled to us (CNY) at its own rate.
    amount: { currency_code: req.currency, value: toDecimal(req.amount, req.currency) },
    invoice_id: req.operationId,
    ...(req.reason ? { note_to_payer: req.reason } : {}),
  });
}

/** The authorization and the capture of an order, where the operations are addressed. */
export function paypalOrderPayments(order: PaypalOrder): {
  authorization: PaypalAuthorization | null;
  capture: PaypalCapture | null;
} {
  const payments = order.purchase_units[0]?.payments;
  return { authorization: payments?.authorizations?.[0] ?? null, capture: payments?.captures?.[0] ?? null };
}

function detail(resource: { status: string; status_details?: { reason: string } | undefined }): string {
  return [resource.status, resource.status_details?.reason].filter(Boolean).join(" ");
}

/** An answer about another request than ours is no answer about ours. */
function foreign(resource: { invoice_id?: string | undefined }, operationId: string): boolean {
  return resource.invoice_id !== undefined && resource.invoice_id !== operationId;
}

function captureToOperation(capture: PaypalCapture, operationId: string): OperationOutcome {
  if (foreign(capture, operationId)) return operationUnknown(`paypal capture for ${capture.invoice_id}`);
  const status = capture.status;
  switch (status) {
    case "COMPLETED":
    case "PARTIALLY_REFUNDED": // captured, and refunded since: the capture itself succeeded
    case "REFUNDED":
      return operationSucceeded(capture.id, moneyOf(capture.amount), "paypal capture with an unreadable amount");
    case "PENDING":
      return { status: "pending", channelOpId: capture.id };
    case "DECLINED":
    case "FAILED":
      return operationFailed("channel_rejected", `capture ${detail(capture)}`);
    default:
      return assertNever(status, "paypal capture status");
  }
}

function voidToOperation(authorization: PaypalAuthorization): OperationOutcome {
  switch (authorization.status) {
    case "VOIDED":
      return operationSucceeded(
        authorization.id,
        moneyOf(authorization.amount),
        "paypal authorization with an unreadable amount",
      );
    case "EXPIRED":
      return operationFailed("authorization_expired", `authorization ${detail(authorization)}`);
    default:
      return operationUnknown(`paypal void answered with authorization ${authorization.status}`);
  }
}

function refundToOperation(refund: PaypalRefund, operationId: string): OperationOutcome {
  if (foreign(refund, operationId)) return operationUnknown(`paypal refund for ${refund.invoice_id}`);
  const status = refund.status;
  switch (status) {
    case "COMPLETED":
      return operationSucceeded(refund.id, moneyOf(refund.amount), "paypal refund with an unreadable amount");
    case "PENDING":
      return { status: "pending", channelOpId: refund.id };
    case "FAILED":
    case "CANCELLED":
      return operationFailed("channel_rejected", `refund ${detail(refund)}`);
    default:
      return assertNever(status, "paypal refund status");
  }
}

/**
 * PayPal's refusal of an operation → our outcome. PayPal answers a repeat of a PayPal-Request-Id with the
 * first result, so a refusal that the authorization is already captured or voided is about another request
 * than ours: the authorization is not in a state to take this one.
 */
export function paypalOperationError(e: PaypalError): OperationOutcome {
  const text = errorMessage(e);
  const issue = e.details?.[0]?.issue;
  switch (e.name) {
    case "SERVICE_UNAVAILABLE":
      return operationFailed("channel_unavailable", text);
    case "RESOURCE_NOT_FOUND":
      // No such authorization or capture at PayPal: nothing to act on.
      return operationFailed("invalid_state", text);
    case "NOT_AUTHORIZED":
      return operationFailed(issue === "PERMISSION_DENIED" ? "flow_not_supported" : "channel_rejected", text);
    case "AUTHENTICATION_FAILURE":
    case "INVALID_REQUEST":
      return operationFailed("channel_rejected", text);
    case "UNPROCESSABLE_ENTITY":
      switch (issue) {
        case "AUTHORIZATION_EXPIRED":
          return operationFailed("authorization_expired", text);
        case "MAX_CAPTURE_AMOUNT_EXCEEDED":
          return operationFailed("amount_exceeds_authorized", text);
        case "AUTHORIZATION_ALREADY_CAPTURED":
        case "AUTHORIZATION_VOIDED":
        case "PREVIOUSLY_CAPTURED":
        case "PREVIOUSLY_VOIDED":
          return operationFailed("invalid_state", text);
        case "REFUND_AMOUNT_EXCEEDED":
        case "CAPTURE_FULLY_REFUNDED":
          return operationFailed("amount_exceeds_refundable", text);
        case "REFUND_TIME_LIMIT_EXCEEDED":
          return operationFailed("refund_window_closed", text);
        case "MAX_NUMBER_OF_REFUNDS_EXCEEDED":
          return operationFailed("refund_limit_reached", text);
        case "PENDING_CAPTURE":
          return operationFailed("not_settled", text);
        case "TRANSACTION_REFUSED":
          return operationFailed("channel_rejected", text);
        default:
          // REQUEST_ID_CONFLICT (our number reused with other parameters) and anything new.
          return operationUnknown(`paypal ${text}`);
      }
    default:
      return operationUnknown(`paypal ${text}`);
  }
}

export function paypalCaptureOutcome(a: PaypalResourceAnswer<PaypalCapture>, operationId: string): OperationOutcome {
  return "resource" in a ? captureToOperation(a.resource, operationId) : paypalOperationError(a.error);
}

export function paypalVoidOutcome(a: PaypalResourceAnswer<PaypalAuthorization>): OperationOutcome {
  return "resource" in a ? voidToOperation(a.resource) : paypalOperationError(a.error);
}

export function paypalRefundOutcome(a: PaypalResourceAnswer<PaypalRefund>, operationId: string): OperationOutcome {
  return "resource" in a ? refundToOperation(a.resource, operationId) : paypalOperationError(a.error);
}

export function paypalRefundQueryOutcome(
  a: PaypalResourceAnswer<PaypalRefund>,
  operationId: string,
): OperationQueryOutcome {
  if ("resource" in a) return refundToOperation(a.resource, operationId);
  if (a.error.name === "RESOURCE_NOT_FOUND") return { status: "not_found" };
  return operationUnknown(`paypal refund query ${errorMessage(a.error)}`);
}

/**
 * A capture or a void, by the order's details: PayPal has no lookup by our request number for them, but an
 * authorization is settled once, so its state is the result of the one capture or void made on it (the
 * capture's own amount; the whole hold for a void). Anything else: none was made.
 */
export function paypalOrderOperationOutcome(
  a: PaypalAnswer,
  req: Pick<OperationRequest, "kind" | "operationId">,
): OperationQueryOutcome {
  if ("error" in a) {
    if (a.error.name === "RESOURCE_NOT_FOUND") return { status: "not_found" };
    return operationUnknown(`paypal order query ${errorMessage(a.error)}`);
  }
  const { authorization, capture } = paypalOrderPayments(a.order);
  if (!authorization) return { status: "not_found" };
  if (req.kind === "void")
    return authorization.status === "VOIDED" ? voidToOperation(authorization) : { status: "not_found" };
  if (authorization.status !== "CAPTURED" && authorization.status !== "PARTIALLY_CAPTURED")
    return { status: "not_found" };
  return capture
    ? captureToOperation(capture, req.operationId)
    : operationUnknown("paypal authorization CAPTURED without a capture");
}
