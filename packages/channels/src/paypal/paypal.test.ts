import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sign } from "@pps/signing";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import type { FetchLike } from "../shared/http.ts";
import {
  answerFetch,
  devEndpoint,
  expectFlowsNotOffered,
  expectOperationTransport,
  operationRequestFor,
  payRequest,
  sentJson,
  timeoutFetch,
  type RecordingFetch,
} from "../shared/test-fixtures.ts";
import type { OperationRequest } from "../types.ts";
import { paypalTransmissionPayload, type PaypalOrder, type PaypalRefund } from "./client.ts";
import { createPaypalAdapter } from "./index.ts";
import { paypalCreateOutcome, paypalOrderToOutcome, paypalQueryOutcome, toPaypalOrderBody } from "./transformers.ts";

const key = DEV_CHANNEL_KEYS.paypal.channelSigningKey;
const merchant = DEV_CHANNEL_KEYS.paypal.merchantId;

function transmission(body: string, k = key): Record<string, string> {
  const id = randomUUID();
  const time = new Date().toISOString();
  return {
    "PayPal-Transmission-Id": id,
    "PayPal-Transmission-Time": time,
    "PayPal-Transmission-Sig": sign("HMAC_SHA256", paypalTransmissionPayload(id, time, merchant, body), k),
  };
}

function order(status: PaypalOrder["status"], over: Partial<PaypalOrder> = {}): PaypalOrder {
  return {
    id: "O1",
    status,
    update_time: "2024-03-01T16:30:05Z",
    purchase_units: [{ reference_id: "att_1", amount: { currency_code: "JPY", value: "1000" } }],
    ...over,
  };
}

const completed = order("COMPLETED", {
  purchase_units: [
    {
      reference_id: "att_1",
      amount: { currency_code: "JPY", value: "1000" },
      payments: {
        captures: [
          {
            id: "C1",
            status: "COMPLETED",
            amount: { currency_code: "JPY", value: "1000" },
            seller_receivable_breakdown: {
              gross_amount: { currency_code: "JPY", value: "1000" },
              exchange_rate: { source_currency: "JPY", target_currency: "CNY", value: "0.0480" },
              receivable_amount: { currency_code: "CNY", value: "48.00" },
            },
          },
        ],
      },
    },
  ],
});

describe("paypal transformers", () => {
  it("writes the amount by the currency's exponent (JPY has none)", () => {
    const body = JSON.parse(
      toPaypalOrderBody(payRequest({ product: "foreign_card", currency: "JPY", amount: 1000 })),
    ) as { purchase_units: { reference_id: string; amount: unknown; custom_id: string }[] };
    expect(body.purchase_units[0]).toMatchObject({
      reference_id: "att_1",
      amount: { currency_code: "JPY", value: "1000" },
    });
    expect(new URLSearchParams(body.purchase_units[0]!.custom_id).get("sim_fault")).toBe("decline");
  });

  it("maps every order status, with the CNY settlement of a capture", () => {
    expect(
      paypalOrderToOutcome(order("PAYER_ACTION_REQUIRED", { links: [{ rel: "payer-action", href: "https://pp/c" }] })),
    ).toMatchObject({ status: "requires_action", action: { type: "redirect", url: "https://pp/c" } });
    expect(paypalOrderToOutcome(order("CREATED")).status).toBe("pending");
    expect(paypalOrderToOutcome(order("APPROVED")).status).toBe("pending");
    expect(paypalOrderToOutcome(completed)).toEqual({
      status: "succeeded",
      channelTxnId: "O1",
      amount: 1000,
      currency: "JPY",
      settlement: { amount: 4800, currency: "CNY", fxRate: "0.0480" },
    });
    expect(paypalOrderToOutcome(order("COMPLETED")).status).toBe("unknown");
    expect(paypalOrderToOutcome(order("VOIDED", { status_details: { reason: "PAYER_CANCELED" } }))).toMatchObject({
      code: "payer_canceled",
    });
    expect(paypalOrderToOutcome(order("VOIDED", { status_details: { reason: "INSUFFICIENT_FUNDS" } }))).toMatchObject({
      code: "insufficient_funds",
    });
  });

  it("maps errors: declines fail, busy is unavailable, conflicts are unknown, 404 on query is not found", () => {
    const err = (status: number, name: string, issue?: string) => ({
      status,
      error: { name, ...(issue ? { details: [{ issue }] } : {}) },
    });
    expect(paypalCreateOutcome(err(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED"))).toMatchObject({
      status: "failed",
      code: "card_declined",
    });
    expect(paypalCreateOutcome(err(422, "UNPROCESSABLE_ENTITY", "REQUEST_ID_CONFLICT")).status).toBe("unknown");
    expect(paypalCreateOutcome(err(503, "SERVICE_UNAVAILABLE"))).toMatchObject({ code: "channel_unavailable" });
    expect(paypalCreateOutcome(err(401, "AUTHENTICATION_FAILURE"))).toMatchObject({ code: "channel_rejected" });
    expect(paypalQueryOutcome(err(404, "RESOURCE_NOT_FOUND"))).toEqual({ status: "not_found" });
  });
});

describe("paypal adapter", () => {
  const webhook = (resource: PaypalOrder) =>
    JSON.stringify({
      id: "WH-1",
      event_type: "CHECKOUT.ORDER.COMPLETED",
      create_time: "2024-03-01T16:30:06Z",
      resource,
    });

  it("verifies webhook transmission signatures: valid, tampered, wrong key, stale", () => {
    const adapter = createPaypalAdapter(devEndpoint("paypal"));
    const body = webhook(completed);
    expect(adapter.parseCallback({ headers: transmission(body), rawBody: body })).toMatchObject({
      ok: true,
      result: {
        channel: "paypal",
        attemptId: "att_1",
        amount: 1000,
        currency: "JPY",
        status: "succeeded",
        settlement: { amount: 4800, currency: "CNY", fxRate: "0.0480" },
        notificationId: "WH-1",
      },
    });
    expect(
      adapter.parseCallback({ headers: transmission(body), rawBody: body.replace("48.00", "480.00") }),
    ).toMatchObject({ ok: false, reason: "signature_invalid" });
    expect(adapter.parseCallback({ headers: transmission(body, "wrong"), rawBody: body })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: body })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    const stale = webhook(order("APPROVED"));
    expect(adapter.parseCallback({ headers: transmission(stale), rawBody: stale })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
  });

  it("signs requests in headers and sends our attempt as PayPal-Request-Id", async () => {
    const body = JSON.stringify(
      order("PAYER_ACTION_REQUIRED", { links: [{ rel: "payer-action", href: "https://pp/c" }] }),
    );
    const f = answerFetch(201, body, transmission(body));
    expect(
      await createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).pay(
        payRequest({ product: "foreign_card", currency: "USD" }),
      ),
    ).toMatchObject({ status: "requires_action" });
    const headers = f.calls[0]!.init.headers as Record<string, string>;
    expect(headers["paypal-request-id"]).toBe("att_1");
    expect(headers["paypal-auth-signature"]).toMatch(/^[0-9a-f]{64}$/);
    expect(
      await createPaypalAdapter(devEndpoint("paypal"), { fetch: answerFetch(201, body) }).pay(payRequest()),
    ).toMatchObject({ status: "unknown" });
  });
});

// Pre-authorization and the operations (capture, void, refund) with their queries and webhooks.

const authorized = (status: "CREATED" | "CAPTURED" | "VOIDED" | "EXPIRED" | "DENIED" | "PENDING" = "CREATED") =>
  order("COMPLETED", {
    intent: "AUTHORIZE",
    purchase_units: [
      {
        reference_id: "att_1",
        amount: { currency_code: "USD", value: "25.00" },
        payments: {
          authorizations: [
            {
              id: "AUTHO1",
              status,
              amount: { currency_code: "USD", value: "25.00" },
              expiration_time: "2024-03-04T16:30:05Z",
            },
          ],
          ...(status === "CAPTURED"
            ? {
                captures: [
                  {
                    id: "CAPO1",
                    status: "PARTIALLY_REFUNDED" as const,
                    amount: { currency_code: "USD", value: "15.00" },
                    final_capture: true,
                    seller_receivable_breakdown: {
                      gross_amount: { currency_code: "USD", value: "15.00" },
                      exchange_rate: { source_currency: "USD", target_currency: "CNY", value: "7.1800" },
                      receivable_amount: { currency_code: "CNY", value: "107.70" },
                    },
                  },
                ],
              }
            : {}),
        },
      },
    ],
  });

const sale = order("COMPLETED", {
  purchase_units: [
    {
      reference_id: "att_1",
      amount: { currency_code: "USD", value: "20.00" },
      payments: {
        captures: [{ id: "CAPO1", status: "COMPLETED", amount: { currency_code: "USD", value: "20.00" } }],
      },
    },
  ],
});

const paypalOperation = operationRequestFor("paypal", {
  channelTxnId: "O1",
  amount: 1_500,
  currency: "USD",
  paymentAmount: 2_500,
  reason: "customer asked",
});
const opRequest = (kind: OperationRequest["kind"], over: Partial<OperationRequest> = {}): OperationRequest =>
  paypalOperation({ kind, operationId: `${kind}_01`, ...over });

type Scripted = { status: number; body: unknown; signed?: boolean };

/** A fetch that answers each call with the next scripted answer, signed as PayPal signs. */
function scriptedFetch(...answers: Scripted[]): RecordingFetch {
  const calls: RecordingFetch["calls"] = [];
  const f = (async (url: string, init: RequestInit) => {
    const a = answers[calls.length];
    calls.push({ url, init });
    if (!a) throw new Error(`unexpected call ${url}`);
    const body = typeof a.body === "string" ? a.body : JSON.stringify(a.body);
    return new Response(body, { status: a.status, headers: a.signed === false ? {} : transmission(body) });
  }) as RecordingFetch;
  f.calls = calls;
  return f;
}

const refundResource = (status: PaypalRefund["status"], over: Partial<PaypalRefund> = {}): PaypalRefund => ({
  id: "RF1",
  status,
  amount: { currency_code: "USD", value: "15.00" },
  invoice_id: "refund_01",
  create_time: "2024-03-02T10:00:00Z",
  update_time: "2024-03-02T10:00:01Z",
  ...over,
});
const ppError = (name: string, issue?: string) => ({
  name,
  message: "The requested action could not be performed.",
  ...(issue ? { details: [{ issue }] } : {}),
});

describe("paypal pre-authorization", () => {
  it("asks for intent AUTHORIZE for a manual capture, CAPTURE otherwise", () => {
    const intent = (captureMethod: "manual" | "automatic") =>
      (JSON.parse(toPaypalOrderBody(payRequest({ captureMethod }))) as { intent: string }).intent;
    expect(intent("manual")).toBe("AUTHORIZE");
    expect(intent("automatic")).toBe("CAPTURE");
  });

  it("maps the authorization of a completed order: held, captured (its own amount), released, denied", () => {
    expect(paypalOrderToOutcome(authorized("CREATED"))).toEqual({
      status: "authorized",
      channelTxnId: "O1",
      amount: 2_500,
      currency: "USD",
      expiresAt: "2024-03-04T16:30:05.000Z",
    });
    expect(paypalOrderToOutcome(authorized("CAPTURED"))).toEqual({
      status: "succeeded",
      channelTxnId: "O1",
      amount: 1_500,
      currency: "USD",
      settlement: { amount: 10_770, currency: "CNY", fxRate: "7.1800" },
    });
    expect(paypalOrderToOutcome(authorized("VOIDED"))).toMatchObject({ status: "failed", code: "expired" });
    expect(paypalOrderToOutcome(authorized("EXPIRED"))).toMatchObject({
      status: "failed",
      code: "expired",
      message: "authorization EXPIRED",
    });
    expect(paypalOrderToOutcome(authorized("DENIED"))).toMatchObject({ status: "failed", code: "card_declined" });
    expect(paypalOrderToOutcome(authorized("PENDING")).status).toBe("pending");
  });

  it("an authorization or capture without what it holds or took is unknown, never a success", () => {
    const noExpiry = authorized("CREATED");
    delete noExpiry.purchase_units[0]!.payments!.authorizations![0]!.expiration_time;
    expect(paypalOrderToOutcome(noExpiry).status).toBe("unknown");
    const badAmount = authorized("CREATED");
    badAmount.purchase_units[0]!.payments!.authorizations![0]!.amount.value = "25.0.0";
    expect(paypalOrderToOutcome(badAmount).status).toBe("unknown");
    const capturedWithoutCapture = authorized("CAPTURED");
    delete capturedWithoutCapture.purchase_units[0]!.payments!.captures;
    expect(paypalOrderToOutcome(capturedWithoutCapture).status).toBe("unknown");
    const badCapture = structuredClone(sale);
    badCapture.purchase_units[0]!.payments!.captures![0]!.amount.value = "abc";
    expect(paypalOrderToOutcome(badCapture).status).toBe("unknown");
  });

  it("an authorized order's webhook is an authorized callback with the hold's end", () => {
    const adapter = createPaypalAdapter(devEndpoint("paypal"));
    const body = JSON.stringify({
      id: "WH-2",
      event_type: "CHECKOUT.ORDER.COMPLETED",
      resource_type: "checkout-order",
      create_time: "2024-03-01T16:30:06Z",
      resource: authorized("CREATED"),
    });
    expect(adapter.parseCallback({ headers: transmission(body), rawBody: body })).toEqual({
      ok: true,
      result: {
        channel: "paypal",
        attemptId: "att_1",
        channelTxnId: "O1",
        status: "authorized",
        authorizationExpiresAt: "2024-03-04T16:30:05.000Z",
        amount: 2_500,
        currency: "USD",
        settlement: null,
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-01T16:30:05.000Z",
        notificationId: "WH-2",
      },
    });
  });
});

describe("paypal operations", () => {
  it("capture: finds the authorization in the order, captures it under our number, final", async () => {
    const f = scriptedFetch(
      { status: 200, body: authorized("CREATED") },
      {
        status: 201,
        body: {
          id: "CAPO1",
          status: "COMPLETED",
          amount: { currency_code: "USD", value: "15.00" },
          invoice_id: "capture_01",
          final_capture: true,
        },
      },
    );
    const out = await createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).operate(opRequest("capture"));
    expect(out).toEqual({ status: "succeeded", channelOpId: "CAPO1", amount: 1_500, currency: "USD" });
    expect(f.calls[0]!.url).toBe("http://channel.test/paypal/v2/checkout/orders/O1");
    expect(f.calls[1]!.url).toBe("http://channel.test/paypal/v2/payments/authorizations/AUTHO1/capture");
    const headers = f.calls[1]!.init.headers as Record<string, string>;
    expect(headers["paypal-request-id"]).toBe("capture_01");
    expect(headers["paypal-auth-signature"]).toMatch(/^[0-9a-f]{64}$/);
    expect(sentJson(f, 1)).toEqual({
      amount: { currency_code: "USD", value: "15.00" },
      final_capture: true,
      invoice_id: "capture_01",
      note_to_payer: "customer asked",
    });
  });

  it("void: releases the authorization; the answer's amount is the whole hold", async () => {
    const f = scriptedFetch(
      { status: 200, body: authorized("CREATED") },
      { status: 200, body: { id: "AUTHO1", status: "VOIDED", amount: { currency_code: "USD", value: "25.00" } } },
    );
    const out = await createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).operate(
      opRequest("void", { amount: 2_500 }),
    );
    expect(out).toEqual({ status: "succeeded", channelOpId: "AUTHO1", amount: 2_500, currency: "USD" });
    expect(f.calls[1]!.url).toBe("http://channel.test/paypal/v2/payments/authorizations/AUTHO1/void");
    expect((f.calls[1]!.init.headers as Record<string, string>)["paypal-request-id"]).toBe("void_01");
  });

  it("refund: of the order's capture, in the payment's currency; completed, pending, failed", async () => {
    const run = async (answer: Scripted, ref = opRequest("refund", { channelTxnId: null })) => {
      const f = scriptedFetch({ status: 200, body: sale }, answer);
      const out = await createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).operate(ref);
      return { out, f };
    };
    const { out, f } = await run({ status: 201, body: refundResource("COMPLETED") });
    expect(out).toEqual({ status: "succeeded", channelOpId: "RF1", amount: 1_500, currency: "USD" });
    // Without the order's id, the order is found by our reference.
    expect(f.calls[0]!.url).toBe("http://channel.test/paypal/v2/checkout/orders?reference_id=att_1");
    expect(f.calls[1]!.url).toBe("http://channel.test/paypal/v2/payments/captures/CAPO1/refund");
    expect(sentJson(f, 1)).toEqual({
      amount: { currency_code: "USD", value: "15.00" },
      invoice_id: "refund_01",
      note_to_payer: "customer asked",
    });
    expect((await run({ status: 201, body: refundResource("PENDING") })).out).toEqual({
      status: "pending",
      channelOpId: "RF1",
    });
    expect((await run({ status: 201, body: refundResource("FAILED") })).out).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    // An answer about another request, or one without a readable amount, tells nothing about ours.
    expect((await run({ status: 201, body: refundResource("COMPLETED", { invoice_id: "re_other" }) })).out.status).toBe(
      "unknown",
    );
    expect(
      (await run({ status: 201, body: refundResource("COMPLETED", { amount: { currency_code: "USD", value: "x" } }) }))
        .out.status,
    ).toBe("unknown");
  });

  it("maps PayPal's refusals to our codes", async () => {
    const refusal = async (kind: OperationRequest["kind"], status: number, name: string, issue?: string) => {
      const f = scriptedFetch(
        { status: 200, body: kind === "refund" ? sale : authorized("CREATED") },
        { status, body: ppError(name, issue) },
      );
      return createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).operate(opRequest(kind));
    };
    const cases: [OperationRequest["kind"], number, string, string | undefined, string][] = [
      ["capture", 422, "UNPROCESSABLE_ENTITY", "AUTHORIZATION_EXPIRED", "authorization_expired"],
      ["void", 422, "UNPROCESSABLE_ENTITY", "AUTHORIZATION_EXPIRED", "authorization_expired"],
      ["capture", 422, "UNPROCESSABLE_ENTITY", "MAX_CAPTURE_AMOUNT_EXCEEDED", "amount_exceeds_authorized"],
      ["capture", 422, "UNPROCESSABLE_ENTITY", "AUTHORIZATION_ALREADY_CAPTURED", "invalid_state"],
      ["capture", 422, "UNPROCESSABLE_ENTITY", "AUTHORIZATION_VOIDED", "invalid_state"],
      ["void", 422, "UNPROCESSABLE_ENTITY", "PREVIOUSLY_CAPTURED", "invalid_state"],
      ["void", 422, "UNPROCESSABLE_ENTITY", "PREVIOUSLY_VOIDED", "invalid_state"],
      ["refund", 422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED", "amount_exceeds_refundable"],
      ["refund", 422, "UNPROCESSABLE_ENTITY", "CAPTURE_FULLY_REFUNDED", "amount_exceeds_refundable"],
      ["refund", 422, "UNPROCESSABLE_ENTITY", "REFUND_TIME_LIMIT_EXCEEDED", "refund_window_closed"],
      ["refund", 422, "UNPROCESSABLE_ENTITY", "MAX_NUMBER_OF_REFUNDS_EXCEEDED", "refund_limit_reached"],
      ["refund", 422, "UNPROCESSABLE_ENTITY", "PENDING_CAPTURE", "not_settled"],
      ["refund", 403, "NOT_AUTHORIZED", "PERMISSION_DENIED", "flow_not_supported"],
      ["refund", 403, "NOT_AUTHORIZED", undefined, "channel_rejected"],
      ["refund", 400, "INVALID_REQUEST", undefined, "channel_rejected"],
      ["refund", 401, "AUTHENTICATION_FAILURE", undefined, "channel_rejected"],
      ["refund", 404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID", "invalid_state"],
      ["refund", 503, "SERVICE_UNAVAILABLE", undefined, "channel_unavailable"],
    ];
    for (const [kind, status, name, issue, code] of cases)
      expect(await refusal(kind, status, name, issue), `${kind} ${name} ${issue}`).toMatchObject({
        status: "failed",
        code,
      });
    // Our number reused with other parameters, and anything new: we cannot tell what happened.
    expect((await refusal("refund", 422, "UNPROCESSABLE_ENTITY", "REQUEST_ID_CONFLICT")).status).toBe("unknown");
    expect((await refusal("capture", 422, "UNPROCESSABLE_ENTITY", "SOMETHING_NEW")).status).toBe("unknown");
    expect((await refusal("void", 418, "TEAPOT")).status).toBe("unknown");
  });

  it("after sending: unsigned, garbled or 5xx answers and timeouts are unknown; refused connections not done", async () => {
    const refundAfterLookup = async (second: FetchLike) => {
      let n = 0;
      const lookup = scriptedFetch({ status: 200, body: sale });
      const f: FetchLike = async (url, init) => {
        n += 1;
        return n === 1 ? lookup(url, init) : second(url, init);
      };
      return createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).operate(opRequest("refund"));
    };
    await expectOperationTransport(refundAfterLookup, {
      lost: [
        scriptedFetch({ status: 201, body: refundResource("COMPLETED"), signed: false }),
        scriptedFetch({ status: 201, body: "{not json" }),
        scriptedFetch({ status: 201, body: { id: "RF1" } }),
        scriptedFetch({ status: 500, body: ppError("INTERNAL_SERVER_ERROR") }),
      ],
    });
  });

  it("nothing is sent when the order cannot be looked up or has nothing to act on", async () => {
    const once = async (f: FetchLike & { calls?: unknown[] }, kind: OperationRequest["kind"]) =>
      createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).operate(opRequest(kind));
    const notFound = scriptedFetch({ status: 404, body: ppError("RESOURCE_NOT_FOUND") });
    expect(await once(notFound, "refund")).toMatchObject({ status: "failed", code: "invalid_state" });
    expect(notFound.calls).toHaveLength(1);
    expect(await once(timeoutFetch, "capture")).toMatchObject({ status: "failed", code: "channel_unavailable" });
    expect(await once(scriptedFetch({ status: 503, body: ppError("SERVICE_UNAVAILABLE") }), "void")).toMatchObject({
      status: "failed",
      code: "channel_unavailable",
    });
    // A sale has no authorization; an authorization not captured has nothing to refund.
    const saleOnly = scriptedFetch({ status: 200, body: sale });
    expect(await once(saleOnly, "capture")).toMatchObject({ status: "failed", code: "invalid_state" });
    expect(saleOnly.calls).toHaveLength(1);
    const held = scriptedFetch({ status: 200, body: authorized("CREATED") });
    expect(await once(held, "refund")).toMatchObject({ status: "failed", code: "invalid_state" });
    expect(held.calls).toHaveLength(1);
    // PayPal has no same-day cancel: refused without a call.
    const none = scriptedFetch();
    await expectFlowsNotOffered(
      createPaypalAdapter(devEndpoint("paypal"), { fetch: none }),
      (over) => opRequest("cancel", over),
      ["cancel"],
    );
    expect(none.calls).toHaveLength(0);
  });
});

describe("paypal operation queries", () => {
  it("a refund by our number (invoice_id): found, not found, untrusted", async () => {
    const q = async (...answers: Scripted[]) => {
      const f = scriptedFetch(...answers);
      return {
        out: await createPaypalAdapter(devEndpoint("paypal"), { fetch: f }).queryOperation(opRequest("refund")),
        f,
      };
    };
    const found = await q({ status: 200, body: refundResource("COMPLETED") });
    expect(found.out).toEqual({ status: "succeeded", channelOpId: "RF1", amount: 1_500, currency: "USD" });
    expect(found.f.calls[0]!.url).toBe("http://channel.test/paypal/v2/payments/refunds?invoice_id=refund_01");
    expect((await q({ status: 404, body: ppError("RESOURCE_NOT_FOUND") })).out).toEqual({ status: "not_found" });
    expect((await q({ status: 200, body: refundResource("COMPLETED"), signed: false })).out.status).toBe("unknown");
    expect((await q({ status: 503, body: ppError("SERVICE_UNAVAILABLE") })).out.status).toBe("unknown");
    expect((await q({ status: 401, body: ppError("AUTHENTICATION_FAILURE") })).out.status).toBe("unknown");
  });

  it("a capture or a void, by the order's authorization", async () => {
    const q = async (kind: "capture" | "void", body: unknown, status = 200) =>
      createPaypalAdapter(devEndpoint("paypal"), { fetch: scriptedFetch({ status, body }) }).queryOperation(
        opRequest(kind),
      );
    expect(await q("capture", authorized("CAPTURED"))).toEqual({
      status: "succeeded",
      channelOpId: "CAPO1",
      amount: 1_500,
      currency: "USD",
    });
    expect(await q("capture", authorized("CREATED"))).toEqual({ status: "not_found" });
    expect(await q("capture", authorized("VOIDED"))).toEqual({ status: "not_found" });
    expect(await q("void", authorized("VOIDED"))).toEqual({
      status: "succeeded",
      channelOpId: "AUTHO1",
      amount: 2_500,
      currency: "USD",
    });
    expect(await q("void", authorized("CAPTURED"))).toEqual({ status: "not_found" });
    expect(await q("void", sale)).toEqual({ status: "not_found" });
    expect(await q("capture", ppError("RESOURCE_NOT_FOUND"), 404)).toEqual({ status: "not_found" });
    expect((await q("capture", "garbled")).status).toBe("unknown");
  });
});

describe("paypal operation webhooks", () => {
  const adapter = createPaypalAdapter(devEndpoint("paypal"));
  const hook = (event_type: string, resource_type: string, resource: unknown) =>
    JSON.stringify({ id: "WH-9", event_type, resource_type, create_time: "2024-03-02T10:00:02Z", resource });
  const parse = (body: string) => adapter.parseCallback({ headers: transmission(body), rawBody: body });

  it("a refund's result is an operation callback for our number", () => {
    expect(parse(hook("PAYMENT.CAPTURE.REFUNDED", "refund", refundResource("COMPLETED")))).toEqual({
      ok: true,
      operation: {
        channel: "paypal",
        kind: "refund",
        operationId: "refund_01",
        channelOpId: "RF1",
        status: "succeeded",
        amount: 1_500,
        currency: "USD",
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-02T10:00:01.000Z",
        notificationId: "WH-9",
      },
    });
    expect(parse(hook("PAYMENT.REFUND.FAILED", "refund", refundResource("FAILED")))).toMatchObject({
      ok: true,
      operation: { status: "failed", failureCode: "channel_rejected" },
    });
    expect(parse(hook("PAYMENT.REFUND.PENDING", "refund", refundResource("PENDING")))).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    const { invoice_id: _, ...anonymous } = refundResource("COMPLETED");
    expect(parse(hook("PAYMENT.CAPTURE.REFUNDED", "refund", anonymous))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });

  it("a capture of ours is an operation callback; a sale's capture and authorization events are left to others", () => {
    const capture = {
      id: "CAPO1",
      status: "COMPLETED",
      amount: { currency_code: "USD", value: "15.00" },
      invoice_id: "capture_01",
    };
    expect(parse(hook("PAYMENT.CAPTURE.COMPLETED", "capture", capture))).toMatchObject({
      ok: true,
      operation: { kind: "capture", operationId: "capture_01", status: "succeeded", amount: 1_500 },
    });
    expect(parse(hook("PAYMENT.CAPTURE.DECLINED", "capture", { ...capture, status: "DECLINED" }))).toMatchObject({
      ok: true,
      operation: { kind: "capture", status: "failed", failureCode: "channel_rejected" },
    });
    const { invoice_id: _, ...saleCapture } = capture;
    expect(parse(hook("PAYMENT.CAPTURE.COMPLETED", "capture", saleCapture))).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    expect(
      parse(
        hook("PAYMENT.AUTHORIZATION.VOIDED", "authorization", {
          id: "AUTHO1",
          status: "VOIDED",
          amount: { currency_code: "USD", value: "25.00" },
        }),
      ),
    ).toMatchObject({ ok: false, reason: "not_final" });
    expect(parse(hook("PAYMENT.CAPTURE.COMPLETED", "capture", { id: "x" }))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    const body = hook("PAYMENT.CAPTURE.REFUNDED", "refund", refundResource("COMPLETED"));
    expect(adapter.parseCallback({ headers: transmission(body, "wrong"), rawBody: body })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
  });
});
