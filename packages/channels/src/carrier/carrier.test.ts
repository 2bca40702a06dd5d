import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import { answerFetch, devEndpoint, payRequest } from "../shared/test-fixtures.ts";
import { carrierMessageSignature, type CarrierCharge } from "./client.ts";
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
    expect(carrierCreateOutcome({ status: 201, charge: charge("SUCCEEDED") }).status).toBe("succeeded");
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
