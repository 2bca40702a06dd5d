import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  channelConfigFromEnv,
  createChannelAdapters,
  type ChannelAdapter,
  type OperationRequest,
  type ParsedCallback,
  type PayRequest,
} from "@pps/channels";
import { isolatedDatabase, startApp, waitFor, type AppProcess } from "@pps/test-support";

// Alipay's operations through the real adapter against the real channel-sim process and Postgres: payment
// with capture later as a fund authorization (freeze, unfreeze-to-pay, unfreeze, the 30-day window), and
// refunds answered at once. Notifications are received by a small local HTTP server and parsed by the adapter.

type Received = { rawBody: string; parsed: ParsedCallback };

const RUN = `ap${Date.now().toString(36)}`;
const DAY_HOURS = 24;

let sim: AppProcess;
let receiver: Server;
let receiverUrl: string;
let adapter: ChannelAdapter;
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
const received: Received[] = [];

let seq = 0;
const next = (tag: string) => `${RUN}${tag}${++seq}`;

function payRequest(over: Partial<PayRequest> = {}): PayRequest {
  const attemptId = next("at");
  return {
    paymentId: `pay_${attemptId}`,
    attemptId,
    product: "platform_pay",
    amount: 1234,
    currency: "CNY",
    subject: "Hotel deposit",
    payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: null },
    method: { bankCode: null, cardType: null, wallet: "alipay", flow: "qr_code" },
    returnUrl: "https://merchant.test/return",
    callbackUrl: `${receiverUrl}/cb`,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    metadata: { order: "42" },
    captureMethod: "automatic",
    ...over,
  };
}

type Payment = { req: PayRequest; txnId: string };
type OperationKind = OperationRequest["kind"];

const callbacksOf = (ref: string) => received.filter((r) => r.rawBody.includes(ref));

/** The payer scans the QR code and pays (a sale) or freezes the amount (capture later); the notification tells. */
async function payerPays(req: PayRequest): Promise<Payment> {
  const out = await adapter.pay(req);
  expect(out.status).toBe("requires_action");
  const txnId = (out as { channelTxnId: string }).channelTxnId;
  const res = await fetch(`${sim.url}/alipay/sim/scan/${txnId}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ action: "pay" }),
  });
  expect(res.status).toBe(200);
  await waitFor(async () => callbacksOf(req.attemptId).length > 0, {
    intervalMs: 25,
    what: `notification of ${req.attemptId}`,
  });
  return { req, txnId };
}

const sale = (over: Partial<PayRequest> = {}) => payerPays(payRequest(over));
const held = (over: Partial<PayRequest> = {}) => payerPays(payRequest({ captureMethod: "manual", ...over }));

const PREFIX: Record<OperationKind, string> = { capture: "cap_", void: "void_", cancel: "cxl_", refund: "re_" };

function operation(
  p: Payment,
  kind: OperationKind,
  amount: number,
  over: Partial<OperationRequest> = {},
): OperationRequest {
  return {
    kind,
    operationId: next(PREFIX[kind]),
    paymentId: p.req.paymentId,
    attemptId: p.req.attemptId,
    channelTxnId: p.txnId,
    amount,
    currency: "CNY",
    paymentAmount: p.req.amount,
    reason: null,
    callbackUrl: `${receiverUrl}/cb`,
    ...over,
  };
}

type BookEntry = {
  status: string;
  captureMode: string;
  authorizedAmount: number;
  authExpiresAt: string | null;
  capturedAmount: number;
  refundedAmount: number;
  refundCount: number;
  operations: { kind: string; ref: string; status: string; amount: number }[];
};

async function book(ref: string): Promise<BookEntry> {
  const res = await fetch(`${sim.url}/sim/book/alipay?ref=${encodeURIComponent(ref)}`);
  const { entries } = (await res.json()) as { entries: BookEntry[] };
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

async function age(txnId: string, hours: number): Promise<void> {
  const res = await fetch(`${sim.url}/sim/book/alipay/${txnId}/age`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hours }),
  });
  expect(res.status).toBe(200);
}

async function setFaults(faults: string[], ops: string[], refPrefix: string): Promise<void> {
  const res = await fetch(`${sim.url}/sim/faults/alipay`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ faults, ops, refPrefix }),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  isolated = await isolatedDatabase("alipayops");
  receiver = createServer((req, res) => {
    let rawBody = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (rawBody += chunk));
    req.on("end", () => {
      const parsed = adapter.parseCallback({ headers: {}, rawBody });
      received.push({ rawBody, parsed });
      const ack = adapter.callbackAck(parsed.ok || parsed.reason === "not_final");
      res.writeHead(ack.status, { "content-type": ack.contentType }).end(ack.body);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sim = await startApp("channel-sim", {
    DATABASE_URL: isolated.databaseUrl,
    SIM_CALLBACK_POLL_MS: "25",
    SIM_CALLBACK_RETRY_BASE_MS: "200",
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  adapter = createChannelAdapters(channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url })).get("alipay")!;
});

afterAll(async () => {
  const stopped = await sim?.stop();
  receiver?.close();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

describe("alipay pre-authorization (fund authorization)", () => {
  it("the payer freezes the amount: authorized by notification and query, held 30 days", async () => {
    const req = payRequest({ captureMethod: "manual", amount: 5000 });
    const voucher = await adapter.pay(req);
    expect(voucher).toMatchObject({ status: "requires_action", action: { type: "qr_code" } });
    const txnId = (voucher as { channelTxnId: string }).channelTxnId;
    expect(await adapter.pay(req)).toEqual(voucher);
    // No trade yet, and the freeze waits for the payer.
    expect(await adapter.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual({
      status: "pending",
      channelTxnId: txnId,
    });

    await fetch(`${sim.url}/alipay/sim/scan/${txnId}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "pay" }),
    });
    await waitFor(async () => callbacksOf(req.attemptId).length > 0, { what: "freeze notification" });
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
    expect(await adapter.query({ attemptId: req.attemptId, channelTxnId: txnId })).toEqual({
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
    const captured = await adapter.operate(cap);
    expect(captured).toEqual({ status: "succeeded", channelOpId: expect.any(String), amount: 3000, currency: "CNY" });
    // Captured once: the same capture again is the same trade.
    expect(await adapter.operate(cap)).toEqual(captured);
    expect(await adapter.queryOperation(cap)).toEqual(captured);
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 3000,
      currency: "CNY",
    });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "succeeded", capturedAmount: 3000 });
    // Refunds of a captured authorization name the trade by our attempt id, and stop at what was captured.
    expect(await adapter.operate(operation(p, "refund", 3001))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_refundable",
    });
    expect(await adapter.operate(operation(p, "refund", 3000))).toMatchObject({ status: "succeeded", amount: 3000 });
    // Refunded in full, the trade closes at Alipay; it was paid all the same.
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 3000,
    });
  });

  it("a full capture; a capture beyond the hold or of a captured payment is refused", async () => {
    const p = await held();
    expect(await adapter.operate(operation(p, "capture", 1235))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_authorized",
    });
    expect(await adapter.operate(operation(p, "capture", 1234))).toMatchObject({ status: "succeeded", amount: 1234 });
    expect(await adapter.operate(operation(p, "void", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
  });

  it("a void unfreezes the hold under our operation id; the payment then ended with nothing taken", async () => {
    const p = await held();
    const voided = operation(p, "void", 1234);
    const out = await adapter.operate(voided);
    expect(out).toEqual({ status: "succeeded", channelOpId: expect.any(String), amount: 1234, currency: "CNY" });
    expect(await adapter.queryOperation(voided)).toEqual(out);
    expect(await adapter.operate(voided)).toEqual(out);
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
    });
    expect(await adapter.operate(operation(p, "capture", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    expect(await adapter.operate(operation(p, "void", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    // A void is of the whole hold.
    const other = await held();
    expect(await adapter.operate(operation(other, "void", 1000))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    expect(await adapter.queryOperation(operation(other, "void", 1234))).toEqual({ status: "not_found" });
    expect(await adapter.queryOperation(operation(other, "capture", 1234))).toEqual({ status: "not_found" });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "voided", capturedAmount: 0 });
  });

  it("after 30 days the hold is released by the channel: capture and void are refused as expired", async () => {
    const p = await held();
    await age(p.txnId, 29 * DAY_HOURS);
    const early = await held();
    await age(early.txnId, 29 * DAY_HOURS);
    expect(await adapter.operate(operation(early, "capture", 1234))).toMatchObject({ status: "succeeded" });
    await age(p.txnId, 2 * DAY_HOURS);
    expect(await adapter.operate(operation(p, "capture", 1234))).toMatchObject({
      status: "failed",
      code: "authorization_expired",
    });
    expect(await adapter.operate(operation(p, "void", 1234))).toMatchObject({
      status: "failed",
      code: "authorization_expired",
    });
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
    });
  });

  it("offers no cancel, and a sale cannot be captured or voided", async () => {
    const p = await sale();
    expect(await adapter.operate(operation(p, "cancel", 1234))).toMatchObject({
      status: "failed",
      code: "flow_not_supported",
    });
    expect(await adapter.queryOperation(operation(p, "cancel", 1234))).toMatchObject({ code: "flow_not_supported" });
    expect(await adapter.operate(operation(p, "capture", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    expect(await adapter.operate(operation(p, "void", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
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
    expect(await adapter.operate(first)).toEqual({
      status: "succeeded",
      channelOpId: null,
      amount: 300,
      currency: "CNY",
    });
    expect(await adapter.queryOperation(first)).toEqual({
      status: "succeeded",
      channelOpId: null,
      amount: 300,
      currency: "CNY",
    });
    // The same number again moves nothing (fund_change N): unknown until the query says it was done before.
    expect((await adapter.operate(first)).status).toBe("unknown");
    // The same number with another amount may be the refund done before: unknown, not failed.
    expect((await adapter.operate({ ...first, amount: 400 })).status).toBe("unknown");
    expect(await adapter.operate(operation(p, "refund", 935))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_refundable",
    });
    expect(await adapter.operate(operation(p, "refund", 934))).toMatchObject({ status: "succeeded", amount: 934 });
    expect(await adapter.queryOperation(operation(p, "refund", 1))).toEqual({ status: "not_found" });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "succeeded", refundedAmount: 1234, refundCount: 2 });
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
  });

  it("refuses to refund a freeze not yet captured, and refunds within a year only", async () => {
    const h = await held();
    expect(await adapter.operate(operation(h, "refund", 100))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    const p = await sale();
    await age(p.txnId, 366 * DAY_HOURS);
    expect(await adapter.operate(operation(p, "refund", 100))).toMatchObject({
      status: "failed",
      code: "refund_window_closed",
    });
  });

  it("busy: nothing done; declined: refused and recorded, so the query finds no refund; a lost answer: query tells", async () => {
    const p = await sale();
    const scope = next("re_flt_");
    try {
      await setFaults(["unavailable"], ["refund"], `${scope}u`);
      expect(await adapter.operate(operation(p, "refund", 100, { operationId: `${scope}u1` }))).toMatchObject({
        status: "failed",
        code: "channel_unavailable",
      });
      await setFaults(["decline"], ["refund"], `${scope}d`);
      const declined = operation(p, "refund", 100, { operationId: `${scope}d1` });
      expect(await adapter.operate(declined)).toMatchObject({ status: "failed", code: "channel_rejected" });
      expect(await adapter.queryOperation(declined)).toEqual({ status: "not_found" });
      await setFaults(["5xx_after_charge"], ["refund"], `${scope}x`);
      const lost = operation(p, "refund", 100, { operationId: `${scope}x1` });
      expect((await adapter.operate(lost)).status).toBe("unknown");
      expect(await adapter.queryOperation(lost)).toMatchObject({ status: "succeeded", amount: 100 });
      await setFaults(["timeout"], ["refund"], `${scope}t`);
      const slow = operation(p, "refund", 50, { operationId: `${scope}t1` });
      const started = Date.now();
      expect((await adapter.operate(slow, { timeoutMs: 500 })).status).toBe("unknown");
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await adapter.queryOperation(slow)).toMatchObject({ status: "succeeded", amount: 50 });
    } finally {
      await fetch(`${sim.url}/sim/faults/alipay`, { method: "DELETE" });
    }
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 150, refundCount: 2 });
  });
});
