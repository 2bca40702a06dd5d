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

// WeChat's operations through the real adapter against the real channel-sim process and Postgres: refunds
// (accepted, then completed by the channel and told by refund notification and refundquery), its limits,
// and the flows it lacks. Notifications are received by a small local HTTP server and parsed by the adapter.

type Received = { rawBody: string; parsed: ParsedCallback; at: number };

const RUN = `wx${Date.now().toString(36)}`;
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
    subject: "Test refund",
    payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: null },
    method: { bankCode: null, cardType: null, wallet: "wechat", flow: "qr_code" },
    returnUrl: "https://merchant.test/return",
    callbackUrl: `${receiverUrl}/cb/pay`,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    metadata: { sim_payer: "auto_confirm" },
    captureMethod: "automatic",
    ...over,
  };
}

type Paid = { req: PayRequest; txnId: string };

/** A paid order: the payer confirms in the wallet at once; its success comes by notification. */
async function paid(over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(over);
  const out = await adapter.pay(req);
  expect(out.status).toBe("pending");
  const txnId = (out as { channelTxnId: string }).channelTxnId;
  await waitFor(
    async () => (await adapter.query({ attemptId: req.attemptId, channelTxnId: txnId })).status === "succeeded",
    {
      intervalMs: 25,
      what: `payment ${req.attemptId}`,
    },
  );
  return { req, txnId };
}

function refund(p: Paid, amount: number, over: Partial<OperationRequest> = {}): OperationRequest {
  return {
    kind: "refund",
    operationId: next("re_"),
    paymentId: p.req.paymentId,
    attemptId: p.req.attemptId,
    channelTxnId: p.txnId,
    amount,
    currency: "CNY",
    paymentAmount: p.req.amount,
    reason: "returned goods",
    callbackUrl: `${receiverUrl}/cb/refund`,
    ...over,
  };
}

type BookEntry = {
  status: string;
  capturedAmount: number;
  refundedAmount: number;
  refundCount: number;
  operations: { ref: string; status: string; amount: number }[];
};

async function book(ref: string): Promise<BookEntry> {
  const res = await fetch(`${sim.url}/sim/book/wechat?ref=${encodeURIComponent(ref)}`);
  const { entries } = (await res.json()) as { entries: BookEntry[] };
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

async function age(txnId: string, hours: number): Promise<void> {
  const res = await fetch(`${sim.url}/sim/book/wechat/${txnId}/age`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hours }),
  });
  expect(res.status).toBe(200);
}

async function setFaults(faults: string[], ops: string[], refPrefix: string): Promise<void> {
  const res = await fetch(`${sim.url}/sim/faults/wechat`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ faults, ops, refPrefix }),
  });
  expect(res.status).toBe(200);
}

const notificationsOf = (operationId: string) =>
  received.filter((r) => r.rawBody.includes(`<out_refund_no><![CDATA[${operationId}]]>`));

async function waitNotifications(operationId: string, n: number): Promise<Received[]> {
  await waitFor(async () => notificationsOf(operationId).length >= n, {
    timeoutMs: 10_000,
    intervalMs: 25,
    what: `${n} refund notification(s) for ${operationId}`,
  });
  return notificationsOf(operationId);
}

beforeAll(async () => {
  isolated = await isolatedDatabase("wechatops");
  receiver = createServer((req, res) => {
    let rawBody = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (rawBody += chunk));
    req.on("end", () => {
      const parsed = adapter.parseCallback({ headers: {}, rawBody });
      received.push({ rawBody, parsed, at: Date.now() });
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
    SIM_AUTO_PAYER_DELAY_MS: "25",
    SIM_OPERATION_COMPLETE_DELAY_MS: "200",
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  adapter = createChannelAdapters(channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url })).get("wechat")!;
});

afterAll(async () => {
  const stopped = await sim?.stop();
  receiver?.close();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

describe("wechat payments", () => {
  it("a paid order reports the amount and currency WeChat took, by notification and query", async () => {
    const p = await paid({ amount: 4321 });
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toEqual({
      status: "succeeded",
      channelTxnId: p.txnId,
      amount: 4321,
      currency: "CNY",
      settlement: null,
    });
    await waitFor(async () => received.some((r) => r.rawBody.includes(p.req.attemptId)), { what: "pay notification" });
    const cb = received.find((r) => r.rawBody.includes(p.req.attemptId))!;
    expect(cb.parsed).toMatchObject({ ok: true, result: { status: "succeeded", amount: 4321, currency: "CNY" } });
  });

  it("takes no pre-authorization: refused by the adapter, and by the channel if asked", async () => {
    const req = payRequest({ captureMethod: "manual" });
    expect(await adapter.pay(req)).toMatchObject({ status: "failed", code: "channel_rejected" });
    expect(await adapter.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual({ status: "not_found" });
  });

  it("offers no capture, void or cancel", async () => {
    const p = await paid();
    for (const kind of ["capture", "void", "cancel"] as const) {
      expect(await adapter.operate(refund(p, 1234, { kind }))).toMatchObject({
        status: "failed",
        code: "flow_not_supported",
      });
      expect(await adapter.queryOperation(refund(p, 1234, { kind }))).toMatchObject({ code: "flow_not_supported" });
    }
    expect(await book(p.req.attemptId)).toMatchObject({ status: "succeeded", refundedAmount: 0, operations: [] });
  });
});

describe("wechat refunds", () => {
  it("a partial refund is accepted, completes by itself, and is told by notification and refundquery", async () => {
    const p = await paid();
    const req = refund(p, 300);
    const accepted = await adapter.operate(req);
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
    expect(await adapter.queryOperation(req)).toEqual({
      status: "succeeded",
      channelOpId: refundId,
      amount: 300,
      currency: "CNY",
    });
    // The order was paid, and stays so (转入退款) for a payment query.
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 300, refundCount: 1 });
  });

  it("a repeated refund number refunds once; with other amounts it may be done, so unknown", async () => {
    const p = await paid();
    const req = refund(p, 200);
    const first = await adapter.operate(req);
    const again = await adapter.operate(req);
    expect(first.status).toBe("pending");
    expect(again).toEqual(first);
    await waitNotifications(req.operationId, 1);
    // Completed meanwhile: still the same refund, accepted once.
    expect(await adapter.operate(req)).toEqual(first);
    expect((await adapter.operate({ ...req, amount: 250 })).status).toBe("unknown");
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 200, refundCount: 1 });
  });

  it("refuses a refund beyond what remains refundable, and the refunds may reach the whole amount", async () => {
    const p = await paid();
    expect((await adapter.operate(refund(p, 1000))).status).toBe("pending");
    expect(await adapter.operate(refund(p, 235))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_refundable",
    });
    expect((await adapter.operate(refund(p, 234))).status).toBe("pending");
    expect(await adapter.operate(refund(p, 1))).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 1234, refundCount: 2 });
  });

  it("a refund number WeChat never saw is not found; an order it never saw refuses the refund", async () => {
    const p = await paid();
    expect(await adapter.queryOperation(refund(p, 100))).toEqual({ status: "not_found" });
    const unknownOrder = refund({ req: payRequest(), txnId: "4200999" }, 100, { channelTxnId: null });
    expect(await adapter.operate(unknownOrder)).toMatchObject({ status: "failed", code: "channel_rejected" });
  });

  it("takes at most 50 refunds per payment, however concurrent", async () => {
    const p = await paid({ amount: 10_000 });
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => adapter.operate(refund(p, 1))));
    expect(outcomes.map((o) => o.status)).toEqual(Array(50).fill("pending"));
    expect(await adapter.operate(refund(p, 1))).toMatchObject({ status: "failed", code: "refund_limit_reached" });
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 50, refundCount: 50 });
  });

  it("refunds within a year only", async () => {
    const p = await paid();
    await age(p.txnId, 364 * DAY_HOURS);
    expect((await adapter.operate(refund(p, 100))).status).toBe("pending");
    await age(p.txnId, 2 * DAY_HOURS);
    expect(await adapter.operate(refund(p, 100))).toMatchObject({ status: "failed", code: "refund_window_closed" });
  });

  it("a refund accepted then refused by the channel is told REFUNDCLOSE, its reservation released", async () => {
    const scope = next("re_decl_");
    await setFaults(["decline"], ["refund"], scope);
    try {
      const p = await paid();
      const req = refund(p, 500, { operationId: `${scope}1` });
      expect((await adapter.operate(req)).status).toBe("pending");
      const [note] = await waitNotifications(req.operationId, 1);
      expect(note!.parsed).toMatchObject({
        ok: true,
        operation: { operationId: req.operationId, status: "failed", failureCode: "channel_rejected", amount: 500 },
      });
      expect(await adapter.queryOperation(req)).toMatchObject({ status: "failed", code: "channel_rejected" });
      // A repeat of the closed refund is refused, nothing moved.
      expect(await adapter.operate(req)).toMatchObject({ status: "failed", code: "channel_rejected" });
      expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 0, refundCount: 0 });
    } finally {
      await fetch(`${sim.url}/sim/faults/wechat`, { method: "DELETE" });
    }
  });

  it("a busy channel did nothing; a 5xx before is unknown with nothing recorded; a lost answer is resolved by query", async () => {
    const p = await paid();
    const scope = next("re_flt_");
    await setFaults(["unavailable"], ["refund"], `${scope}u`);
    expect(await adapter.operate(refund(p, 100, { operationId: `${scope}u1` }))).toMatchObject({
      status: "failed",
      code: "channel_unavailable",
    });
    await setFaults(["5xx"], ["refund"], `${scope}x`);
    const lost = refund(p, 100, { operationId: `${scope}x1` });
    expect((await adapter.operate(lost)).status).toBe("unknown");
    expect(await adapter.queryOperation(lost)).toEqual({ status: "not_found" });
    await setFaults(["timeout"], ["refund"], `${scope}t`);
    const slow = refund(p, 100, { operationId: `${scope}t1` });
    const started = Date.now();
    expect((await adapter.operate(slow, { timeoutMs: 500 })).status).toBe("unknown");
    expect(Date.now() - started).toBeLessThan(2_500);
    await waitFor(async () => (await adapter.queryOperation(slow)).status === "succeeded", {
      intervalMs: 50,
      what: "the refund behind the lost answer",
    });
    await fetch(`${sim.url}/sim/faults/wechat`, { method: "DELETE" });
    expect(await book(p.req.attemptId)).toMatchObject({ refundedAmount: 100, refundCount: 1 });
  });

  it("a duplicated notification is the same message; an out-of-order stale one is not final", async () => {
    const scope = next("re_cb_");
    await setFaults(["callback_duplicated", "callback_out_of_order"], ["refund"], scope);
    try {
      const p = await paid();
      const req = refund(p, 100, { operationId: `${scope}1` });
      expect((await adapter.operate(req)).status).toBe("pending");
      const notes = await waitNotifications(req.operationId, 3);
      const finals = notes.filter((n) => n.parsed.ok);
      expect(finals).toHaveLength(2);
      expect(finals[0]!.rawBody).toBe(finals[1]!.rawBody);
      expect(notes.filter((n) => !n.parsed.ok).map((n) => n.parsed)).toEqual([
        { ok: false, reason: "not_final", detail: "refund_status PROCESSING" },
      ]);
    } finally {
      await fetch(`${sim.url}/sim/faults/wechat`, { method: "DELETE" });
    }
  });
});
