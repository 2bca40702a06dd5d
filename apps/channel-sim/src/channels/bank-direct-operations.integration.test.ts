import { describe, expect, it } from "vitest";
import type { PayRequest } from "@pps/channels";
import { DAY_HOURS, operationsKit, type OperationKind, type Paid } from "./operations-test-kit.ts";

// bank_direct's pre-authorization, capture, void, same-day cancel and refunds, driven through the real
// adapter against the real channel-sim process (its own database), as the router drives them.

const kit = operationsKit({
  channel: "bank_direct",
  database: "simbank",
  idPrefix: "bo",
  operationReason: null,
  simEnv: { SIM_AUTO_PAYER_DELAY_MS: "50" },
});
const { run: RUN, book: bookOf, age } = kit;

const payRequest = (over: Partial<PayRequest> = {}) =>
  kit.payRequest(
    {
      product: "online_banking",
      amount: 1234,
      currency: "CNY",
      subject: "Operations test",
      method: { bankCode: "CMB", cardType: "debit", wallet: null, flow: null },
      // The bank is sync: the simulated payer confirms inside the pay request.
      metadata: { sim_payer: "auto_confirm" },
    },
    over,
  );

const operation = (paid: Paid, kind: OperationKind, amount: number, operationId?: string) =>
  kit.operation(paid, kind, amount, operationId === undefined ? {} : { operationId });

async function pay(over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(over);
  const out = await kit.adapter.pay(req);
  if (out.status !== "succeeded" && out.status !== "authorized") throw new Error(`pay: ${JSON.stringify(out)}`);
  return { req, txnId: out.channelTxnId };
}

const authorize = (over: Partial<PayRequest> = {}) => pay({ captureMethod: "manual", ...over });

describe("bank_direct pay and pre-authorization", () => {
  it("a sale answers succeeded with the amount and currency the bank reported, and its callback says the same", async () => {
    const req = payRequest();
    const out = await kit.adapter.pay(req);
    expect(out).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY", settlement: null });
    const [cb] = await kit.waitCallbacks(req.attemptId, 1, "sale callback");
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { status: "succeeded", amount: 1234, currency: "CNY", attemptId: req.attemptId },
    });
    expect(await kit.adapter.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual(out);
  });

  it("a pre-authorization holds the amount for 7 days: authorized in the answer, the query and the callback", async () => {
    const before = Date.now();
    const req = payRequest({ captureMethod: "manual", amount: 2000 });
    const out = await kit.adapter.pay(req);
    expect(out).toMatchObject({ status: "authorized", amount: 2000, currency: "CNY" });
    const expiresAt = Date.parse(out.status === "authorized" ? out.expiresAt : "");
    // The bank writes times to the second.
    expect(expiresAt).toBeGreaterThanOrEqual(before + 7 * 86_400_000 - 1_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
    expect(await kit.adapter.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual(out);
    const [cb] = await kit.waitCallbacks(req.attemptId, 1, "auth callback");
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { status: "authorized", amount: 2000, authorizationExpiresAt: new Date(expiresAt).toISOString() },
    });
    expect(await bookOf({ req, txnId: out.status === "authorized" ? out.channelTxnId : "" })).toMatchObject({
      status: "authorized",
      authorizedAmount: 2000,
      capturedAmount: 0,
    });
  });
});

describe("bank_direct capture and void", () => {
  it("captures part of an authorization once; a repeat under the same number moves nothing; another is refused", async () => {
    const paid = await authorize();
    const capture = operation(paid, "capture", 1000);
    const done = await kit.adapter.operate(capture);
    expect(done).toMatchObject({ status: "succeeded", amount: 1000, currency: "CNY" });
    const channelOpId = done.status === "succeeded" ? done.channelOpId : null;
    expect(channelOpId).toBeTruthy();
    expect(await kit.adapter.operate(capture)).toEqual(done);
    expect(await kit.adapter.queryOperation(capture)).toEqual(done);
    // The payment took what was captured; the rest was released.
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1000,
    });
    await kit.expectRefused(operation(paid, "capture", 234), "invalid_state");
    await kit.expectRefused(operation(paid, "void", 1234), "invalid_state");
    const entry = await bookOf(paid);
    expect(entry).toMatchObject({ status: "succeeded", authorizedAmount: 1234, capturedAmount: 1000 });
    expect(entry.operations).toEqual([expect.objectContaining({ kind: "capture", amount: 1000, status: "succeeded" })]);
  });

  it("captures the whole authorization, and refuses more than it holds", async () => {
    const over = await authorize();
    await kit.expectRefused(operation(over, "capture", 1235), "amount_exceeds_authorized");
    expect(await kit.adapter.operate(operation(over, "capture", 1234))).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    expect((await bookOf(over)).capturedAmount).toBe(1234);
  });

  it("voids an authorization in full; a partial void is refused; a voided payment is its own state", async () => {
    const paid = await authorize();
    await kit.expectRefused(operation(paid, "void", 1000), "channel_rejected");
    const voided = await kit.adapter.operate(operation(paid, "void", 1234));
    expect(voided).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY" });
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("VOIDED"),
    });
    await kit.expectRefused(operation(paid, "capture", 1234), "invalid_state");
    expect((await bookOf(paid)).status).toBe("voided");
  });

  it("an authorization past its 7 days can be neither captured nor voided", async () => {
    const paid = await authorize();
    await age(paid, 7 * DAY_HOURS + 1);
    await kit.expectRefused(operation(paid, "capture", 1234), "authorization_expired");
    await kit.expectRefused(operation(paid, "void", 1234), "authorization_expired");
    expect(await bookOf(paid)).toMatchObject({ status: "voided", capturedAmount: 0, operations: [] });
  });
});

describe("bank_direct same-day cancel", () => {
  it("cancels a sale in full on its settlement day; nothing more can be done with it", async () => {
    const paid = await pay();
    const cancel = operation(paid, "cancel", 1234);
    const done = await kit.adapter.operate(cancel);
    expect(done).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY" });
    expect(await kit.adapter.queryOperation(cancel)).toEqual(done);
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("CANCELED"),
    });
    await kit.expectRefused(operation(paid, "refund", 100), "invalid_state");
    expect(await bookOf(paid)).toMatchObject({ status: "canceled", refundedAmount: 1234 });
  });

  it("a cancel for less than the whole payment is refused", async () => {
    const paid = await pay();
    await kit.expectRefused(operation(paid, "cancel", 1000), "channel_rejected");
    expect((await bookOf(paid)).status).toBe("succeeded");
  });

  it("once the 23:00 cut-off has passed, a cancel is refused: cancel_window_closed", async () => {
    const paid = await pay();
    await age(paid, 30);
    await kit.expectRefused(operation(paid, "cancel", 1234), "cancel_window_closed");
    expect(await bookOf(paid)).toMatchObject({ status: "succeeded", refundedAmount: 0 });
  });
});

describe("bank_direct refunds", () => {
  it("refuses a refund before the payment settled: not_settled", async () => {
    const paid = await pay();
    await kit.expectRefused(operation(paid, "refund", 100), "not_settled");
    expect((await bookOf(paid)).refundCount).toBe(0);
  });

  it("refunds a settled payment in parts, at once; over-refunding is refused; the query tells each refund", async () => {
    const paid = await pay();
    await age(paid, 30);
    const first = operation(paid, "refund", 300);
    const second = operation(paid, "refund", 400);
    const r1 = await kit.adapter.operate(first);
    expect(r1).toMatchObject({ status: "succeeded", amount: 300, currency: "CNY" });
    expect(await kit.adapter.operate(second)).toMatchObject({ status: "succeeded", amount: 400 });
    // A repeat under the first number is the first refund again: nothing moves twice.
    expect(await kit.adapter.operate(first)).toEqual(r1);
    await kit.expectRefused(operation(paid, "refund", 535), "amount_exceeds_refundable");
    expect(await kit.adapter.queryOperation(second)).toMatchObject({ status: "succeeded", amount: 400 });
    expect(await kit.adapter.queryOperation(operation(paid, "refund", 1))).toEqual({ status: "not_found" });
    expect(await kit.adapter.operate(operation(paid, "refund", 534))).toMatchObject({
      status: "succeeded",
      amount: 534,
    });
    // Refunded in full, the payment is still the payment that succeeded.
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    const entry = await bookOf(paid);
    expect(entry).toMatchObject({ status: "succeeded", refundedAmount: 1234, refundCount: 3 });
    expect(entry.operations.map((o) => [o.kind, o.amount, o.status])).toEqual([
      ["refund", 300, "succeeded"],
      ["refund", 400, "succeeded"],
      ["refund", 534, "succeeded"],
    ]);
  });

  it("the same request number for another amount is a conflict: unknown, never failed", async () => {
    const paid = await pay();
    await age(paid, 30);
    const refund = operation(paid, "refund", 100);
    expect((await kit.adapter.operate(refund)).status).toBe("succeeded");
    expect((await kit.adapter.operate({ ...refund, amount: 200 })).status).toBe("unknown");
    expect((await bookOf(paid)).refundedAmount).toBe(100);
  });

  it("refuses refunds past the one-year window", async () => {
    const paid = await pay();
    await age(paid, 366 * DAY_HOURS);
    await kit.expectRefused(operation(paid, "refund", 100), "refund_window_closed");
  });

  it("an operation on a payment the bank does not know is refused", async () => {
    const ghost: Paid = { req: payRequest(), txnId: "B00000000000000000000" };
    await kit.expectRefused({ ...operation(ghost, "refund", 100), channelTxnId: null }, "channel_rejected");
  });
});

describe("bank_direct operation faults", () => {
  it("an answer lost in a timeout is unknown; the query by the same number finds the one refund", async () => {
    const prefix = `${RUN}to`;
    const paid = await pay();
    await age(paid, 30);
    await kit.withFaults({ faults: ["timeout"], ops: ["refund"], refPrefix: prefix }, async () => {
      const refund = operation(paid, "refund", 200, `${prefix}1`);
      const started = Date.now();
      expect((await kit.adapter.operate(refund, { timeoutMs: 800 })).status).toBe("unknown");
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await kit.adapter.queryOperation(refund)).toMatchObject({ status: "succeeded", amount: 200 });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 200, refundCount: 1 });
    });
  });

  it("a busy bank did nothing: channel_unavailable, nothing recorded; a busy query is unknown", async () => {
    const prefix = `${RUN}busy`;
    const paid = await authorize();
    await kit.withFaults(
      { faults: ["unavailable"], ops: ["capture", "query_operation"], refPrefix: prefix },
      async () => {
        const capture = operation(paid, "capture", 1234, `${prefix}1`);
        await kit.expectRefused(capture, "channel_unavailable");
        expect((await kit.adapter.queryOperation(capture)).status).toBe("unknown");
        expect(await bookOf(paid)).toMatchObject({ status: "authorized", operations: [] });
      },
    );
  });

  it("a refund the bank declines fails with nothing moved", async () => {
    const prefix = `${RUN}dec`;
    const paid = await pay();
    await age(paid, 30);
    await kit.withFaults({ faults: ["decline"], ops: ["refund"], refPrefix: prefix }, async () => {
      const refund = operation(paid, "refund", 200, `${prefix}1`);
      await kit.expectRefused(refund, "channel_rejected");
      expect(await kit.adapter.queryOperation(refund)).toMatchObject({ status: "failed", code: "channel_rejected" });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 0, refundCount: 0 });
    });
  });
});
