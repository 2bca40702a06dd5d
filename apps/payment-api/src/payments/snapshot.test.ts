import { describe, expect, it } from "vitest";
import { eventRegistry, paymentEvents, paymentInternalEvents, TOPICS } from "@pps/messaging";
import { changeMessages, type PaymentRow, toInternalSnapshot, toSnapshot } from "./snapshot.ts";

const PHONE = "+8613912345678";
const IP = "203.0.113.77";
const DEVICE = "device-7f3a";

function row(over: Partial<PaymentRow> = {}): PaymentRow {
  const at = new Date("2026-03-01T12:00:00.000Z");
  return {
    id: "pay_01SNAPSHOT",
    merchantId: "m_1",
    merchantOrderNo: "o_1",
    product: "carrier_billing",
    amount: 1_500,
    currency: "CNY",
    subject: "Top-up",
    status: "risk_review",
    version: 1,
    payerId: "u_1",
    payerIp: IP,
    payerDeviceId: DEVICE,
    payerPhone: PHONE,
    method: { bankCode: null, cardType: null, wallet: null, flow: null },
    notifyUrl: "https://shop.example/n",
    returnUrl: "https://shop.example/r",
    metadata: { cart: "c-1" },
    channel: null,
    channelTxnId: null,
    action: null,
    settlement: null,
    failureCode: null,
    failureMessage: null,
    captureMethod: "automatic",
    amountAuthorized: 0,
    amountCaptured: 0,
    amountRefunded: 0,
    amountRefundPending: 0,
    authorizedAt: null,
    authorizationExpiresAt: null,
    capturedAt: null,
    paidAttemptId: null,
    expiresAt: new Date(at.getTime() + 1_800_000),
    createdAt: at,
    updatedAt: at,
    ...over,
  };
}

const personal = new RegExp([PHONE, IP, DEVICE].map((v) => v.replace(/[.+]/g, "\\$&")).join("|"));

describe("toSnapshot (public) and toInternalSnapshot", () => {
  it("names the payer by id only in the public snapshot, and it is a valid public v2 payload", () => {
    const s = toSnapshot(row(), null);
    expect(s.payer).toEqual({ id: "u_1" });
    expect(JSON.stringify(s)).not.toMatch(personal);
    expect(paymentEvents.created.payload.safeParse(s).success).toBe(true);
    expect(s).toMatchObject({
      paymentId: "pay_01SNAPSHOT",
      status: "risk_review",
      previousStatus: null,
      version: 1,
      amount: 1_500,
      expiresAt: "2026-03-01T12:30:00.000Z",
    });
  });

  it("adds the payer's contact data, and nothing else, in the internal snapshot", () => {
    const r = row();
    const pub = toSnapshot(r, null);
    const internal = toInternalSnapshot(pub, r);
    expect(internal.payer).toEqual({ id: "u_1", ip: IP, deviceId: DEVICE, phone: PHONE });
    expect({ ...internal, payer: { id: internal.payer.id } }).toEqual(pub);
    expect(paymentInternalEvents.created.payload.safeParse(internal).success).toBe(true);
    expect(toInternalSnapshot(pub, row({ payerIp: null, payerDeviceId: null, payerPhone: null })).payer).toEqual({
      id: "u_1",
      ip: null,
      deviceId: null,
      phone: null,
    });
  });
});

describe("changeMessages", () => {
  it("a payment entering risk review: the public event and its restricted twin, same time, same key, own ids", () => {
    const m = changeMessages(paymentEvents.created, row(), null);
    expect(m.public.def).toBe(paymentEvents.created);
    expect(m.public.envelope).toMatchObject({ type: "payment.created", version: 2, aggregateId: "pay_01SNAPSHOT" });
    expect(JSON.stringify(m.public.envelope)).not.toMatch(personal);
    expect(m.internal?.def.topic).toBe(TOPICS.paymentInternal.name);
    expect(m.internal?.envelope).toMatchObject({
      type: "payment.internal.created",
      version: 1,
      aggregateId: "pay_01SNAPSHOT",
      occurredAt: m.public.envelope.occurredAt,
    });
    expect(m.internal?.envelope.id).not.toBe(m.public.envelope.id);
    expect(JSON.stringify(m.internal?.envelope)).toMatch(personal);
    for (const e of [m.public.envelope, m.internal!.envelope]) expect(eventRegistry.parse(e).ok).toBe(true);
  });

  it("a payment entering processing gets the router's twin; a pre-order and later changes only the public event", () => {
    expect(
      changeMessages(paymentEvents.processing, row({ status: "processing", version: 2 }), "risk_review").internal
        ?.envelope.type,
    ).toBe("payment.internal.processing");
    expect(
      changeMessages(paymentEvents.submitted, row({ version: 2 }), "awaiting_payment").internal?.envelope.type,
    ).toBe("payment.internal.submitted");
    expect(changeMessages(paymentEvents.created, row({ status: "awaiting_payment" }), null).internal).toBeNull();
    for (const [def, status] of [
      [paymentEvents.requiresAction, "requires_action"],
      [paymentEvents.succeeded, "succeeded"],
      [paymentEvents.failed, "failed"],
      [paymentEvents.requiresVerification, "requires_verification"],
    ] as const) {
      const m = changeMessages(def, row({ status, version: 3 }), "processing");
      expect(m.internal, status).toBeNull();
      expect(JSON.stringify(m.public.envelope)).not.toMatch(personal);
    }
  });
});
