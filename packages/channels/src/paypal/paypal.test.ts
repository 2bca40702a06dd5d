import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sign } from "@pps/signing";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import { answerFetch, devEndpoint, payRequest } from "../shared/test-fixtures.ts";
import { paypalTransmissionPayload, type PaypalOrder } from "./client.ts";
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
