import { describe, expect, it } from "vitest";
import type { PayRequest } from "@pps/channels";
import { DAY_HOURS, operationsKit, type OperationKind, type Paid } from "./operations-test-kit.ts";

// UnionPay's pre-authorization (02), completion (03), pre-authorization cancel (32), consume cancel (31)
// and refunds (04, result by notification), driven through the real adapter against the real channel-sim
// process (its own database), with notifications received by a local server and parsed by the adapter.

const kit = operationsKit({
  channel: "unionpay",
  database: "simunionpay",
  idPrefix: "uo",
  operationReason: "test",
  simEnv: { SIM_AUTO_PAYER_DELAY_MS: "50", SIM_OPERATION_COMPLETE_DELAY_MS: "200" },
});
const { run: RUN, book: bookOf, age } = kit;

const payRequest = (over: Partial<PayRequest> = {}) =>
  kit.payRequest(
    {
      product: "online_banking",
      amount: 1234,
      currency: "CNY",
      subject: "Operations test",
      method: { bankCode: "SPDB", cardType: null, wallet: null, flow: null },
      metadata: { sim_payer: "auto_confirm" },
    },
    over,
  );

const operation = (paid: Paid, kind: OperationKind, amount: number, operationId?: string) =>
  kit.operation(paid, kind, amount, operationId === undefined ? {} : { operationId });

// UnionPay's notifications are JSON: a reference stands in them quoted.
const callbacksOf = (ref: string) => kit.callbacksOf(`"${ref}"`);
const waitCallback = (ref: string, n = 1) => kit.waitCallbacks(`"${ref}"`, n, `callback ${ref}`);

/** Pays through the scheme (async: the simulated payer confirms a moment later) and waits for the result. */
async function pay(over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(over);
  const out = await kit.adapter.pay(req);
  if (out.status !== "pending") throw new Error(`pay: ${JSON.stringify(out)}`);
  await waitCallback(req.attemptId);
  return { req, txnId: out.channelTxnId };
}

const authorize = (over: Partial<PayRequest> = {}) => pay({ captureMethod: "manual", ...over });

/** Pays, and moves the payment past its settlement day, so that refunds are taken. */
async function settled(over: Partial<PayRequest> = {}): Promise<Paid> {
  const paid = await pay(over);
  await age(paid, 30);
  return paid;
}

describe("unionpay consume and pre-authorization", () => {
  it("a consume's notification and query carry the amount and currency the scheme reported", async () => {
    const paid = await pay({ amount: 4321 });
    const [cb] = callbacksOf(paid.req.attemptId);
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { status: "succeeded", amount: 4321, currency: "CNY", channelTxnId: paid.txnId },
    });
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toEqual({
      status: "succeeded",
      channelTxnId: paid.txnId,
      amount: 4321,
      currency: "CNY",
      settlement: null,
    });
  });

  it("a pre-authorization (02) is held for 30 days: authorized in the notification and the query", async () => {
    const before = Date.now();
    const req = payRequest({ captureMethod: "manual", amount: 5000 });
    const out = await kit.adapter.pay(req);
    expect(out.status).toBe("pending");
    const [cb] = await waitCallback(req.attemptId);
    expect(cb!.parsed).toMatchObject({ ok: true, result: { status: "authorized", amount: 5000, currency: "CNY" } });
    const expiresAt = cb!.parsed.ok && "result" in cb!.parsed ? cb!.parsed.result.authorizationExpiresAt : null;
    expect(Date.parse(expiresAt ?? "")).toBeGreaterThanOrEqual(before + 30 * 86_400_000 - 1_000);
    expect(Date.parse(expiresAt ?? "")).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    expect(await kit.adapter.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual({
      status: "authorized",
      channelTxnId: out.status === "pending" ? out.channelTxnId : "",
      amount: 5000,
      currency: "CNY",
      expiresAt,
    });
  });
});

describe("unionpay pre-authorization completion (03) and cancel (32)", () => {
  it("completes part of an authorization once; the payment then took what was completed", async () => {
    const paid = await authorize();
    const capture = operation(paid, "capture", 1000);
    const done = await kit.adapter.operate(capture);
    expect(done).toMatchObject({ status: "succeeded", amount: 1000, currency: "CNY" });
    expect(await kit.adapter.operate(capture)).toEqual(done);
    expect(await kit.adapter.queryOperation(capture)).toEqual(done);
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1000,
    });
    await kit.expectRefused(operation(paid, "capture", 234), "invalid_state");
    expect(await bookOf(paid)).toMatchObject({ status: "succeeded", capturedAmount: 1000 });
  });

  it("refuses to complete more than was authorized (36), and completes all of it", async () => {
    const paid = await authorize();
    await kit.expectRefused(operation(paid, "capture", 1300), "amount_exceeds_authorized");
    expect(await kit.adapter.operate(operation(paid, "capture", 1234))).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
  });

  it("cancels a pre-authorization in full only; the payment is then its own state", async () => {
    const paid = await authorize();
    await kit.expectRefused(operation(paid, "void", 1200), "channel_rejected");
    const voided = operation(paid, "void", 1234);
    expect(await kit.adapter.operate(voided)).toMatchObject({ status: "succeeded", amount: 1234 });
    expect(await kit.adapter.queryOperation(voided)).toMatchObject({ status: "succeeded", amount: 1234 });
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("32"),
    });
    await kit.expectRefused(operation(paid, "capture", 1234), "invalid_state");
  });

  it("an authorization older than 30 days is gone: authorization_expired (37)", async () => {
    const paid = await authorize();
    await age(paid, 30 * DAY_HOURS + 1);
    await kit.expectRefused(operation(paid, "capture", 100), "authorization_expired");
    expect((await bookOf(paid)).status).toBe("voided");
  });
});

describe("unionpay consume cancel (31)", () => {
  it("cancels a consume in full on its settlement day", async () => {
    const paid = await pay();
    const cancel = operation(paid, "cancel", 1234);
    const done = await kit.adapter.operate(cancel);
    expect(done).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY" });
    expect(await kit.adapter.queryOperation(cancel)).toEqual(done);
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("31"),
    });
    expect(await bookOf(paid)).toMatchObject({ status: "canceled", refundedAmount: 1234 });
  });

  it("after the cut-off, a cancel is refused (39): cancel_window_closed", async () => {
    const paid = await settled();
    await kit.expectRefused(operation(paid, "cancel", 1234), "cancel_window_closed");
    expect((await bookOf(paid)).status).toBe("succeeded");
  });
});

describe("unionpay refunds (04)", () => {
  it("before settlement, a refund is refused (39): not_settled", async () => {
    const paid = await pay();
    await kit.expectRefused(operation(paid, "refund", 100), "not_settled");
  });

  it("a refund is accepted, then its result comes by notification and by query", async () => {
    const paid = await settled();
    const refund = operation(paid, "refund", 300);
    const accepted = await kit.adapter.operate(refund);
    expect(accepted).toMatchObject({ status: "pending" });
    const channelOpId = accepted.status === "pending" ? accepted.channelOpId : null;
    expect(channelOpId).toBeTruthy();
    const [cb] = await waitCallback(refund.operationId);
    expect(cb!.parsed).toEqual({
      ok: true,
      operation: {
        channel: "unionpay",
        kind: "refund",
        operationId: refund.operationId,
        channelOpId,
        status: "succeeded",
        amount: 300,
        currency: "CNY",
        failureCode: null,
        failureMessage: null,
        occurredAt: expect.any(String),
        notificationId: expect.any(String),
      },
    });
    expect(await kit.adapter.queryOperation(refund)).toEqual({
      status: "succeeded",
      channelOpId,
      amount: 300,
      currency: "CNY",
    });
    // A repeat under the same orderId is the same refund, done.
    expect(await kit.adapter.operate(refund)).toMatchObject({ status: "succeeded", channelOpId, amount: 300 });
    expect(await bookOf(paid)).toMatchObject({ refundedAmount: 300, refundCount: 1 });
  });

  it("refunds in parts up to what was taken; refunds in flight count; over-refunding is refused (36)", async () => {
    const paid = await settled();
    const first = operation(paid, "refund", 600);
    const second = operation(paid, "refund", 600);
    expect((await kit.adapter.operate(first)).status).toBe("pending");
    expect((await kit.adapter.operate(second)).status).toBe("pending");
    // 34 remain, though neither refund has completed yet.
    await kit.expectRefused(operation(paid, "refund", 35), "amount_exceeds_refundable");
    await waitCallback(first.operationId);
    await waitCallback(second.operationId);
    const last = operation(paid, "refund", 34);
    expect((await kit.adapter.operate(last)).status).toBe("pending");
    await waitCallback(last.operationId);
    expect(await kit.adapter.queryOperation(last)).toMatchObject({ status: "succeeded", amount: 34 });
    // Refunded in full, the payment is still the consume that succeeded.
    expect(await kit.adapter.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    const entry = await bookOf(paid);
    expect(entry).toMatchObject({ refundedAmount: 1234, refundCount: 3 });
    expect(entry.operations.map((o) => [o.amount, o.status])).toEqual([
      [600, "succeeded"],
      [600, "succeeded"],
      [34, "succeeded"],
    ]);
  });

  it("a refund the issuer declines after acceptance fails by notification, releasing its amount", async () => {
    const prefix = `${RUN}dec`;
    const paid = await settled();
    await kit.withFaults({ faults: ["decline"], ops: ["refund"], refPrefix: prefix }, async () => {
      const refund = operation(paid, "refund", 1234, `${prefix}1`);
      expect((await kit.adapter.operate(refund)).status).toBe("pending");
      const [cb] = await waitCallback(refund.operationId);
      expect(cb!.parsed).toMatchObject({
        ok: true,
        operation: { operationId: refund.operationId, status: "failed", failureCode: "channel_rejected", amount: 1234 },
      });
      expect(await kit.adapter.queryOperation(refund)).toMatchObject({ status: "failed", code: "channel_rejected" });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 0, refundCount: 0 });
    });
    // What it reserved is refundable again.
    const again = operation(paid, "refund", 1234);
    expect((await kit.adapter.operate(again)).status).toBe("pending");
    await waitCallback(again.operationId);
    expect(await kit.adapter.queryOperation(again)).toMatchObject({ status: "succeeded", amount: 1234 });
  });

  it("an unknown refund is not found; a lost answer is unknown and resolved by the query", async () => {
    const paid = await settled();
    expect(await kit.adapter.queryOperation(operation(paid, "refund", 1))).toEqual({ status: "not_found" });
    const prefix = `${RUN}to`;
    await kit.withFaults({ faults: ["5xx_after_charge"], ops: ["refund"], refPrefix: prefix }, async () => {
      const refund = operation(paid, "refund", 200, `${prefix}1`);
      expect((await kit.adapter.operate(refund)).status).toBe("unknown");
      await waitCallback(refund.operationId);
      expect(await kit.adapter.queryOperation(refund)).toMatchObject({ status: "succeeded", amount: 200 });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 200, refundCount: 1 });
    });
  });

  it("refuses refunds past the one-year window (37)", async () => {
    const paid = await pay();
    await age(paid, 366 * DAY_HOURS);
    await kit.expectRefused(operation(paid, "refund", 100), "refund_window_closed");
  });
});
