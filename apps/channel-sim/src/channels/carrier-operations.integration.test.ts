import { randomInt } from "node:crypto";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS, type OperationRequest, type PayRequest } from "@pps/channels";
import { simCharges, simOperations } from "@pps/db/schema";
import { BEIJING_OFFSET_MS } from "@pps/domain";
import { createCarrierProtocol } from "./carrier.ts";
import { HOUR_MS, operationsKit, type Paid } from "./operations-test-kit.ts";

// Carrier billing's refunds through the real adapter against the real channel-sim process and its own
// Postgres: small amounts only (CNY 100.00 each), one per charge, within the bill period (the calendar
// month in Beijing time), answered at once; the refund query by our number; no pre-authorization, no
// cancel. Charge callbacks reach a small local server and go through parseCallback.

const kit = operationsKit({
  channel: "carrier",
  database: "sim_carrier_ops",
  idPrefix: "cro",
  idSeparator: "_",
  operationTag: () => "re",
  operationReason: "customer asked",
  callbackPath: "/cb/carrier",
});
const { next, book, age, setFaults } = kit;
const phone = () => `139${String(randomInt(0, 100_000_000)).padStart(8, "0")}`;

const payRequest = (tag: string, over: Partial<PayRequest> = {}) =>
  kit.payRequest(
    {
      paymentId: `pay_${next("p")}`,
      attemptId: next(tag),
      product: "carrier_billing",
      amount: 20_000,
      currency: "CNY",
      subject: `Carrier ${tag}`,
      payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: phone() },
      method: { bankCode: null, cardType: null, wallet: null, flow: null },
      metadata: { order: "42" },
    },
    over,
  );

/** Charges a subscriber: the code texted to the phone is confirmed; the callback tells the result. */
async function paid(tag: string, over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(tag, over);
  return kit.payWithPayer(req, async (txnId) => {
    const sms = await fetch(`${kit.sim.url}/sms/outbox?phone=${req.payer.phone}`);
    const { messages } = (await sms.json()) as { messages: { text: string }[] };
    const code = /Code (\d{6})/.exec(messages[0]?.text ?? "")?.[1];
    const res = await fetch(`${kit.sim.url}/carrier/confirm`, {
      method: "POST",
      body: JSON.stringify({ txnId, code }),
      headers: { "content-type": "application/json" },
    });
    expect(await res.json()).toEqual({ status: "SUCCEEDED" });
  });
}

const refund = (p: Paid, amount: number, over: Partial<OperationRequest> = {}) =>
  kit.operation(p, "refund", amount, over);

describe("carrier refunds", () => {
  it("one small refund per charge, answered at once; a repeat is the same refund; a second one is refused", async () => {
    const p = await paid("one");
    const r = refund(p, 3_000);
    const out = await kit.adapter.operate(r);
    expect(out).toMatchObject({ status: "succeeded", amount: 3_000, currency: "CNY" });
    expect(await kit.adapter.operate(r)).toEqual(out);
    expect(await kit.adapter.queryOperation(r)).toEqual(out);
    // Our number again with another amount: it may be done under it, so we cannot tell.
    expect(await kit.adapter.operate({ ...r, amount: 2_000 })).toMatchObject({ status: "unknown" });
    const second = await kit.adapter.operate(refund(p, 1_000));
    expect(second).toMatchObject({ status: "failed", code: "refund_limit_reached" });
    expect((second as { message: string }).message).toContain("REFUND_LIMIT_REACHED");

    const entry = await book(p.req.attemptId);
    expect(entry).toMatchObject({ status: "succeeded", refundedAmount: 3_000 });
    expect(entry.operations.map((o) => [o.ref, o.amount, o.status])).toEqual([[r.operationId, 3_000, "succeeded"]]);
    // Refunded, and still the charge that succeeded.
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 20_000,
      currency: "CNY",
    });
  });

  it("small amounts only: more than CNY 100.00 is refused and nothing moves; CNY 100.00 itself is refunded", async () => {
    const p = await paid("small");
    const big = await kit.adapter.operate(refund(p, 10_001));
    expect(big).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((big as { message: string }).message).toContain("REFUND_AMOUNT_LIMIT_EXCEEDED");
    expect((await book(p.req.attemptId)).operations).toEqual([]);
    expect(await kit.adapter.operate(refund(p, 10_000))).toMatchObject({ status: "succeeded", amount: 10_000 });
  });

  it("never more than was charged", async () => {
    const p = await paid("over", { amount: 5_000 });
    const over = await kit.adapter.operate(refund(p, 6_000));
    expect(over).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((over as { message: string }).message).toContain("REFUND_AMOUNT_EXCEEDED");
    // By our order reference when the carrier's id is not at hand.
    expect(await kit.adapter.operate(refund(p, 5_000, { channelTxnId: null }))).toMatchObject({
      status: "succeeded",
      amount: 5_000,
    });
  });

  it("within the bill period only: a charge of last month (Beijing time) is not refunded", async () => {
    const p = await paid("period");
    const now = Date.now();
    const beijing = new Date(now + BEIJING_OFFSET_MS);
    const monthStart = Date.UTC(beijing.getUTCFullYear(), beijing.getUTCMonth(), 1) - BEIJING_OFFSET_MS;
    // One hour before this month began: last month's bill, well within the 31-day window.
    await age(p.txnId, (now - monthStart) / HOUR_MS + 1);
    const out = await kit.adapter.operate(refund(p, 1_000));
    expect(out).toMatchObject({ status: "failed", code: "refund_window_closed" });
    expect((out as { message: string }).message).toContain("BILL_PERIOD_CLOSED");
  });

  it("an unconfirmed charge has nothing to refund; an unknown one neither", async () => {
    const req = payRequest("unpaid");
    const pending = await kit.adapter.pay(req);
    const p = { req, txnId: (pending as { channelTxnId: string }).channelTxnId };
    await kit.expectRefused(refund(p, 1_000), "invalid_state");
    await kit.expectRefused(
      refund(p, 1_000, { channelTxnId: "CHGNOSUCHCHARGE00", attemptId: next("none") }),
      "invalid_state",
    );
    expect(await kit.adapter.queryOperation(refund(p, 1_000))).toEqual({ status: "not_found" });
  });

  it("no pre-authorization and no cancel: refused without a call", async () => {
    expect(await kit.adapter.pay(payRequest("manual", { captureMethod: "manual" }))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    const p = { req: payRequest("flows"), txnId: "CHGX" };
    for (const kind of ["capture", "void", "cancel"] as const) {
      await kit.expectRefused({ ...refund(p, 100), kind }, "flow_not_supported");
      expect(await kit.adapter.queryOperation({ ...refund(p, 100), kind })).toMatchObject({
        status: "failed",
        code: "flow_not_supported",
      });
    }
  });
});

describe("carrier refund faults", () => {
  it("a lost answer is unknown and the query finds the refund done once; busy is channel_unavailable; a decline fails", async () => {
    const p = await paid("lost");
    const r = refund(p, 2_000);
    await setFaults({ faults: ["timeout"], ops: ["refund"], refPrefix: r.operationId });
    const started = Date.now();
    expect(await kit.adapter.operate(r, { timeoutMs: 800 })).toMatchObject({ status: "unknown" });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await kit.adapter.queryOperation(r)).toMatchObject({ status: "succeeded", amount: 2_000 });
    expect((await book(p.req.attemptId)).refundedAmount).toBe(2_000);

    const q = await paid("busy");
    const busy = refund(q, 2_000);
    await setFaults({ faults: ["unavailable"], ops: ["refund"], refPrefix: busy.operationId });
    await kit.expectRefused(busy, "channel_unavailable");
    expect(await kit.adapter.queryOperation(busy)).toEqual({ status: "not_found" });

    const declined = refund(q, 2_000);
    await setFaults({ faults: ["decline"], ops: ["refund"], refPrefix: declined.operationId });
    await kit.expectRefused(declined, "channel_rejected");
    expect(await kit.adapter.queryOperation(declined)).toMatchObject({ status: "failed", code: "channel_rejected" });
    // A declined refund used up nothing: the one refund of the charge is still to be had.
    expect(await kit.adapter.operate(refund(q, 2_000))).toMatchObject({ status: "succeeded" });

    const lookup = refund(q, 2_000);
    await setFaults({ faults: ["5xx"], ops: ["query_operation"], refPrefix: lookup.operationId });
    expect(await kit.adapter.queryOperation(lookup)).toMatchObject({ status: "unknown" });
  });
});

describe("carrier refund events", () => {
  it("the simulator's refund event, from the book's rows, parses as the operation's result", async () => {
    const p = await paid("event");
    const r = refund(p, 4_000);
    expect(await kit.adapter.operate(r)).toMatchObject({ status: "succeeded" });
    const [charge] = await kit.db.select().from(simCharges).where(eq(simCharges.id, p.txnId));
    const [op] = await kit.db.select().from(simOperations).where(eq(simOperations.chargeId, p.txnId));
    const msg = createCarrierProtocol(DEV_CHANNEL_KEYS.carrier).renderOperationCallback(
      op!,
      charge!,
      "ntf_1",
      new Date(),
    );
    expect(kit.adapter.parseCallback({ headers: msg.headers, rawBody: msg.body })).toMatchObject({
      ok: true,
      operation: {
        channel: "carrier",
        kind: "refund",
        operationId: r.operationId,
        channelOpId: op!.id,
        status: "succeeded",
        amount: 4_000,
        currency: "CNY",
        notificationId: "ntf_1",
      },
    });
  });
});

describe("carrier pay as before", () => {
  it("the confirmed charge's callback and query carry what the carrier billed", async () => {
    const p = await paid("plain", { amount: 1_234 });
    const [cb] = kit.callbacksOf(p.req.attemptId);
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { channel: "carrier", status: "succeeded", amount: 1_234, currency: "CNY", channelTxnId: p.txnId },
    });
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toEqual({
      status: "succeeded",
      channelTxnId: p.txnId,
      amount: 1_234,
      currency: "CNY",
      settlement: null,
    });
  });
});
