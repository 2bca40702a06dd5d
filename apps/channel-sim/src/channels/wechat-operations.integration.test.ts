import { describe, expect, it } from "vitest";
import type { OperationRequest, PayRequest } from "@pps/channels";
import { waitFor } from "@pps/test-support";
import { DAY_HOURS, operationsKit, type Paid } from "./operations-test-kit.ts";

// WeChat's operations through the real adapter against the real channel-sim process and Postgres: refunds
// (accepted, then completed by the channel and told by refund notification and refundquery), its limits,
// and the flows it lacks. Notifications are received by a small local HTTP server and parsed by the adapter.

const kit = operationsKit({
  channel: "wechat",
  database: "wechatops",
  idPrefix: "wx",
  operationTag: () => "re_",
  operationReason: "returned goods",
  callbackPath: "/cb/pay",
  simEnv: {
    SIM_CALLBACK_RETRY_BASE_MS: "200",
    SIM_AUTO_PAYER_DELAY_MS: "25",
    SIM_OPERATION_COMPLETE_DELAY_MS: "200",
  },
});
const { next, book, age } = kit;

const payRequest = (over: Partial<PayRequest> = {}) =>
  kit.payRequest(
    {
      product: "platform_pay",
      amount: 1234,
      currency: "CNY",
      subject: "Test refund",
      method: { bankCode: null, cardType: null, wallet: "wechat", flow: "qr_code" },
      metadata: { sim_payer: "auto_confirm" },
    },
    over,
  );

/** A paid order: the payer confirms in the wallet at once; its success comes by notification. */
async function paid(over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(over);
  const out = await kit.adapter.pay(req);
  expect(out.status).toBe("pending");
  const txnId = (out as { channelTxnId: string }).channelTxnId;
  await waitFor(
    async () => (await kit.adapter.query({ attemptId: req.attemptId, channelTxnId: txnId })).status === "succeeded",
    {
      intervalMs: 25,
      what: `payment ${req.attemptId}`,
    },
  );
  return { req, txnId };
}

const refund = (p: Paid, amount: number, over: Partial<OperationRequest> = {}) =>
  kit.operation(p, "refund", amount, { callbackUrl: kit.callbackUrl("/cb/refund"), ...over });

const waitNotifications = (operationId: string, n: number) =>
  kit.waitCallbacks(`<out_refund_no><![CDATA[${operationId}]]>`, n, `${n} refund notification(s) for ${operationId}`);

describe("wechat payments", () => {
  it("a paid order reports the amount and currency WeChat took, by notification and query", async () => {
    const p = await paid({ amount: 4321 });
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toEqual({
      status: "succeeded",
      channelTxnId: p.txnId,
      amount: 4321,
      currency: "CNY",
      settlement: null,
    });
    const [cb] = await kit.waitCallbacks(p.req.attemptId, 1, "pay notification");
    expect(cb!.parsed).toMatchObject({ ok: true, result: { status: "succeeded", amount: 4321, currency: "CNY" } });
  });

  it("takes no pre-authorization: refused by the adapter, and by the channel if asked", async () => {
    const req = payRequest({ captureMethod: "manual" });
    expect(await kit.adapter.pay(req)).toMatchObject({ status: "failed", code: "channel_rejected" });
    expect(await kit.adapter.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual({ status: "not_found" });
  });

  it("offers no capture, void or cancel", async () => {
    const p = await paid();
    for (const kind of ["capture", "void", "cancel"] as const) {
      await kit.expectRefused(refund(p, 1234, { kind }), "flow_not_supported");
      expect(await kit.adapter.queryOperation(refund(p, 1234, { kind }))).toMatchObject({ code: "flow_not_supported" });
    }
    expect(await book(p.req.attemptId)).toMatchObject({ status: "succeeded", refundedAmount: 0, operations: [] });
  });
});

describe("wechat refunds", () => {
  it("a partial refund is accepted, completes by itself, and is told by notification and refundquery", async () => {
    const p = await paid();
    const req = refund(p, 300);
    const accepted = await kit.adapter.operate(req);
    expect(accepted).toMatchObject({ status: "pending" });
    const refundId = (accepted as { channelOpId: string }).channelOpId;
    expect(refundId).toBeTruthy();

    const [note] = await waitNotifications(req.operationId, 1);
    expect(note!.parsed).toMatchObject({
      ok: true,
      operation: {
        channel: "wechat",
        kind: "refund",
        operationId: req.operationId,
        channelOpId: refundId,
        status: "succeeded",
        amount: 300,
        currency: "CNY",
        failureCode: null,
      },
    });
    expect(await kit.adapter.queryOperation(req)).toEqual({
      status: "succeeded",
      channelOpId: refundId,
      amount: 300,
      currency: "CNY",
    });
    // The order was paid, and stays so (转入退款) for a payment query.
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 300, refundCount: 1 });
  });

  it("a repeated refund number refunds once; with other amounts it may be done, so unknown", async () => {
    const p = await paid();
    const req = refund(p, 200);
    const first = await kit.adapter.operate(req);
    const again = await kit.adapter.operate(req);
    expect(first.status).toBe("pending");
    expect(again).toEqual(first);
    await waitNotifications(req.operationId, 1);
    // Completed meanwhile: still the same refund, accepted once.
    expect(await kit.adapter.operate(req)).toEqual(first);
    expect((await kit.adapter.operate({ ...req, amount: 250 })).status).toBe("unknown");
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 200, refundCount: 1 });
  });

  it("refuses a refund beyond what remains refundable, and the refunds may reach the whole amount", async () => {
    const p = await paid();
    expect((await kit.adapter.operate(refund(p, 1000))).status).toBe("pending");
    await kit.expectRefused(refund(p, 235), "amount_exceeds_refundable");
    expect((await kit.adapter.operate(refund(p, 234))).status).toBe("pending");
    await kit.expectRefused(refund(p, 1), "amount_exceeds_refundable");
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 1234, refundCount: 2 });
  });

  it("a refund number WeChat never saw is not found; an order it never saw refuses the refund", async () => {
    const p = await paid();
    expect(await kit.adapter.queryOperation(refund(p, 100))).toEqual({ status: "not_found" });
    const unknownOrder = refund({ req: payRequest(), txnId: "4200999" }, 100, { channelTxnId: null });
    await kit.expectRefused(unknownOrder, "channel_rejected");
  });

  it("takes at most 50 refunds per payment, however concurrent", async () => {
    const p = await paid({ amount: 10_000 });
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => kit.adapter.operate(refund(p, 1))));
    expect(outcomes.map((o) => o.status)).toEqual(Array(50).fill("pending"));
    await kit.expectRefused(refund(p, 1), "refund_limit_reached");
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 50, refundCount: 50 });
  });

  it("refunds within a year only", async () => {
    const p = await paid();
    await age(p.txnId, 364 * DAY_HOURS);
    expect((await kit.adapter.operate(refund(p, 100))).status).toBe("pending");
    await age(p.txnId, 2 * DAY_HOURS);
    await kit.expectRefused(refund(p, 100), "refund_window_closed");
  });

  it("a refund accepted then refused by the channel is told REFUNDCLOSE, its reservation released", async () => {
    const scope = next("re_decl_");
    await kit.withFaults({ faults: ["decline"], ops: ["refund"], refPrefix: scope }, async () => {
      const p = await paid();
      const req = refund(p, 500, { operationId: `${scope}1` });
      expect((await kit.adapter.operate(req)).status).toBe("pending");
      const [note] = await waitNotifications(req.operationId, 1);
      expect(note!.parsed).toMatchObject({
        ok: true,
        operation: { operationId: req.operationId, status: "failed", failureCode: "channel_rejected", amount: 500 },
      });
      expect(await kit.adapter.queryOperation(req)).toMatchObject({ status: "failed", code: "channel_rejected" });
      // A repeat of the closed refund is refused, nothing moved.
      await kit.expectRefused(req, "channel_rejected");
      expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 0, refundCount: 0 });
    });
  });

  it("a busy channel did nothing; a 5xx before is unknown with nothing recorded; a lost answer is resolved by query", async () => {
    const p = await paid();
    const scope = next("re_flt_");
    await kit.setFaults({ faults: ["unavailable"], ops: ["refund"], refPrefix: `${scope}u` });
    await kit.expectRefused(refund(p, 100, { operationId: `${scope}u1` }), "channel_unavailable");
    await kit.setFaults({ faults: ["5xx"], ops: ["refund"], refPrefix: `${scope}x` });
    const lost = refund(p, 100, { operationId: `${scope}x1` });
    expect((await kit.adapter.operate(lost)).status).toBe("unknown");
    expect(await kit.adapter.queryOperation(lost)).toEqual({ status: "not_found" });
    await kit.setFaults({ faults: ["timeout"], ops: ["refund"], refPrefix: `${scope}t` });
    const slow = refund(p, 100, { operationId: `${scope}t1` });
    const started = Date.now();
    expect((await kit.adapter.operate(slow, { timeoutMs: 500 })).status).toBe("unknown");
    expect(Date.now() - started).toBeLessThan(2_500);
    await waitFor(async () => (await kit.adapter.queryOperation(slow)).status === "succeeded", {
      intervalMs: 50,
      what: "the refund behind the lost answer",
    });
    await kit.clearFaults();
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 100, refundCount: 1 });
  });

  it("a duplicated notification is the same message; an out-of-order stale one is not final", async () => {
    const scope = next("re_cb_");
    await kit.withFaults(
      { faults: ["callback_duplicated", "callback_out_of_order"], ops: ["refund"], refPrefix: scope },
      async () => {
        const p = await paid();
        const req = refund(p, 100, { operationId: `${scope}1` });
        expect((await kit.adapter.operate(req)).status).toBe("pending");
        const notes = await waitNotifications(req.operationId, 3);
        const finals = notes.filter((n) => n.parsed.ok);
        expect(finals).toHaveLength(2);
        expect(finals[0]!.rawBody).toBe(finals[1]!.rawBody);
        expect(notes.filter((n) => !n.parsed.ok).map((n) => n.parsed)).toEqual([
          { ok: false, reason: "not_final", detail: "refund_status PROCESSING" },
        ]);
      },
    );
  });
});
