import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { PAYPAL_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import { fromDecimalString, money, toDecimalString } from "@pps/money";
import type { AppEnv } from "@pps/runtime";
import { sign, verify } from "@pps/signing";
import type { SimDeps } from "../sim/deps.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountPayerPages } from "../sim/payer-pages.ts";
import { randomAlnum } from "./ids.ts";
import { convertToCny } from "./paypal-fx.ts";
import type { Charge, ChannelProtocol, Rejection, RejectionKind, SimPayRequest } from "./protocol.ts";

/**
 * paypal: a PayPal-like acquirer for foreign cards (REST JSON). Requests are signed in headers
 * (HMAC-SHA256 of method, path, time and body), answers and webhooks carry transmission headers
 * (HMAC-SHA256 of id|time|merchant|sha256(body)). The payer approves on /paypal/checkout/{id}; the order is
 * captured at once and settled in CNY at the fixed rate table of paypal-fx.ts.
 */
function orderStatus(charge: Pick<Charge, "status">): string {
  switch (charge.status) {
    case "awaiting_payer":
      return "PAYER_ACTION_REQUIRED";
    case "paying":
      return "APPROVED";
    case "succeeded":
      return "COMPLETED";
    default:
      return "VOIDED";
  }
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

const ERRORS: Record<RejectionKind, [400 | 401 | 404 | 422, string, string | null]> = {
  invalid_request: [400, "INVALID_REQUEST", null],
  amount_limit_exceeded: [400, "INVALID_REQUEST", "AMOUNT_LIMIT_EXCEEDED"],
  invalid_phone: [400, "INVALID_REQUEST", null],
  bank_not_supported: [400, "INVALID_REQUEST", null],
  signature_invalid: [401, "AUTHENTICATION_FAILURE", null],
  unknown_merchant: [401, "AUTHENTICATION_FAILURE", null],
  currency_not_supported: [422, "UNPROCESSABLE_ENTITY", "CURRENCY_NOT_SUPPORTED"],
  order_conflict: [422, "UNPROCESSABLE_ENTITY", "REQUEST_ID_CONFLICT"],
  not_found: [404, "RESOURCE_NOT_FOUND", null],
};

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
  const send = (c: Context, payload: unknown, status: 200 | 201 | 400 | 401 | 404 | 422 | 503) => {
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
    const amount = { currency_code: charge.currency, value: toDecimalString(money(charge.amount, charge.currency)) };
    const captured =
      charge.status === "succeeded"
        ? {
            payments: {
              captures: [
                {
                  id: `CAP${charge.id}`,
                  status: "COMPLETED",
                  amount,
                  create_time: (charge.paidAt ?? charge.updatedAt).toISOString(),
                  seller_receivable_breakdown: {
                    gross_amount: amount,
                    ...(charge.settleAmount !== null && charge.settleCurrency && charge.fxRate
                      ? {
                          exchange_rate: {
                            source_currency: charge.currency,
                            target_currency: charge.settleCurrency,
                            value: charge.fxRate,
                          },
                          receivable_amount: {
                            currency_code: charge.settleCurrency,
                            value: toDecimalString(money(charge.settleAmount, charge.settleCurrency)),
                          },
                        }
                      : {}),
                  },
                },
              ],
            },
          }
        : {};
    return {
      id: charge.id,
      intent: "CAPTURE",
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
          amount,
          ...captured,
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
    renderRejection({ c }, r) {
      const [status, name, issue] = ERRORS[r.kind];
      return send(c, error(name, r.message, issue), status);
    },
    renderBusy({ c }) {
      return send(c, error("SERVICE_UNAVAILABLE", "system busy, try again later", null), 503);
    },
    renderCallback(charge, notificationId, at) {
      const resource = order(charge, "");
      const eventType =
        charge.status === "succeeded"
          ? "CHECKOUT.ORDER.COMPLETED"
          : charge.status === "paying"
            ? "CHECKOUT.ORDER.APPROVED"
            : charge.status === "awaiting_payer"
              ? "CHECKOUT.ORDER.SAVED"
              : "CHECKOUT.ORDER.VOIDED";
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
