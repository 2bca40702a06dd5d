import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS, type OperationRequest, type PayRequest } from "@pps/channels";
import { simCharges, simOperations } from "@pps/db/schema";
import { HOUR_MS, operationsKit, type Paid } from "./operations-test-kit.ts";
import { createPaypalProtocol } from "./paypal.ts";
import { convertToCny } from "./paypal-fx.ts";

// PayPal's operations through the real adapter against the real channel-sim process and its own Postgres:
// authorize (intent AUTHORIZE) then capture in part or in full, or void; refunds of a capture in parts, in
// the payment's currency, with the refund query by our number; the 3-day honour period and the 180-day
// refund window by ageing the transaction. Payment webhooks reach a small local server and go through
// parseCallback.

const kit = operationsKit({
  channel: "paypal",
  database: "sim_paypal_ops",
  idPrefix: "ppo",
  idSeparator: "_",
  operationReason: "customer asked",
  callbackPath: "/cb/paypal",
});
const { next, book, age, setFaults, callbacksOf: webhooksOf } = kit;

const payRequest = (tag: string, over: Partial<PayRequest> = {}) =>
  kit.payRequest(
    {
      paymentId: `pay_${next("p")}`,
      attemptId: next(tag),
      product: "foreign_card",
      amount: 2_500,
      currency: "USD",
      subject: `PayPal ${tag}`,
      method: { bankCode: null, cardType: "credit", wallet: null, flow: null },
      returnUrl: "https://merchant.test/return?order=42",
      metadata: { order: "42" },
    },
    over,
  );

/** Pays through PayPal's checkout: the payer approves; the webhook tells the result. */
const paid = (tag: string, over: Partial<PayRequest> = {}): Promise<Paid> =>
  kit.payWithPayer(payRequest(tag, over), async (txnId) => {
    const res = await fetch(`${kit.sim.url}/paypal/checkout/${txnId}`, {
      method: "POST",
      body: "action=approve",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      redirect: "manual",
    });
    expect(res.status).toBe(303);
  });

/** An operation of the whole payment unless `over` says another amount. */
const operation = (kind: OperationRequest["kind"], p: Paid, over: Partial<OperationRequest> = {}) =>
  kit.operation(p, kind, p.req.amount, over);

describe("paypal authorize and capture", () => {
  it("intent AUTHORIZE: the approved order is authorized (webhook and query), held for the 3-day honour period", async () => {
    const before = Date.now();
    const p = await paid("auth", { captureMethod: "manual" });
    const [wh] = webhooksOf(p.req.attemptId);
    expect(wh!.parsed).toMatchObject({
      ok: true,
      result: { channel: "paypal", attemptId: p.req.attemptId, channelTxnId: p.txnId, status: "authorized" },
    });
    const result = (wh!.parsed as { result: { amount: number; currency: string; authorizationExpiresAt: string } })
      .result;
    expect(result).toMatchObject({ amount: 2_500, currency: "USD" });
    const expires = Date.parse(result.authorizationExpiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 72 * HOUR_MS - 1_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 72 * HOUR_MS + 1_000);

    const q = await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: null });
    expect(q).toEqual({
      status: "authorized",
      channelTxnId: p.txnId,
      amount: 2_500,
      currency: "USD",
      expiresAt: result.authorizationExpiresAt,
    });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "authorized" });
  });

  it("a partial capture takes part and releases the rest; a repeat is the same capture; a second one is refused", async () => {
    const p = await paid("partcap", { captureMethod: "manual" });
    const cap = operation("capture", p, { amount: 1_500 });
    const out = await kit.adapter.operate(cap);
    expect(out).toEqual({ status: "succeeded", channelOpId: `CAP${p.txnId}`, amount: 1_500, currency: "USD" });
    expect(await kit.adapter.operate(cap)).toEqual(out);

    // The payment query now tells what was taken: the captured part, settled in CNY at PayPal's rate.
    const settled = convertToCny(1_500, "USD");
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toEqual({
      status: "succeeded",
      channelTxnId: p.txnId,
      amount: 1_500,
      currency: "USD",
      settlement: settled,
    });
    expect(await kit.adapter.queryOperation(cap)).toEqual(out);

    const again = await kit.adapter.operate(operation("capture", p, { amount: 500 }));
    expect(again).toMatchObject({ status: "failed", code: "invalid_state" });
    expect((again as { message: string }).message).toContain("AUTHORIZATION_ALREADY_CAPTURED");
    await kit.expectRefused(operation("void", p), "invalid_state");
    const entry = await book(p.req.attemptId);
    expect(entry).toMatchObject({ status: "succeeded" });
    expect(entry.operations.map((o) => [o.kind, o.amount, o.status])).toEqual([["capture", 1_500, "succeeded"]]);
  });

  it("a full capture; more than authorized is refused", async () => {
    const p = await paid("fullcap", { captureMethod: "manual", amount: 4_000 });
    await kit.expectRefused(operation("capture", p, { amount: 4_001 }), "amount_exceeds_authorized");
    expect(await kit.adapter.operate(operation("capture", p))).toMatchObject({
      status: "succeeded",
      amount: 4_000,
      currency: "USD",
    });
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 4_000,
    });
  });

  it("void releases the whole authorization: repeat is the same void; capture after it is refused; query tells", async () => {
    const p = await paid("void", { captureMethod: "manual" });
    const v = operation("void", p);
    expect(await kit.adapter.queryOperation(v)).toEqual({ status: "not_found" });
    const out = await kit.adapter.operate(v);
    expect(out).toEqual({ status: "succeeded", channelOpId: `AUTH${p.txnId}`, amount: 2_500, currency: "USD" });
    expect(await kit.adapter.operate(v)).toEqual(out);
    expect(await kit.adapter.queryOperation(v)).toEqual(out);

    const cap = await kit.adapter.operate(operation("capture", p));
    expect(cap).toMatchObject({ status: "failed", code: "invalid_state" });
    expect((cap as { message: string }).message).toContain("AUTHORIZATION_VOIDED");
    await kit.expectRefused(operation("void", p), "invalid_state");
    // A voided authorization is its own state at PayPal; for the payment, nothing was kept.
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
      message: "authorization VOIDED",
    });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "voided" });
  });

  it("after the 3-day honour period the authorization is gone: capture and void refused authorization_expired", async () => {
    const p = await paid("expired", { captureMethod: "manual" });
    await age(p.txnId, 73);
    await kit.expectRefused(operation("capture", p), "authorization_expired");
    await kit.expectRefused(operation("void", p), "authorization_expired");
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
      message: "authorization EXPIRED",
    });
  });

  it("a sale has no authorization: capture and void are refused without sending; cancel is not a PayPal flow", async () => {
    const p = await paid("sale");
    await kit.expectRefused(operation("capture", p), "invalid_state");
    await kit.expectRefused(operation("void", p), "invalid_state");
    await kit.expectRefused(operation("cancel", p), "flow_not_supported");
    expect((await book(p.req.attemptId)).operations).toEqual([]);
  });
});

describe("paypal refunds", () => {
  it("partial refunds in the payment's currency, repeated; over-refund refused; the refund query by our number", async () => {
    const p = await paid("refund", { amount: 2_000 });
    const first = operation("refund", p, { amount: 500 });
    const r1 = await kit.adapter.operate(first);
    expect(r1).toMatchObject({ status: "succeeded", amount: 500, currency: "USD" });
    const r1Id = (r1 as { channelOpId: string }).channelOpId;
    expect(await kit.adapter.operate(first)).toEqual(r1);
    // Our number again with another amount: it may be done under it, so we cannot tell.
    expect(await kit.adapter.operate({ ...first, amount: 600 })).toMatchObject({ status: "unknown" });
    expect(await kit.adapter.operate(operation("refund", p, { amount: 700 }))).toMatchObject({
      status: "succeeded",
      amount: 700,
    });

    const over = await kit.adapter.operate(operation("refund", p, { amount: 900 }));
    expect(over).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((over as { message: string }).message).toContain("REFUND_AMOUNT_EXCEEDED");
    const last = operation("refund", p, { amount: 800 });
    expect(await kit.adapter.operate(last)).toMatchObject({ status: "succeeded", amount: 800 });
    const none = await kit.adapter.operate(operation("refund", p, { amount: 1 }));
    expect(none).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((none as { message: string }).message).toContain("CAPTURE_FULLY_REFUNDED");

    expect(await kit.adapter.queryOperation(first)).toEqual({
      status: "succeeded",
      channelOpId: r1Id,
      amount: 500,
      currency: "USD",
    });
    expect(await kit.adapter.queryOperation(operation("refund", p))).toEqual({ status: "not_found" });

    // Refunded in full, and still the payment that succeeded.
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 2_000,
      currency: "USD",
    });
    const entry = await book(p.req.attemptId);
    expect(entry.operations.filter((o) => o.status === "succeeded").map((o) => o.amount)).toEqual([500, 700, 800]);
  });

  it("a refund in another currency than the payment's is refused, nothing moves", async () => {
    const p = await paid("refundcur", { amount: 2_000 });
    await kit.expectRefused(operation("refund", p, { amount: 500, currency: "EUR" }), "channel_rejected");
    expect((await book(p.req.attemptId)).operations).toEqual([]);
  });

  it("a refund of a captured authorization returns part of what was captured", async () => {
    const p = await paid("capref", { captureMethod: "manual", amount: 3_000 });
    expect(await kit.adapter.operate(operation("capture", p, { amount: 2_000 }))).toMatchObject({
      status: "succeeded",
    });
    await kit.expectRefused(operation("refund", p, { amount: 2_001 }), "amount_exceeds_refundable");
    expect(await kit.adapter.operate(operation("refund", p, { amount: 2_000 }))).toMatchObject({
      status: "succeeded",
      amount: 2_000,
    });
  });

  it("an authorization not captured has nothing to refund: refused without sending", async () => {
    const p = await paid("refauth", { captureMethod: "manual" });
    await kit.expectRefused(operation("refund", p, { amount: 100 }), "invalid_state");
    expect((await book(p.req.attemptId)).operations).toEqual([]);
  });

  it("refunds are taken within 180 days of the capture", async () => {
    const p = await paid("refold", { amount: 2_000 });
    await age(p.txnId, 179 * 24);
    expect(await kit.adapter.operate(operation("refund", p, { amount: 100 }))).toMatchObject({ status: "succeeded" });
    await age(p.txnId, 2 * 24);
    await kit.expectRefused(operation("refund", p, { amount: 100 }), "refund_window_closed");
  });
});

describe("paypal operation faults", () => {
  it("a refund whose answer is lost is unknown; the query by our number finds it done, once", async () => {
    const p = await paid("lost", { amount: 2_000 });
    const r = operation("refund", p, { amount: 600 });
    await setFaults({ faults: ["timeout"], ops: ["refund"], refPrefix: r.operationId });
    const started = Date.now();
    expect(await kit.adapter.operate(r, { timeoutMs: 800 })).toMatchObject({ status: "unknown" });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await kit.adapter.queryOperation(r)).toMatchObject({ status: "succeeded", amount: 600, currency: "USD" });
    expect((await book(p.req.attemptId)).operations.map((o) => [o.ref, o.amount])).toEqual([[r.operationId, 600]]);
  });

  it("5xx after applying is unknown; busy is channel_unavailable with nothing moved; a declined refund fails", async () => {
    const p = await paid("faults", { amount: 2_000 });
    const after = operation("refund", p, { amount: 300 });
    await setFaults({ faults: ["5xx_after_charge"], ops: ["refund"], refPrefix: after.operationId });
    expect(await kit.adapter.operate(after)).toMatchObject({ status: "unknown" });
    expect(await kit.adapter.queryOperation(after)).toMatchObject({ status: "succeeded", amount: 300 });

    const busy = operation("refund", p, { amount: 300 });
    await setFaults({ faults: ["unavailable"], ops: ["refund"], refPrefix: busy.operationId });
    await kit.expectRefused(busy, "channel_unavailable");
    expect(await kit.adapter.queryOperation(busy)).toEqual({ status: "not_found" });

    const declined = operation("refund", p, { amount: 300 });
    await setFaults({ faults: ["decline"], ops: ["refund"], refPrefix: declined.operationId });
    await kit.expectRefused(declined, "channel_rejected");
    expect(await kit.adapter.queryOperation(declined)).toMatchObject({ status: "failed", code: "channel_rejected" });

    const capture = operation("capture", await paid("capfault", { captureMethod: "manual" }));
    await setFaults({ faults: ["5xx"], ops: ["capture"], refPrefix: capture.operationId });
    expect(await kit.adapter.operate(capture)).toMatchObject({ status: "unknown" });
    // 5xx before anything: the query says no capture was made.
    expect(await kit.adapter.queryOperation(capture)).toEqual({ status: "not_found" });
    const entry = await book(p.req.attemptId);
    expect(entry.operations.map((o) => [o.amount, o.status])).toEqual([
      [300, "succeeded"],
      [300, "failed"],
    ]);
  });
});

describe("paypal operation webhooks", () => {
  it("the simulator's notification of a refund or capture, from the book's rows, parses as the operation's result", async () => {
    const p = await paid("hook", { captureMethod: "manual", amount: 3_000 });
    const cap = operation("capture", p, { amount: 2_000 });
    const ref = operation("refund", p, { amount: 500 });
    expect(await kit.adapter.operate(cap)).toMatchObject({ status: "succeeded" });
    expect(await kit.adapter.operate(ref)).toMatchObject({ status: "succeeded" });
    const [charge] = await kit.db.select().from(simCharges).where(eq(simCharges.id, p.txnId));
    const ops = await kit.db.select().from(simOperations).where(eq(simOperations.chargeId, p.txnId));
    const proto = createPaypalProtocol(DEV_CHANNEL_KEYS.paypal);
    const parse = (kind: string) => {
      const op = ops.find((o) => o.kind === kind)!;
      const msg = proto.renderOperationCallback(op, charge!, `ntf_${kind}`, new Date());
      return kit.adapter.parseCallback({ headers: msg.headers, rawBody: msg.body });
    };
    expect(parse("refund")).toMatchObject({
      ok: true,
      operation: {
        channel: "paypal",
        kind: "refund",
        operationId: ref.operationId,
        status: "succeeded",
        amount: 500,
        currency: "USD",
        notificationId: "WH-ntf_refund",
      },
    });
    expect(parse("capture")).toMatchObject({
      ok: true,
      operation: { kind: "capture", operationId: cap.operationId, status: "succeeded", amount: 2_000 },
    });
  });
});

describe("paypal pay as before", () => {
  it("a sale: approved → COMPLETED webhook with what PayPal took, settled in CNY", async () => {
    const p = await paid("plain", { amount: 1_234 });
    const [wh] = webhooksOf(p.req.attemptId);
    expect(wh!.parsed).toEqual({
      ok: true,
      result: expect.objectContaining({
        status: "succeeded",
        amount: 1_234,
        currency: "USD",
        settlement: { amount: 8_860, currency: "CNY", fxRate: "7.1800" },
      }),
    });
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1_234,
      currency: "USD",
    });
  });
});
