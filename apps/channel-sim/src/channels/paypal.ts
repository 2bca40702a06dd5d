import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { PAYPAL_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import { fromDecimalString, money, toDecimalString } from "@pps/money";
import type { AppEnv } from "@pps/runtime";
import { sign, verify } from "@pps/signing";
import { findChargeById } from "../sim/book.ts";
import type { SimDeps } from "../sim/deps.ts";
import { handleOperation, handleOperationQuery } from "../sim/operations.ts";
import { handlePay, handleQuery, originOf, type Parsed } from "../sim/pay-flow.ts";
import { mountPayerPages } from "../sim/payer-pages.ts";
import { randomAlnum } from "./ids.ts";
import { convertToCny } from "./paypal-fx.ts";
import type {
  Charge,
  ChannelProtocol,
  ChargeStatus,
  Rejection,
  RejectionKind,
  RenderContext,
  SimOperation,
  SimOperationKind,
  SimOperationRequest,
  SimPayRequest,
} from "./protocol.ts";

/**
 * paypal: a PayPal-like acquirer for foreign cards (REST JSON). Requests are signed in headers
 * (HMAC-SHA256 of method, path, time and body), answers and webhooks carry transmission headers
 * (HMAC-SHA256 of id|time|merchant|sha256(body)). The payer approves on /paypal/checkout/{id}; an order with
 * intent CAPTURE is captured at once, one with intent AUTHORIZE is authorized (held for the 3-day honour
 * period), then captured once (partially or in full, final_capture), or voided, at /v2/payments. A capture is
 * refunded in parts within 180 days, in its own currency, answered at once. Captures settle in CNY at the
 * fixed rate table of paypal-fx.ts.
 *
 * Ids: the authorization of order X is AUTHX, its capture CAPX; a refund has its own id. Operations carry
 * our request number as PayPal-Request-Id (the idempotency key) and echo it as invoice_id.
 */
const AUTHORIZATION_PREFIX = "AUTH";
const CAPTURE_PREFIX = "CAP";

function orderStatus(charge: Pick<Charge, "status" | "captureMode">): string {
  switch (charge.status as ChargeStatus) {
    case "awaiting_payer":
      return "PAYER_ACTION_REQUIRED";
    case "paying":
      return "APPROVED";
    // Authorized, captured, released or reversed: the order itself is done; its payments tell the rest.
    case "authorized":
    case "succeeded":
    case "canceled":
      return "COMPLETED";
    case "voided":
      return charge.captureMode === "manual" ? "COMPLETED" : "VOIDED";
    case "failed":
    case "closed":
      return "VOIDED";
  }
}

/** Whether the order has an authorization (an AUTHORIZE order the payer approved). */
function hasAuthorization(charge: Charge): boolean {
  return (
    charge.captureMode === "manual" &&
    (charge.status === "authorized" || charge.status === "succeeded" || charge.status === "voided")
  );
}

/** Whether the order has a capture (a sale paid, or an authorization captured). */
function hasCapture(charge: Charge): boolean {
  return (charge.status === "succeeded" || charge.status === "canceled") && charge.capturedAt !== null;
}

function authorizationStatus(charge: Charge): string {
  switch (charge.status) {
    case "succeeded":
      return "CAPTURED";
    case "voided":
      return charge.failureReason === "expired" ? "EXPIRED" : "VOIDED";
    default:
      return "CREATED";
  }
}

/** A capture's state, refunds included (PayPal shows them on the capture). */
function captureStatus(charge: Charge): string {
  if (charge.refundedAmount === 0) return "COMPLETED";
  return charge.refundedAmount >= charge.capturedAmount ? "REFUNDED" : "PARTIALLY_REFUNDED";
}

const iso = (d: Date | null | undefined) => (d ?? new Date()).toISOString();
const amountOf = (amount: number, currency: string) => ({
  currency_code: currency,
  value: toDecimalString(money(amount, currency)),
});

/** What a captured amount settles to us in CNY: the order's own settlement for all of it, the table otherwise. */
function settlementOf(charge: Charge, amount: number): { amount: number; currency: string; fxRate: string } | null {
  if (charge.settleAmount === null || !charge.settleCurrency || !charge.fxRate) return null;
  if (amount === charge.amount)
    return { amount: charge.settleAmount, currency: charge.settleCurrency, fxRate: charge.fxRate };
  return convertToCny(amount, charge.currency);
}

function authorizationJson(charge: Charge, origin: string) {
  const id = `${AUTHORIZATION_PREFIX}${charge.id}`;
  return {
    id,
    status: authorizationStatus(charge),
    amount: amountOf(charge.authorizedAmount || charge.amount, charge.currency),
    custom_id: charge.passthrough ?? undefined,
    expiration_time: charge.authExpiresAt?.toISOString(),
    create_time: iso(charge.paidAt ?? charge.createdAt),
    update_time: iso(charge.updatedAt),
    links: origin
      ? [
          { rel: "capture", href: `${origin}/paypal/v2/payments/authorizations/${id}/capture`, method: "POST" },
          { rel: "void", href: `${origin}/paypal/v2/payments/authorizations/${id}/void`, method: "POST" },
        ]
      : [],
  };
}

function captureJson(charge: Charge, origin: string, invoiceId: string | null) {
  const id = `${CAPTURE_PREFIX}${charge.id}`;
  // A sale's capture is the whole order; an authorization's, what was captured of it.
  const captured = charge.capturedAmount || charge.amount;
  const gross = amountOf(captured, charge.currency);
  const settled = settlementOf(charge, captured);
  return {
    id,
    status: captureStatus(charge),
    amount: gross,
    ...(invoiceId ? { invoice_id: invoiceId } : {}),
    final_capture: true,
    create_time: iso(charge.capturedAt ?? charge.paidAt ?? charge.updatedAt),
    update_time: iso(charge.updatedAt),
    seller_receivable_breakdown: {
      gross_amount: gross,
      ...(settled
        ? {
            exchange_rate: {
              source_currency: charge.currency,
              target_currency: settled.currency,
              value: settled.fxRate,
            },
            receivable_amount: amountOf(settled.amount, settled.currency),
          }
        : {}),
    },
    links: origin
      ? [{ rel: "refund", href: `${origin}/paypal/v2/payments/captures/${id}/refund`, method: "POST" }]
      : [],
  };
}

function refundStatus(op: SimOperation): string {
  return op.status === "succeeded" ? "COMPLETED" : op.status === "processing" ? "PENDING" : "FAILED";
}

function refundJson(op: SimOperation, charge: Charge, origin: string) {
  const gross = amountOf(op.amount, op.currency);
  // Refunded in the payment's currency; what it costs us is its CNY value at the rate of the capture.
  const settled = settlementOf(charge, op.amount);
  return {
    id: op.id,
    status: refundStatus(op),
    ...(op.status === "failed" ? { status_details: { reason: "REFUND_DECLINED" } } : {}),
    amount: gross,
    invoice_id: op.merchantRef,
    ...(op.reason ? { note_to_payer: op.reason } : {}),
    seller_payable_breakdown: {
      gross_amount: gross,
      total_refunded_amount: amountOf(charge.refundedAmount, charge.currency),
      ...(settled
        ? {
            net_amount_breakdown: [
              {
                payable_amount: gross,
                converted_amount: amountOf(settled.amount, settled.currency),
                exchange_rate: {
                  source_currency: charge.currency,
                  target_currency: settled.currency,
                  value: settled.fxRate,
                },
              },
            ],
          }
        : {}),
    },
    create_time: op.createdAt.toISOString(),
    update_time: op.updatedAt.toISOString(),
    links: [
      ...(origin ? [{ rel: "self", href: `${origin}/paypal/v2/payments/refunds/${op.id}`, method: "GET" }] : []),
      ...(origin
        ? [{ rel: "up", href: `${origin}/paypal/v2/payments/captures/${CAPTURE_PREFIX}${charge.id}`, method: "GET" }]
        : []),
    ],
  };
}

function failureIssue(charge: Pick<Charge, "failureReason">): string {
  switch (charge.failureReason) {
    case "insufficient_funds":
      return "INSUFFICIENT_FUNDS";
    case "payer_canceled":
      return "PAYER_CANCELED";
    case "expired":
      return "EXPIRED";
    default:
      return "INSTRUMENT_DECLINED";
  }
}

type ErrorStatus = 400 | 401 | 403 | 404 | 422;

const ERRORS: Record<RejectionKind, [ErrorStatus, string, string | null]> = {
  invalid_request: [400, "INVALID_REQUEST", null],
  amount_limit_exceeded: [400, "INVALID_REQUEST", "AMOUNT_LIMIT_EXCEEDED"],
  invalid_phone: [400, "INVALID_REQUEST", null],
  bank_not_supported: [400, "INVALID_REQUEST", null],
  signature_invalid: [401, "AUTHENTICATION_FAILURE", null],
  unknown_merchant: [401, "AUTHENTICATION_FAILURE", null],
  currency_not_supported: [422, "UNPROCESSABLE_ENTITY", "CURRENCY_NOT_SUPPORTED"],
  order_conflict: [422, "UNPROCESSABLE_ENTITY", "REQUEST_ID_CONFLICT"],
  not_found: [404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID"],
  // The account is not permitted the action (PayPal has no same-day cancel at all).
  flow_not_supported: [403, "NOT_AUTHORIZED", "PERMISSION_DENIED"],
  cancel_window_closed: [403, "NOT_AUTHORIZED", "PERMISSION_DENIED"],
  not_settled: [422, "UNPROCESSABLE_ENTITY", "PENDING_CAPTURE"],
  refund_window_closed: [422, "UNPROCESSABLE_ENTITY", "REFUND_TIME_LIMIT_EXCEEDED"],
  refund_limit_reached: [422, "UNPROCESSABLE_ENTITY", "MAX_NUMBER_OF_REFUNDS_EXCEEDED"],
  amount_exceeds_refundable: [422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED"],
  amount_exceeds_authorized: [422, "UNPROCESSABLE_ENTITY", "MAX_CAPTURE_AMOUNT_EXCEEDED"],
  authorization_expired: [422, "UNPROCESSABLE_ENTITY", "AUTHORIZATION_EXPIRED"],
  invalid_state: [422, "UNPROCESSABLE_ENTITY", "TRANSACTION_REFUSED"],
};

/**
 * The charge an operation request was addressed to, as the route saw it: PayPal names a refusal by what the
 * authorization or capture went through (already captured, voided, fully refunded), which the engine's
 * neutral rejection does not say.
 */
const addressed = new WeakMap<Request, Charge>();

/** PayPal's issue for a refusal of `op` on `charge`, where it is more precise than the table's. */
function preciseIssue(kind: RejectionKind, op: RenderContext["op"], charge: Charge | undefined): string | null {
  if (!charge) return null;
  if (kind === "amount_exceeds_refundable" && charge.refundedAmount >= charge.capturedAmount)
    return "CAPTURE_FULLY_REFUNDED";
  if (kind !== "invalid_state") return null;
  if (op === "capture")
    return charge.status === "succeeded"
      ? "AUTHORIZATION_ALREADY_CAPTURED"
      : charge.status === "voided"
        ? "AUTHORIZATION_VOIDED"
        : null;
  if (op === "void")
    return charge.status === "succeeded"
      ? "PREVIOUSLY_CAPTURED"
      : charge.status === "voided"
        ? "PREVIOUSLY_VOIDED"
        : null;
  if (op === "refund" && charge.status === "canceled") return "CAPTURE_FULLY_REFUNDED";
  return null;
}

export function createPaypalProtocol(keys: DevChannelKeys): ChannelProtocol {
  const transmission = (body: string, merchantId: string) => {
    const id = randomUUID();
    const time = new Date().toISOString();
    return {
      "paypal-transmission-id": id,
      "paypal-transmission-time": time,
      "paypal-transmission-sig": sign(
        "HMAC_SHA256",
        wire.paypalTransmissionPayload(id, time, merchantId, body),
        keys.channelSigningKey,
      ),
      "paypal-auth-algo": "HMACSHA256",
    };
  };
  const send = (c: Context, payload: unknown, status: 200 | 201 | ErrorStatus | 503) => {
    const body = JSON.stringify(payload);
    return c.body(body, status, { "content-type": "application/json", ...transmission(body, keys.merchantId) });
  };
  const error = (name: string, message: string, issue: string | null) => ({
    name,
    message,
    debug_id: randomAlnum(13).toLowerCase(),
    ...(issue ? { details: [{ issue, description: message }] } : {}),
  });
  const order = (charge: Charge, origin: string) => {
    const authorizations = hasAuthorization(charge) ? [authorizationJson(charge, origin)] : null;
    const captures = hasCapture(charge) ? [captureJson(charge, origin, null)] : null;
    return {
      id: charge.id,
      intent: charge.captureMode === "manual" ? "AUTHORIZE" : "CAPTURE",
      status: orderStatus(charge),
      ...(charge.status === "failed" || charge.status === "closed"
        ? { status_details: { reason: failureIssue(charge) } }
        : {}),
      create_time: charge.createdAt.toISOString(),
      update_time: charge.updatedAt.toISOString(),
      purchase_units: [
        {
          reference_id: charge.merchantRef,
          custom_id: charge.passthrough ?? undefined,
          description: charge.subject,
          amount: amountOf(charge.amount, charge.currency),
          ...(authorizations || captures
            ? { payments: { ...(authorizations ? { authorizations } : {}), ...(captures ? { captures } : {}) } }
            : {}),
        },
      ],
      links: [
        ...(origin ? [{ rel: "self", href: `${origin}/paypal/v2/checkout/orders/${charge.id}`, method: "GET" }] : []),
        ...(origin && charge.status === "awaiting_payer"
          ? [{ rel: "payer-action", href: `${origin}/paypal/checkout/${charge.id}`, method: "GET" }]
          : []),
      ],
    };
  };
  const rejectionBody = (op: RenderContext["op"], r: Rejection, seen: Charge | undefined) => {
    const [status, name, issue] = ERRORS[r.kind];
    return { status, body: error(name, r.message, preciseIssue(r.kind, op, seen) ?? issue) };
  };
  /** An operation as PayPal shows it: the capture, the authorization (a void), or the refund. */
  const operationResource = (origin: string, created: boolean, op: SimOperation, charge: Charge) => {
    const kind = op.kind as SimOperationKind;
    switch (kind) {
      case "capture": {
        const capture = captureJson(charge, origin, op.merchantRef);
        if (op.status === "succeeded") return { status: created ? 201 : 200, body: capture } as const;
        return {
          status: created ? 201 : 200,
          body: {
            ...capture,
            amount: amountOf(op.amount, op.currency),
            status: op.status === "processing" ? "PENDING" : "DECLINED",
            ...(op.status === "failed" ? { status_details: { reason: "DECLINED_BY_RISK_FRAUD_FILTERS" } } : {}),
          },
        } as const;
      }
      case "void":
        // A declined void leaves the authorization as it was: PayPal answers it as a refusal.
        return op.status === "failed"
          ? rejectionBody(kind, { kind: "invalid_state", message: "the void was declined" }, undefined)
          : ({ status: 200, body: authorizationJson(charge, origin) } as const);
      case "refund":
        return { status: created ? 201 : 200, body: refundJson(op, charge, origin) } as const;
      case "cancel":
        return rejectionBody(kind, { kind: "flow_not_supported", message: "PayPal has no cancel" }, undefined);
    }
  };
  return {
    id: "paypal",
    capabilities: PAYPAL_CAPABILITIES,
    staleStatus: "paying",
    newTxnId: () => randomAlnum(17),
    validate(req) {
      if (req.product !== "foreign_card")
        return { kind: "invalid_request", message: `product ${req.product} is not offered` };
      return null;
    },
    renderCharge({ c, origin, op, created }, charge) {
      if (op === "pay" && charge.status === "failed") {
        const issue = failureIssue(charge);
        return send(c, error("UNPROCESSABLE_ENTITY", "The requested action could not be performed.", issue), 422);
      }
      return send(c, order(charge, origin), op === "pay" && created ? 201 : 200);
    },
    renderRejection(ctx, r) {
      const { status, body } = rejectionBody(ctx.op, r, addressed.get(ctx.c.req.raw));
      return send(ctx.c, body, status);
    },
    renderBusy({ c }) {
      return send(c, error("SERVICE_UNAVAILABLE", "system busy, try again later", null), 503);
    },
    renderCallback(charge, notificationId, at) {
      const resource = order(charge, "");
      const eventType = `CHECKOUT.ORDER.${resource.status === "PAYER_ACTION_REQUIRED" ? "SAVED" : resource.status}`;
      const body = JSON.stringify({
        id: `WH-${notificationId}`,
        event_version: "1.0",
        create_time: at.toISOString(),
        resource_type: "checkout-order",
        event_type: eventType,
        summary: `Order ${resource.status}`,
        resource,
      });
      return { contentType: "application/json", headers: transmission(body, charge.merchantId), body };
    },
    ackAccepted: (status) => status >= 200 && status < 300,
    renderOperation(ctx, op, charge) {
      const { status, body } = operationResource(ctx.origin, ctx.created, op, charge);
      return send(ctx.c, body, status);
    },
    renderOperationCallback(op, charge, notificationId, at) {
      const kind = op.kind as SimOperationKind;
      const { body: resource } = operationResource("", false, op, charge);
      const [resourceType, eventType] =
        kind === "refund"
          ? ["refund", op.status === "succeeded" ? "PAYMENT.CAPTURE.REFUNDED" : `PAYMENT.REFUND.${refundStatus(op)}`]
          : kind === "capture"
            ? [
                "capture",
                `PAYMENT.CAPTURE.${op.status === "succeeded" ? "COMPLETED" : op.status === "processing" ? "PENDING" : "DECLINED"}`,
              ]
            : ["authorization", "PAYMENT.AUTHORIZATION.VOIDED"];
      const body = JSON.stringify({
        id: `WH-${notificationId}`,
        event_version: "1.0",
        create_time: at.toISOString(),
        resource_type: resourceType,
        resource_version: "2.0",
        event_type: eventType,
        summary: `${resourceType} ${op.status}`,
        resource,
      });
      return { contentType: "application/json", headers: transmission(body, charge.merchantId), body };
    },
  };
}

function verifyRequest(c: Context, body: string, keys: DevChannelKeys): Rejection | null {
  const url = new URL(c.req.url);
  const time = c.req.header("paypal-auth-time");
  const sig = c.req.header("paypal-auth-signature");
  if (
    !time ||
    !sig ||
    !verify(
      "HMAC_SHA256",
      `${c.req.method}\n${url.pathname}${url.search}\n${time}\n${body}`,
      sig,
      keys.merchantVerifyKey,
    )
  ) {
    return { kind: "signature_invalid", message: "authentication failed due to invalid signature" };
  }
  if (c.req.header("paypal-merchant-id") !== keys.merchantId)
    return { kind: "unknown_merchant", message: "unknown merchant" };
  return null;
}

type OrderRequest = {
  intent?: unknown;
  purchase_units?: {
    reference_id?: unknown;
    custom_id?: unknown;
    description?: unknown;
    amount?: { currency_code?: unknown; value?: unknown };
  }[];
  application_context?: { return_url?: unknown; cancel_url?: unknown; webhook_url?: unknown; expires_at?: unknown };
};

function parseOrder(body: string, merchantId: string): Parsed<SimPayRequest> {
  let req: OrderRequest;
  try {
    req = JSON.parse(body) as OrderRequest;
  } catch {
    return { ok: false, rejection: { kind: "invalid_request", message: "body is not JSON" } };
  }
  const unit = req.purchase_units?.[0];
  const ctx = req.application_context;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
  const intent = req.intent ?? "CAPTURE";
  if (intent !== "CAPTURE" && intent !== "AUTHORIZE")
    return { ok: false, rejection: { kind: "invalid_request", message: "intent must be CAPTURE or AUTHORIZE" } };
  const ref = str(unit?.reference_id);
  const currency = str(unit?.amount?.currency_code);
  const value = str(unit?.amount?.value);
  const webhook = str(ctx?.webhook_url);
  if (!ref || !currency || !value || !webhook)
    return {
      ok: false,
      rejection: { kind: "invalid_request", message: "reference_id, amount and webhook_url are required" },
    };
  let amount: number;
  try {
    amount = fromDecimalString(value, currency).amount;
  } catch {
    return { ok: false, rejection: { kind: "invalid_request", message: `bad amount ${value} ${currency}` } };
  }
  const expires = str(ctx?.expires_at);
  const expiresAt =
    expires && !Number.isNaN(Date.parse(expires)) ? new Date(expires) : new Date(Date.now() + 3 * 3_600_000);
  return {
    ok: true,
    value: {
      merchantId,
      merchantRef: ref,
      product: "foreign_card",
      amount,
      currency,
      subject: str(unit?.description) ?? "",
      bankCode: null,
      flow: null,
      payerPhone: null,
      callbackUrl: webhook,
      returnUrl: str(ctx?.return_url),
      passthrough: str(unit?.custom_id),
      expiresAt,
      extra: { cancel_url: str(ctx?.cancel_url) ?? "" },
      captureMode: intent === "AUTHORIZE" ? "manual" : "auto",
    },
  };
}

type MoneyRequest = { currency_code?: unknown; value?: unknown };
type OperationBody = { amount?: MoneyRequest; final_capture?: unknown; invoice_id?: unknown; note_to_payer?: unknown };

/** The amount of a capture or refund request: absent means all of it (the rest, for a refund). */
function parseAmount(m: MoneyRequest | undefined): Parsed<{ amount: number | null; currency: string | null }> {
  if (m === undefined) return { ok: true, value: { amount: null, currency: null } };
  if (typeof m.value !== "string" || typeof m.currency_code !== "string")
    return { ok: false, rejection: { kind: "invalid_request", message: "amount needs value and currency_code" } };
  try {
    return {
      ok: true,
      value: { amount: fromDecimalString(m.value, m.currency_code).amount, currency: m.currency_code },
    };
  } catch {
    return { ok: false, rejection: { kind: "invalid_request", message: `bad amount ${m.value} ${m.currency_code}` } };
  }
}

/**
 * An operation request on the authorization or capture named in the path: our request number is the
 * PayPal-Request-Id (a capture or refund echoes it as invoice_id).
 */
function parseOperation(
  c: Context,
  kind: SimOperationKind,
  chargeId: string,
  body: string,
  merchantId: string,
): Parsed<SimOperationRequest> {
  const requestId = c.req.header("paypal-request-id");
  if (!requestId)
    return { ok: false, rejection: { kind: "invalid_request", message: "PayPal-Request-Id is required" } };
  let req: OperationBody = {};
  if (body.trim() !== "") {
    try {
      req = JSON.parse(body) as OperationBody;
    } catch {
      return { ok: false, rejection: { kind: "invalid_request", message: "body is not JSON" } };
    }
  }
  // One capture per authorization on this account: the rest of the hold goes with it.
  if (kind === "capture" && req.final_capture === false)
    return { ok: false, rejection: { kind: "invalid_request", message: "final_capture must be true on this account" } };
  const amount =
    kind === "void" ? ({ ok: true, value: { amount: null, currency: null } } as const) : parseAmount(req.amount);
  if (!amount.ok) return amount;
  return {
    ok: true,
    value: {
      kind,
      merchantId,
      charge: { txnId: chargeId },
      merchantRef: requestId,
      amount: amount.value.amount,
      currency: amount.value.currency,
      callbackUrl: null,
      reason: typeof req.note_to_payer === "string" ? req.note_to_payer : null,
    },
  };
}

export function paypalRoutes(deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) {
  const app = new Hono<AppEnv>();
  app.post("/v2/checkout/orders", async (c) => {
    const body = await c.req.text();
    const bad = verifyRequest(c, body, keys);
    return handlePay(c, deps, proto, bad ? { ok: false, rejection: bad } : parseOrder(body, keys.merchantId), {
      extraValues: (req) => {
        const s = convertToCny(req.amount, req.currency);
        return { settleAmount: s.amount, settleCurrency: s.currency, fxRate: s.fxRate };
      },
    });
  });
  const query = (c: Context, ref: { merchantRef?: string | null; txnId?: string | null }) => {
    const bad = verifyRequest(c, "", keys);
    return handleQuery(
      c,
      deps,
      proto,
      bad ? { ok: false, rejection: bad } : { ok: true, value: { merchantId: keys.merchantId, ref } },
    );
  };
  app.get("/v2/checkout/orders/:id", (c) => query(c, { txnId: c.req.param("id") }));
  app.get("/v2/checkout/orders", (c) => query(c, { merchantRef: c.req.query("reference_id") ?? null }));

  /**
   * A capture, void or refund on the authorization or capture `resourceId` names. A resource the order does
   * not have (an authorization of a sale, a capture not made) is not found, as at PayPal; otherwise the
   * engine applies the request, and the charge as seen here names PayPal's refusal if it refuses.
   */
  const operation = async (c: Context, kind: SimOperationKind, resourceId: string) => {
    const body = await c.req.text();
    const ctx = { c, origin: originOf(c, deps), op: kind, created: false };
    const bad = verifyRequest(c, body, keys);
    if (bad) return proto.renderRejection(ctx, bad);
    const prefix = kind === "refund" ? CAPTURE_PREFIX : AUTHORIZATION_PREFIX;
    const chargeId = resourceId.startsWith(prefix) ? resourceId.slice(prefix.length) : null;
    const charge = chargeId ? await findChargeById(deps.db, proto.id, chargeId) : null;
    if (
      !chargeId ||
      !charge ||
      charge.merchantId !== keys.merchantId ||
      !(kind === "refund" ? hasCapture(charge) : hasAuthorization(charge))
    )
      return proto.renderRejection(ctx, {
        kind: "not_found",
        message: `no such ${kind === "refund" ? "capture" : "authorization"}`,
      });
    addressed.set(c.req.raw, charge);
    return handleOperation(c, deps, proto, parseOperation(c, kind, chargeId, body, keys.merchantId), kind);
  };
  app.post("/v2/payments/authorizations/:id/capture", (c) => operation(c, "capture", c.req.param("id")));
  app.post("/v2/payments/authorizations/:id/void", (c) => operation(c, "void", c.req.param("id")));
  app.post("/v2/payments/captures/:id/refund", (c) => operation(c, "refund", c.req.param("id")));

  // A refund by PayPal's id, or by ours (invoice_id): the acquirer's look-up for a refund whose answer was lost.
  const refundQuery = (c: Context, ref: { opId?: string | null; merchantRef?: string | null }) => {
    const bad = verifyRequest(c, "", keys);
    return handleOperationQuery(
      c,
      deps,
      proto,
      bad
        ? { ok: false, rejection: bad }
        : ref.opId || ref.merchantRef
          ? { ok: true, value: { merchantId: keys.merchantId, kind: "refund", ...ref } }
          : { ok: false, rejection: { kind: "invalid_request", message: "a refund id or invoice_id is required" } },
    );
  };
  app.get("/v2/payments/refunds/:id", (c) => refundQuery(c, { opId: c.req.param("id") }));
  app.get("/v2/payments/refunds", (c) => refundQuery(c, { merchantRef: c.req.query("invoice_id") ?? null }));
  mountPayerPages(app, deps, proto, {
    path: "/checkout/:txnId",
    brand: "PayPal · Checkout",
    color: "#003087",
    confirm: { value: "approve", label: "Approve and pay" },
    cancel: { value: "cancel", label: "Cancel and return" },
    returnTo: (charge, action) => {
      const target = action === "pay" ? charge.returnUrl : charge.extra["cancel_url"] || charge.returnUrl;
      if (!target) return null;
      const url = new URL(target);
      url.searchParams.set("token", charge.id);
      if (action === "pay") url.searchParams.set("PayerID", "SIMPAYER01");
      return url.toString();
    },
  });
  return app;
}
