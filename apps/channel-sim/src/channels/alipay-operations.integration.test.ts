import { describe, expect, it } from "vitest";
import type { PayRequest } from "@pps/channels";
import { DAY_HOURS, operationsKit, type OperationKind, type Paid as Payment } from "./operations-test-kit.ts";

// Alipay's operations through the real adapter against the real channel-sim process and Postgres: payment
// with capture later as a fund authorization (freeze, unfreeze-to-pay, unfreeze, the 30-day window), and
// refunds answered at once. Notifications are received by a small local HTTP server and parsed by the adapter.

const PREFIX: Record<OperationKind, string> = { capture: "cap_", void: "void_", cancel: "cxl_", refund: "re_" };

const kit = operationsKit({
  channel: "alipay",
  database: "alipayops",
  idPrefix: "ap",
  operationTag: (kind) => PREFIX[kind],
  operationReason: null,
  simEnv: { SIM_CALLBACK_RETRY_BASE_MS: "200" },
});
const { next, book, age, callbacksOf, operation } = kit;

const payRequest = (over: Partial<PayRequest> = {}) =>
  kit.payRequest(
    {
      product: "platform_pay",
      amount: 1234,
      currency: "CNY",
      subject: "Hotel deposit",
      method: { bankCode: null, cardType: null, wallet: "alipay", flow: "qr_code" },
      metadata: { order: "42" },
    },
    over,
  );

/** The payer scans the QR code (and pays, or freezes the amount). */
async function scan(txnId: string) {
  return fetch(`${kit.sim.url}/alipay/sim/scan/${txnId}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ action: "pay" }),
  });
}

/** The payer scans the QR code and pays (a sale) or freezes the amount (capture later); the notification tells. */
const payerPays = (req: PayRequest): Promise<Payment> =>
  kit.payWithPayer(req, async (txnId) => {
    expect((await scan(txnId)).status).toBe(200);
  });

const sale = (over: Partial<PayRequest> = {}) => payerPays(payRequest(over));
const held = (over: Partial<PayRequest> = {}) => payerPays(payRequest({ captureMethod: "manual", ...over }));

describe("alipay pre-authorization (fund authorization)", () => {
  it("the payer freezes the amount: authorized by notification and query, held 30 days", async () => {
    const req = payRequest({ captureMethod: "manual", amount: 5000 });
    const voucher = await kit.adapter.pay(req);
    expect(voucher).toMatchObject({ status: "requires_action", action: { type: "qr_code" } });
    const txnId = (voucher as { channelTxnId: string }).channelTxnId;
    expect(await kit.adapter.pay(req)).toEqual(voucher);
    // No trade yet, and the freeze waits for the payer.
    expect(await kit.adapter.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual({
      status: "pending",
      channelTxnId: txnId,
    });

    await scan(txnId);
    await kit.waitCallbacks(req.attemptId, 1, "freeze notification");
    const entry = await book(req.attemptId);
    expect(entry).toMatchObject({ status: "authorized", captureMode: "manual", authorizedAmount: 5000 });
    const [cb] = callbacksOf(req.attemptId);
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: {
        channel: "alipay",
        attemptId: req.attemptId,
        channelTxnId: txnId,
        status: "authorized",
        amount: 5000,
        currency: "CNY",
      },
    });
    const expiresAt = (cb!.parsed as { result: { authorizationExpiresAt: string } }).result.authorizationExpiresAt;
    // Alipay writes times to the second: the hold we are told of ends within a second before the channel's.
    const drift = Date.parse(entry.authExpiresAt!) - Date.parse(expiresAt);
    expect(drift).toBeGreaterThanOrEqual(0);
    expect(drift).toBeLessThan(1_000);
    expect(await kit.adapter.query({ attemptId: req.attemptId, channelTxnId: txnId })).toEqual({
      status: "authorized",
      channelTxnId: txnId,
      amount: 5000,
      currency: "CNY",
      expiresAt,
    });
  });

  it("a partial capture takes part of the hold, releases the rest, and the payment is then the trade", async () => {
    const p = await held({ amount: 5000 });
    const cap = operation(p, "capture", 3000);
    const captured = await kit.adapter.operate(cap);
    expect(captured).toEqual({ status: "succeeded", channelOpId: expect.any(String), amount: 3000, currency: "CNY" });
    // Captured once: the same capture again is the same trade.
    expect(await kit.adapter.operate(cap)).toEqual(captured);
    expect(await kit.adapter.queryOperation(cap)).toEqual(captured);
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 3000,
      currency: "CNY",
    });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "succeeded", capturedAmount: 3000 });
    // Refunds of a captured authorization name the trade by our attempt id, and stop at what was captured.
    await kit.expectRefused(operation(p, "refund", 3001), "amount_exceeds_refundable");
    expect(await kit.adapter.operate(operation(p, "refund", 3000))).toMatchObject({
      status: "succeeded",
      amount: 3000,
    });
    // Refunded in full, the trade closes at Alipay; it was paid all the same.
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 3000,
    });
  });

  it("a full capture; a capture beyond the hold or of a captured payment is refused", async () => {
    const p = await held();
    await kit.expectRefused(operation(p, "capture", 1235), "amount_exceeds_authorized");
    expect(await kit.adapter.operate(operation(p, "capture", 1234))).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    await kit.expectRefused(operation(p, "void", 1234), "invalid_state");
  });

  it("a void unfreezes the hold under our operation id; the payment then ended with nothing taken", async () => {
    const p = await held();
    const voided = operation(p, "void", 1234);
    const out = await kit.adapter.operate(voided);
    expect(out).toEqual({ status: "succeeded", channelOpId: expect.any(String), amount: 1234, currency: "CNY" });
    expect(await kit.adapter.queryOperation(voided)).toEqual(out);
    expect(await kit.adapter.operate(voided)).toEqual(out);
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
    });
    await kit.expectRefused(operation(p, "capture", 1234), "invalid_state");
    await kit.expectRefused(operation(p, "void", 1234), "invalid_state");
    // A void is of the whole hold.
    const other = await held();
    await kit.expectRefused(operation(other, "void", 1000), "channel_rejected");
    expect(await kit.adapter.queryOperation(operation(other, "void", 1234))).toEqual({ status: "not_found" });
    expect(await kit.adapter.queryOperation(operation(other, "capture", 1234))).toEqual({ status: "not_found" });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "voided", capturedAmount: 0 });
  });

  it("after 30 days the hold is released by the channel: capture and void are refused as expired", async () => {
    const p = await held();
    await age(p.txnId, 29 * DAY_HOURS);
    const early = await held();
    await age(early.txnId, 29 * DAY_HOURS);
    expect(await kit.adapter.operate(operation(early, "capture", 1234))).toMatchObject({ status: "succeeded" });
    await age(p.txnId, 2 * DAY_HOURS);
    await kit.expectRefused(operation(p, "capture", 1234), "authorization_expired");
    await kit.expectRefused(operation(p, "void", 1234), "authorization_expired");
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
    });
  });

  it("offers no cancel, and a sale cannot be captured or voided", async () => {
    const p = await sale();
    await kit.expectRefused(operation(p, "cancel", 1234), "flow_not_supported");
    expect(await kit.adapter.queryOperation(operation(p, "cancel", 1234))).toMatchObject({
      code: "flow_not_supported",
    });
    await kit.expectRefused(operation(p, "capture", 1234), "invalid_state");
    await kit.expectRefused(operation(p, "void", 1234), "invalid_state");
    expect(await book(p.req.attemptId)).toMatchObject({ status: "succeeded", operations: [] });
  });
});

describe("alipay refunds", () => {
  it("a sale reports what Alipay took; partial refunds answer at once and the refund query tells", async () => {
    const p = await sale();
    expect(callbacksOf(p.req.attemptId)[0]!.parsed).toMatchObject({
      ok: true,
      result: { status: "succeeded", amount: 1234, currency: "CNY" },
    });
    const first = operation(p, "refund", 300);
    expect(await kit.adapter.operate(first)).toEqual({
      status: "succeeded",
      channelOpId: null,
      amount: 300,
      currency: "CNY",
    });
    expect(await kit.adapter.queryOperation(first)).toEqual({
      status: "succeeded",
      channelOpId: null,
      amount: 300,
      currency: "CNY",
    });
    // The same number again moves nothing (fund_change N): unknown until the query says it was done before.
    expect((await kit.adapter.operate(first)).status).toBe("unknown");
    // The same number with another amount may be the refund done before: unknown, not failed.
    expect((await kit.adapter.operate({ ...first, amount: 400 })).status).toBe("unknown");
    await kit.expectRefused(operation(p, "refund", 935), "amount_exceeds_refundable");
    expect(await kit.adapter.operate(operation(p, "refund", 934))).toMatchObject({ status: "succeeded", amount: 934 });
    expect(await kit.adapter.queryOperation(operation(p, "refund", 1))).toEqual({ status: "not_found" });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "succeeded", refundedAmount: 1234, refundCount: 2 });
    expect(await kit.adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
  });

  it("refuses to refund a freeze not yet captured, and refunds within a year only", async () => {
    const h = await held();
    await kit.expectRefused(operation(h, "refund", 100), "invalid_state");
    const p = await sale();
    await age(p.txnId, 366 * DAY_HOURS);
    await kit.expectRefused(operation(p, "refund", 100), "refund_window_closed");
  });

  it("busy: nothing done; declined: refused and recorded, so the query finds no refund; a lost answer: query tells", async () => {
    const p = await sale();
    const scope = next("re_flt_");
    try {
      await kit.setFaults({ faults: ["unavailable"], ops: ["refund"], refPrefix: `${scope}u` });
      await kit.expectRefused(operation(p, "refund", 100, { operationId: `${scope}u1` }), "channel_unavailable");
      await kit.setFaults({ faults: ["decline"], ops: ["refund"], refPrefix: `${scope}d` });
      const declined = operation(p, "refund", 100, { operationId: `${scope}d1` });
      await kit.expectRefused(declined, "channel_rejected");
      expect(await kit.adapter.queryOperation(declined)).toEqual({ status: "not_found" });
      await kit.setFaults({ faults: ["5xx_after_charge"], ops: ["refund"], refPrefix: `${scope}x` });
      const lost = operation(p, "refund", 100, { operationId: `${scope}x1` });
      expect((await kit.adapter.operate(lost)).status).toBe("unknown");
      expect(await kit.adapter.queryOperation(lost)).toMatchObject({ status: "succeeded", amount: 100 });
      await kit.setFaults({ faults: ["timeout"], ops: ["refund"], refPrefix: `${scope}t` });
      const slow = operation(p, "refund", 50, { operationId: `${scope}t1` });
      const started = Date.now();
      expect((await kit.adapter.operate(slow, { timeoutMs: 500 })).status).toBe("unknown");
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await kit.adapter.queryOperation(slow)).toMatchObject({ status: "succeeded", amount: 50 });
    } finally {
      await kit.clearFaults();
    }
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 150, refundCount: 2 });
  });
});
