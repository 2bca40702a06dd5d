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

// UnionPay's pre-authorization (02), completion (03), pre-authorization cancel (32), consume cancel (31)
// and refunds (04, result by notification), driven through the real adapter against the real channel-sim
// process (its own database), with notifications received by a local server and parsed by the adapter.

const RUN = `uo${Date.now().toString(36)}`;
const DAY_HOURS = 24;

let sim: AppProcess;
let receiver: Server;
let receiverUrl: string;
let unionpay: ChannelAdapter;
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
const received: { rawBody: string; parsed: ParsedCallback; at: number }[] = [];

let seq = 0;
const next = (tag: string) => `${RUN}${tag}${++seq}`;

function payRequest(over: Partial<PayRequest> = {}): PayRequest {
  const attemptId = next("at");
  return {
    paymentId: `pay_${attemptId}`,
    attemptId,
    product: "online_banking",
    amount: 1234,
    currency: "CNY",
    subject: "Operations test",
    payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: null },
    method: { bankCode: "SPDB", cardType: null, wallet: null, flow: null },
    returnUrl: "https://merchant.test/return",
    callbackUrl: `${receiverUrl}/cb`,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    metadata: { sim_payer: "auto_confirm" },
    captureMethod: "automatic",
    ...over,
  };
}

type Paid = { req: PayRequest; txnId: string };

function operation(paid: Paid, kind: OperationRequest["kind"], amount: number, operationId = next(kind)) {
  return {
    kind,
    operationId,
    paymentId: paid.req.paymentId,
    attemptId: paid.req.attemptId,
    channelTxnId: paid.txnId,
    amount,
    currency: "CNY",
    paymentAmount: paid.req.amount,
    reason: "test",
    callbackUrl: `${receiverUrl}/cb`,
  } satisfies OperationRequest;
}

const callbacksOf = (ref: string) => received.filter((r) => r.rawBody.includes(`"${ref}"`));

async function waitCallback(ref: string, n = 1) {
  await waitFor(async () => callbacksOf(ref).length >= n, {
    timeoutMs: 10_000,
    intervalMs: 25,
    what: `callback ${ref}`,
  });
  return callbacksOf(ref);
}

/** Pays through the scheme (async: the simulated payer confirms a moment later) and waits for the result. */
async function pay(over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(over);
  const out = await unionpay.pay(req);
  if (out.status !== "pending") throw new Error(`pay: ${JSON.stringify(out)}`);
  await waitCallback(req.attemptId);
  return { req, txnId: out.channelTxnId };
}

const authorize = (over: Partial<PayRequest> = {}) => pay({ captureMethod: "manual", ...over });

type BookEntry = {
  status: string;
  authorizedAmount: number;
  capturedAmount: number;
  refundedAmount: number;
  refundCount: number;
  operations: { kind: string; ref: string; amount: number; status: string; failureReason: string | null }[];
};

async function bookOf(paid: Paid): Promise<BookEntry> {
  const res = await fetch(`${sim.url}/sim/book/unionpay?ref=${encodeURIComponent(paid.req.attemptId)}`);
  const { entries } = (await res.json()) as { entries: BookEntry[] };
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

async function age(paid: Paid, hours: number): Promise<void> {
  const res = await fetch(`${sim.url}/sim/book/unionpay/${paid.txnId}/age`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hours }),
  });
  expect(res.status).toBe(200);
}

/** Pays, and moves the payment past its settlement day, so that refunds are taken. */
async function settled(over: Partial<PayRequest> = {}): Promise<Paid> {
  const paid = await pay(over);
  await age(paid, 30);
  return paid;
}

beforeAll(async () => {
  isolated = await isolatedDatabase("simunionpay");
  receiver = createServer((req, res) => {
    let rawBody = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (rawBody += chunk));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v ?? "")]));
      const parsed = unionpay.parseCallback({ headers, rawBody });
      received.push({ rawBody, parsed, at: Date.now() });
      const ack = unionpay.callbackAck(parsed.ok || parsed.reason === "not_final");
      res.writeHead(ack.status, { "content-type": ack.contentType }).end(ack.body);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sim = await startApp("channel-sim", {
    DATABASE_URL: isolated.databaseUrl,
    SIM_CALLBACK_POLL_MS: "25",
    SIM_AUTO_PAYER_DELAY_MS: "50",
    SIM_OPERATION_COMPLETE_DELAY_MS: "200",
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  unionpay = createChannelAdapters(channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url })).get("unionpay")!;
});

afterAll(async () => {
  const stopped = await sim?.stop();
  receiver?.close();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

describe("unionpay consume and pre-authorization", () => {
  it("a consume's notification and query carry the amount and currency the scheme reported", async () => {
    const paid = await pay({ amount: 4321 });
    const [cb] = callbacksOf(paid.req.attemptId);
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { status: "succeeded", amount: 4321, currency: "CNY", channelTxnId: paid.txnId },
    });
    expect(await unionpay.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toEqual({
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
    const out = await unionpay.pay(req);
    expect(out.status).toBe("pending");
    const [cb] = await waitCallback(req.attemptId);
    expect(cb!.parsed).toMatchObject({ ok: true, result: { status: "authorized", amount: 5000, currency: "CNY" } });
    const expiresAt = cb!.parsed.ok && "result" in cb!.parsed ? cb!.parsed.result.authorizationExpiresAt : null;
    expect(Date.parse(expiresAt ?? "")).toBeGreaterThanOrEqual(before + 30 * 86_400_000 - 1_000);
    expect(Date.parse(expiresAt ?? "")).toBeLessThanOrEqual(Date.now() + 30 * 86_400_000);
    expect(await unionpay.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual({
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
    const done = await unionpay.operate(capture);
    expect(done).toMatchObject({ status: "succeeded", amount: 1000, currency: "CNY" });
    expect(await unionpay.operate(capture)).toEqual(done);
    expect(await unionpay.queryOperation(capture)).toEqual(done);
    expect(await unionpay.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1000,
    });
    expect(await unionpay.operate(operation(paid, "capture", 234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    expect(await bookOf(paid)).toMatchObject({ status: "succeeded", capturedAmount: 1000 });
  });

  it("refuses to complete more than was authorized (36), and completes all of it", async () => {
    const paid = await authorize();
    expect(await unionpay.operate(operation(paid, "capture", 1300))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_authorized",
    });
    expect(await unionpay.operate(operation(paid, "capture", 1234))).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
  });

  it("cancels a pre-authorization in full only; the payment is then its own state", async () => {
    const paid = await authorize();
    expect(await unionpay.operate(operation(paid, "void", 1200))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    const voided = operation(paid, "void", 1234);
    expect(await unionpay.operate(voided)).toMatchObject({ status: "succeeded", amount: 1234 });
    expect(await unionpay.queryOperation(voided)).toMatchObject({ status: "succeeded", amount: 1234 });
    expect(await unionpay.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("32"),
    });
    expect(await unionpay.operate(operation(paid, "capture", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
  });

  it("an authorization older than 30 days is gone: authorization_expired (37)", async () => {
    const paid = await authorize();
    await age(paid, 30 * DAY_HOURS + 1);
    expect(await unionpay.operate(operation(paid, "capture", 100))).toMatchObject({
      status: "failed",
      code: "authorization_expired",
    });
    expect((await bookOf(paid)).status).toBe("voided");
  });
});

describe("unionpay consume cancel (31)", () => {
  it("cancels a consume in full on its settlement day", async () => {
    const paid = await pay();
    const cancel = operation(paid, "cancel", 1234);
    const done = await unionpay.operate(cancel);
    expect(done).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY" });
    expect(await unionpay.queryOperation(cancel)).toEqual(done);
    expect(await unionpay.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("31"),
    });
    expect(await bookOf(paid)).toMatchObject({ status: "canceled", refundedAmount: 1234 });
  });

  it("after the cut-off, a cancel is refused (39): cancel_window_closed", async () => {
    const paid = await settled();
    expect(await unionpay.operate(operation(paid, "cancel", 1234))).toMatchObject({
      status: "failed",
      code: "cancel_window_closed",
    });
    expect((await bookOf(paid)).status).toBe("succeeded");
  });
});

describe("unionpay refunds (04)", () => {
  it("before settlement, a refund is refused (39): not_settled", async () => {
    const paid = await pay();
    expect(await unionpay.operate(operation(paid, "refund", 100))).toMatchObject({
      status: "failed",
      code: "not_settled",
    });
  });

  it("a refund is accepted, then its result comes by notification and by query", async () => {
    const paid = await settled();
    const refund = operation(paid, "refund", 300);
    const accepted = await unionpay.operate(refund);
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
    expect(await unionpay.queryOperation(refund)).toEqual({
      status: "succeeded",
      channelOpId,
      amount: 300,
      currency: "CNY",
    });
    // A repeat under the same orderId is the same refund, done.
    expect(await unionpay.operate(refund)).toMatchObject({ status: "succeeded", channelOpId, amount: 300 });
    expect(await bookOf(paid)).toMatchObject({ refundedAmount: 300, refundCount: 1 });
  });

  it("refunds in parts up to what was taken; refunds in flight count; over-refunding is refused (36)", async () => {
    const paid = await settled();
    const first = operation(paid, "refund", 600);
    const second = operation(paid, "refund", 600);
    expect((await unionpay.operate(first)).status).toBe("pending");
    expect((await unionpay.operate(second)).status).toBe("pending");
    // 34 remain, though neither refund has completed yet.
    expect(await unionpay.operate(operation(paid, "refund", 35))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_refundable",
    });
    await waitCallback(first.operationId);
    await waitCallback(second.operationId);
    const last = operation(paid, "refund", 34);
    expect((await unionpay.operate(last)).status).toBe("pending");
    await waitCallback(last.operationId);
    expect(await unionpay.queryOperation(last)).toMatchObject({ status: "succeeded", amount: 34 });
    // Refunded in full, the payment is still the consume that succeeded.
    expect(await unionpay.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
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
    const put = await fetch(`${sim.url}/sim/faults/unionpay`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ faults: ["decline"], ops: ["refund"], refPrefix: prefix }),
    });
    expect(put.status).toBe(200);
    try {
      const refund = operation(paid, "refund", 1234, `${prefix}1`);
      expect((await unionpay.operate(refund)).status).toBe("pending");
      const [cb] = await waitCallback(refund.operationId);
      expect(cb!.parsed).toMatchObject({
        ok: true,
        operation: { operationId: refund.operationId, status: "failed", failureCode: "channel_rejected", amount: 1234 },
      });
      expect(await unionpay.queryOperation(refund)).toMatchObject({ status: "failed", code: "channel_rejected" });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 0, refundCount: 0 });
    } finally {
      expect((await fetch(`${sim.url}/sim/faults/unionpay`, { method: "DELETE" })).status).toBe(204);
    }
    // What it reserved is refundable again.
    const again = operation(paid, "refund", 1234);
    expect((await unionpay.operate(again)).status).toBe("pending");
    await waitCallback(again.operationId);
    expect(await unionpay.queryOperation(again)).toMatchObject({ status: "succeeded", amount: 1234 });
  });

  it("an unknown refund is not found; a lost answer is unknown and resolved by the query", async () => {
    const paid = await settled();
    expect(await unionpay.queryOperation(operation(paid, "refund", 1))).toEqual({ status: "not_found" });
    const prefix = `${RUN}to`;
    const put = await fetch(`${sim.url}/sim/faults/unionpay`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ faults: ["5xx_after_charge"], ops: ["refund"], refPrefix: prefix }),
    });
    expect(put.status).toBe(200);
    try {
      const refund = operation(paid, "refund", 200, `${prefix}1`);
      expect((await unionpay.operate(refund)).status).toBe("unknown");
      await waitCallback(refund.operationId);
      expect(await unionpay.queryOperation(refund)).toMatchObject({ status: "succeeded", amount: 200 });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 200, refundCount: 1 });
    } finally {
      expect((await fetch(`${sim.url}/sim/faults/unionpay`, { method: "DELETE" })).status).toBe(204);
    }
  });

  it("refuses refunds past the one-year window (37)", async () => {
    const paid = await pay();
    await age(paid, 366 * DAY_HOURS);
    expect(await unionpay.operate(operation(paid, "refund", 100))).toMatchObject({
      status: "failed",
      code: "refund_window_closed",
    });
  });
});
