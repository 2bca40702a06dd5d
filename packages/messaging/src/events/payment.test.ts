import { describe, expect, it } from "vitest";
import { PAYMENT_STATUSES } from "@pps/domain";
import { eventRegistry } from "./index.ts";
import {
  internalPaymentSnapshotSchema,
  internalTwinOf,
  paymentEvents,
  paymentEventsV1,
  paymentInternalEvents,
  paymentSnapshotSchema,
} from "./payment.ts";
import { TOPICS } from "../topics.ts";

const contact = { id: "u_1", ip: "203.0.113.7", deviceId: "dev-1", phone: "+8613800138000" };
const snapshot = {
  paymentId: "pay_1",
  merchantId: "m_1",
  merchantOrderNo: "o_1",
  product: "carrier_billing",
  amount: 500,
  currency: "CNY",
  status: "processing",
  previousStatus: "risk_review",
  version: 2,
  channel: null,
  failureCode: null,
  failureMessage: null,
  subject: "s",
  payer: contact,
  method: { bankCode: null, cardType: null, wallet: null, flow: null },
  returnUrl: "https://shop.example/r",
  notifyUrl: "https://shop.example/n",
  metadata: {},
  expiresAt: "2026-03-01T12:30:00.000Z",
  createdAt: "2026-03-01T12:00:00.000Z",
  updatedAt: "2026-03-01T12:00:01.000Z",
};

describe("payment event versions and topics", () => {
  it("produces v2 on the public topic; v1 stays readable, marked retired", () => {
    for (const def of Object.values(paymentEvents))
      expect([def.version, def.topic, def.retired]).toEqual([2, TOPICS.paymentEvents.name, undefined]);
    for (const def of Object.values(paymentEventsV1))
      expect([def.version, def.topic, typeof def.retired]).toEqual([1, TOPICS.paymentEvents.name, "string"]);
    for (const def of Object.values(paymentInternalEvents)) expect(def.topic).toBe(TOPICS.paymentInternal.name);
    expect(eventRegistry.get("payment.created", 1)).toBeDefined();
    expect(eventRegistry.get("payment.created", 2)).toBeDefined();
  });

  it("the public v2 payer is the id only: contact data never survives parsing into it", () => {
    expect(paymentSnapshotSchema.parse(snapshot).payer).toEqual({ id: "u_1" });
    const parsed = eventRegistry.parse({
      id: "0c8f5a7e-3f7b-4b8e-9a51-0d1f2b3c4d5e",
      type: "payment.processing",
      version: 2,
      occurredAt: snapshot.updatedAt,
      aggregateId: "pay_1",
      payload: snapshot,
    });
    expect(parsed.ok && JSON.stringify(parsed.envelope)).not.toMatch(/203\.0\.113\.7|dev-1|8613800138000/);
  });

  it("the internal snapshot and retired v1 require the contact fields (null when the payer gave none)", () => {
    expect(internalPaymentSnapshotSchema.parse(snapshot).payer).toEqual(contact);
    expect(internalPaymentSnapshotSchema.safeParse({ ...snapshot, payer: { id: "u_1" } }).success).toBe(false);
    expect(
      paymentEventsV1.processing.payload.safeParse({
        ...snapshot,
        payer: { id: "u_1", ip: null, deviceId: null, phone: null },
      }).success,
    ).toBe(true);
  });

  it("has a restricted twin only for the changes risk-stub and router act on", () => {
    const twins = PAYMENT_STATUSES.flatMap((status) =>
      Object.values(paymentEvents).map(
        (def) => [def.type, status, internalTwinOf(def.type, status)?.type ?? null] as const,
      ),
    ).filter(([, , twin]) => twin !== null);
    // Every other change, a pre-order awaiting payment (payment.created) included: the public event alone.
    expect(twins).toEqual([
      ["payment.created", "risk_review", "payment.internal.created"],
      ["payment.submitted", "risk_review", "payment.internal.submitted"],
      ["payment.processing", "processing", "payment.internal.processing"],
    ]);
    expect(internalTwinOf("payment.created", "awaiting_payment")).toBeNull();
  });
});
