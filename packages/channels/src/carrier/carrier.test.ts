import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import type { FetchLike } from "../shared/http.ts";
import {
  answerFetch,
  devEndpoint,
  expectFlowsNotOffered,
  expectOperationTransport,
  operationRequestFor,
  payRequest,
  refusedFetch,
  sentJson,
} from "../shared/test-fixtures.ts";
import { carrierMessageSignature, type CarrierCharge, type CarrierRefund } from "./client.ts";
import { createCarrierAdapter } from "./index.ts";
import { carrierCreateOutcome, carrierQueryOutcome } from "./transformers.ts";

const key = DEV_CHANNEL_KEYS.carrier.channelSigningKey;
const signed = (body: string, k = key) => {
  const ts = String(Date.now());
  return { "X-Timestamp": ts, "X-Signature": carrierMessageSignature(ts, body, k) };
};
const charge = (status: CarrierCharge["status"], over: Partial<CarrierCharge> = {}): CarrierCharge => ({
  chargeId: "CHG1",
  partnerOrderId: "att_1",
  status,
  amount: 1234,
  currency: "CNY",
  msisdnMasked: "138****8000",
  createdAt: "2024-03-01T16:30:00Z",
  completedAt: "2024-03-01T16:30:05Z",
  ...over,
});

describe("carrier transformers", () => {
  it("maps every charge status", () => {
    expect(carrierCreateOutcome({ status: 201, charge: charge("PENDING_CONFIRMATION") })).toEqual({
      status: "requires_action",
      channelTxnId: "CHG1",
      action: { type: "sms_confirmation", phoneMasked: "138****8000" },
    });
    expect(carrierCreateOutcome({ status: 201, charge: charge("PROCESSING") }).status).toBe("pending");
    expect(carrierCreateOutcome({ status: 201, charge: charge("SUCCEEDED") })).toEqual({
      status: "succeeded",
      channelTxnId: "CHG1",
      amount: 1234,
      currency: "CNY",
      settlement: null,
    });
    expect(
      carrierCreateOutcome({ status: 201, charge: charge("FAILED", { failureReason: "CODE_ATTEMPTS_EXCEEDED" }) }),
    ).toMatchObject({ code: "verification_failed" });
    expect(
      carrierCreateOutcome({ status: 201, charge: charge("FAILED", { failureReason: "INSUFFICIENT_BALANCE" }) }),
    ).toMatchObject({ code: "insufficient_funds" });
    expect(carrierCreateOutcome({ status: 201, charge: charge("EXPIRED") })).toMatchObject({ code: "expired" });
    expect(carrierCreateOutcome({ status: 201, charge: charge("CANCELED") })).toMatchObject({ code: "payer_canceled" });
    expect(carrierCreateOutcome({ status: 422, error: { code: "AMOUNT_LIMIT_EXCEEDED" } })).toMatchObject({
      status: "failed",
      code: "amount_limit_exceeded",
    });
    expect(carrierCreateOutcome({ status: 503, error: { code: "SERVICE_BUSY" } })).toMatchObject({
      code: "channel_unavailable",
    });
    expect(carrierCreateOutcome({ status: 409, error: { code: "ORDER_CONFLICT" } }).status).toBe("unknown");
    expect(carrierQueryOutcome({ status: 404, error: { code: "NOT_FOUND" } })).toEqual({ status: "not_found" });
  });
});

describe("carrier adapter", () => {
  const event = (c: CarrierCharge) =>
    JSON.stringify({
      eventId: "E1",
      eventTime: "2024-03-01T16:30:06Z",
      partnerId: DEV_CHANNEL_KEYS.carrier.merchantId,
      charge: c,
    });

  it("verifies signed events: valid, tampered, wrong key, stale", () => {
    const adapter = createCarrierAdapter(devEndpoint("carrier"));
    const body = event(charge("SUCCEEDED"));
    expect(adapter.parseCallback({ headers: signed(body), rawBody: body })).toMatchObject({
      ok: true,
      result: { channel: "carrier", status: "succeeded", amount: 1234, occurredAt: "2024-03-01T16:30:05.000Z" },
    });
    expect(adapter.parseCallback({ headers: signed(body), rawBody: body.replace("1234", "1") })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    expect(adapter.parseCallback({ headers: signed(body, "wrong"), rawBody: body })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    const stale = event(charge("PENDING_CONFIRMATION"));
    expect(adapter.parseCallback({ headers: signed(stale), rawBody: stale })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
  });

  it("fails without sending when the payer has no phone", async () => {
    const f = answerFetch(201, "{}");
    const out = await createCarrierAdapter(devEndpoint("carrier"), { fetch: f }).pay(
      payRequest({ payer: { id: "p", ip: null, deviceId: null, phone: null } }),
    );
    expect(out).toMatchObject({ status: "failed", code: "payer_phone_missing" });
    expect(f.calls).toHaveLength(0);
  });
});

// Refunds (the only operation carrier billing has), their query and their events.

const refundRequest = operationRequestFor("carrier", {
  operationId: "re_01",
  channelTxnId: "CHG1",
  amount: 3_000,
  paymentAmount: 20_000,
  reason: "customer asked",
});

const refundJson = (status: CarrierRefund["status"], over: Partial<CarrierRefund> = {}): CarrierRefund => ({
  refundId: "RF1",
  partnerRefundId: "re_01",
  chargeId: "CHG1",
  partnerOrderId: "att_1",
  status,
  amount: 3_000,
  currency: "CNY",
  billPeriod: "2024-03",
  createdAt: "2024-03-02T10:00:00Z",
  completedAt: "2024-03-02T10:00:01Z",
  ...over,
});

/** One signed carrier answer (or an unsigned one). */
function carrierFetch(status: number, body: unknown, sign = true) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return answerFetch(status, text, sign ? signed(text) : {});
}

describe("carrier refunds", () => {
  const operate = (f: FetchLike, req = refundRequest()) =>
    createCarrierAdapter(devEndpoint("carrier"), { fetch: f }).operate(req);

  it("sends our number as partnerRefundId, by the carrier's charge id or our order reference", async () => {
    const f = carrierFetch(201, refundJson("SUCCEEDED"));
    expect(await operate(f)).toEqual({ status: "succeeded", channelOpId: "RF1", amount: 3_000, currency: "CNY" });
    expect(f.calls[0]!.url).toBe("http://channel.test/carrier/v1/refunds");
    expect(sentJson(f)).toEqual({
      partnerId: DEV_CHANNEL_KEYS.carrier.merchantId,
      partnerRefundId: "re_01",
      chargeId: "CHG1",
      partnerOrderId: "att_1",
      amount: 3_000,
      currency: "CNY",
      reason: "customer asked",
    });
    expect((f.calls[0]!.init.headers as Record<string, string>)["x-signature"]).toMatch(/^[0-9a-f]{64}$/);
    const byRef = carrierFetch(201, refundJson("SUCCEEDED"));
    await operate(byRef, refundRequest({ channelTxnId: null }));
    expect(sentJson(byRef)).not.toHaveProperty("chargeId");
  });

  it("maps the refund's state and the carrier's refusals", async () => {
    expect(await operate(carrierFetch(201, refundJson("PROCESSING")))).toEqual({
      status: "pending",
      channelOpId: "RF1",
    });
    expect(await operate(carrierFetch(201, refundJson("FAILED", { failureReason: "REFUND_DECLINED" })))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    const cases: [number, string, string][] = [
      [422, "REFUND_AMOUNT_LIMIT_EXCEEDED", "amount_exceeds_refundable"],
      [422, "REFUND_AMOUNT_EXCEEDED", "amount_exceeds_refundable"],
      [422, "REFUND_LIMIT_REACHED", "refund_limit_reached"],
      [422, "BILL_PERIOD_CLOSED", "refund_window_closed"],
      [409, "CHARGE_NOT_REFUNDABLE", "invalid_state"],
      [404, "NOT_FOUND", "invalid_state"],
      [422, "CHARGE_NOT_SETTLED", "not_settled"],
      [422, "OPERATION_NOT_SUPPORTED", "flow_not_supported"],
      [400, "INVALID_REQUEST", "channel_rejected"],
      [401, "INVALID_SIGNATURE", "channel_rejected"],
      [503, "SERVICE_BUSY", "channel_unavailable"],
    ];
    for (const [status, code, ours] of cases)
      expect(await operate(carrierFetch(status, { error: { code, message: "m" } })), code).toMatchObject({
        status: "failed",
        code: ours,
      });
    // Our number reused with other parameters, and anything new: we cannot tell what happened.
    expect((await operate(carrierFetch(409, { error: { code: "REFUND_CONFLICT" } }))).status).toBe("unknown");
    expect((await operate(carrierFetch(422, { error: { code: "SOMETHING_NEW" } }))).status).toBe("unknown");
    // An answer about another refund tells nothing about ours.
    expect((await operate(carrierFetch(201, refundJson("SUCCEEDED", { partnerRefundId: "re_99" })))).status).toBe(
      "unknown",
    );
  });

  it("after sending: unsigned, garbled or 5xx answers and timeouts are unknown; refused connections not done", async () => {
    await expectOperationTransport(operate, {
      lost: [
        carrierFetch(201, refundJson("SUCCEEDED"), false),
        carrierFetch(201, "{garbled"),
        carrierFetch(201, { refundId: "RF1" }),
        carrierFetch(500, { error: { code: "INTERNAL" } }),
        carrierFetch(502, { error: { code: "SERVICE_BUSY" } }),
      ],
    });
  });

  it("no pre-authorization, capture, void or cancel: refused without a call", async () => {
    const f = carrierFetch(201, "{}");
    const adapter = createCarrierAdapter(devEndpoint("carrier"), { fetch: f });
    expect(await adapter.pay(payRequest({ product: "carrier_billing", captureMethod: "manual" }))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    await expectFlowsNotOffered(adapter, refundRequest, ["capture", "void", "cancel"]);
    expect(f.calls).toHaveLength(0);
  });

  it("the refund query by our number: found, not found, untrusted", async () => {
    const q = (f: FetchLike) =>
      createCarrierAdapter(devEndpoint("carrier"), { fetch: f }).queryOperation(refundRequest());
    const f = carrierFetch(200, refundJson("SUCCEEDED"));
    expect(await q(f)).toEqual({ status: "succeeded", channelOpId: "RF1", amount: 3_000, currency: "CNY" });
    expect(f.calls[0]!.url).toBe("http://channel.test/carrier/v1/refunds?partnerRefundId=re_01");
    expect(await q(carrierFetch(404, { error: { code: "NOT_FOUND" } }))).toEqual({ status: "not_found" });
    expect((await q(carrierFetch(200, refundJson("SUCCEEDED"), false))).status).toBe("unknown");
    expect((await q(carrierFetch(503, { error: { code: "SERVICE_BUSY" } }))).status).toBe("unknown");
    expect((await q(refusedFetch)).status).toBe("unknown");
  });

  it("a refund event is an operation callback; a processing one is not final", () => {
    const adapter = createCarrierAdapter(devEndpoint("carrier"));
    const refundEvent = (r: CarrierRefund, partnerId = DEV_CHANNEL_KEYS.carrier.merchantId) =>
      JSON.stringify({ eventId: "E2", eventTime: "2024-03-02T10:00:02Z", partnerId, refund: r });
    const body = refundEvent(refundJson("SUCCEEDED"));
    expect(adapter.parseCallback({ headers: signed(body), rawBody: body })).toEqual({
      ok: true,
      operation: {
        channel: "carrier",
        kind: "refund",
        operationId: "re_01",
        channelOpId: "RF1",
        status: "succeeded",
        amount: 3_000,
        currency: "CNY",
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-02T10:00:01.000Z",
        notificationId: "E2",
      },
    });
    const failedBody = refundEvent(refundJson("FAILED", { failureReason: "BILL_PERIOD_CLOSED" }));
    expect(adapter.parseCallback({ headers: signed(failedBody), rawBody: failedBody })).toMatchObject({
      ok: true,
      operation: { status: "failed", failureCode: "refund_window_closed" },
    });
    const processing = refundEvent(refundJson("PROCESSING"));
    expect(adapter.parseCallback({ headers: signed(processing), rawBody: processing })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    const other = refundEvent(refundJson("SUCCEEDED"), "someone_else");
    expect(adapter.parseCallback({ headers: signed(other), rawBody: other })).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    expect(adapter.parseCallback({ headers: signed(body, "wrong"), rawBody: body })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
  });
});
