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

// bank_direct's pre-authorization, capture, void, same-day cancel and refunds, driven through the real
// adapter against the real channel-sim process (its own database), as the router drives them.

const RUN = `bo${Date.now().toString(36)}`;
const DAY_HOURS = 24;

let sim: AppProcess;
let receiver: Server;
let receiverUrl: string;
let bank: ChannelAdapter;
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
const received: { rawBody: string; parsed: ParsedCallback }[] = [];

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
    method: { bankCode: "CMB", cardType: "debit", wallet: null, flow: null },
    returnUrl: "https://merchant.test/return",
    callbackUrl: `${receiverUrl}/cb`,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    // The bank is sync: the simulated payer confirms inside the pay request.
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
    reason: null,
    callbackUrl: `${receiverUrl}/cb`,
  } satisfies OperationRequest;
}

async function pay(over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(over);
  const out = await bank.pay(req);
  if (out.status !== "succeeded" && out.status !== "authorized") throw new Error(`pay: ${JSON.stringify(out)}`);
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
  const res = await fetch(`${sim.url}/sim/book/bank_direct?ref=${encodeURIComponent(paid.req.attemptId)}`);
  const { entries } = (await res.json()) as { entries: BookEntry[] };
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

async function age(paid: Paid, hours: number): Promise<void> {
  const res = await fetch(`${sim.url}/sim/book/bank_direct/${paid.txnId}/age`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hours }),
  });
  expect(res.status).toBe(200);
}

async function setFaults(body: unknown): Promise<void> {
  const res = await fetch(`${sim.url}/sim/faults/bank_direct`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  isolated = await isolatedDatabase("simbank");
  receiver = createServer((req, res) => {
    let rawBody = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (rawBody += chunk));
    req.on("end", () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v ?? "")]));
      const parsed = bank.parseCallback({ headers, rawBody });
      received.push({ rawBody, parsed });
      const ack = bank.callbackAck(parsed.ok || parsed.reason === "not_final");
      res.writeHead(ack.status, { "content-type": ack.contentType }).end(ack.body);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sim = await startApp("channel-sim", {
    DATABASE_URL: isolated.databaseUrl,
    SIM_CALLBACK_POLL_MS: "25",
    SIM_AUTO_PAYER_DELAY_MS: "50",
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  bank = createChannelAdapters(channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url })).get("bank_direct")!;
});

afterAll(async () => {
  const stopped = await sim?.stop();
  receiver?.close();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

describe("bank_direct pay and pre-authorization", () => {
  it("a sale answers succeeded with the amount and currency the bank reported, and its callback says the same", async () => {
    const req = payRequest();
    const out = await bank.pay(req);
    expect(out).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY", settlement: null });
    await waitFor(async () => received.some((r) => r.rawBody.includes(req.attemptId)), { what: "sale callback" });
    expect(received.find((r) => r.rawBody.includes(req.attemptId))!.parsed).toMatchObject({
      ok: true,
      result: { status: "succeeded", amount: 1234, currency: "CNY", attemptId: req.attemptId },
    });
    expect(await bank.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual(out);
  });

  it("a pre-authorization holds the amount for 7 days: authorized in the answer, the query and the callback", async () => {
    const before = Date.now();
    const req = payRequest({ captureMethod: "manual", amount: 2000 });
    const out = await bank.pay(req);
    expect(out).toMatchObject({ status: "authorized", amount: 2000, currency: "CNY" });
    const expiresAt = Date.parse(out.status === "authorized" ? out.expiresAt : "");
    // The bank writes times to the second.
    expect(expiresAt).toBeGreaterThanOrEqual(before + 7 * 86_400_000 - 1_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
    expect(await bank.query({ attemptId: req.attemptId, channelTxnId: null })).toEqual(out);
    await waitFor(async () => received.some((r) => r.rawBody.includes(req.attemptId)), { what: "auth callback" });
    expect(received.find((r) => r.rawBody.includes(req.attemptId))!.parsed).toMatchObject({
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
    const done = await bank.operate(capture);
    expect(done).toMatchObject({ status: "succeeded", amount: 1000, currency: "CNY" });
    const channelOpId = done.status === "succeeded" ? done.channelOpId : null;
    expect(channelOpId).toBeTruthy();
    expect(await bank.operate(capture)).toEqual(done);
    expect(await bank.queryOperation(capture)).toEqual(done);
    // The payment took what was captured; the rest was released.
    expect(await bank.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1000,
    });
    expect(await bank.operate(operation(paid, "capture", 234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    expect(await bank.operate(operation(paid, "void", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    const entry = await bookOf(paid);
    expect(entry).toMatchObject({ status: "succeeded", authorizedAmount: 1234, capturedAmount: 1000 });
    expect(entry.operations).toEqual([expect.objectContaining({ kind: "capture", amount: 1000, status: "succeeded" })]);
  });

  it("captures the whole authorization, and refuses more than it holds", async () => {
    const over = await authorize();
    expect(await bank.operate(operation(over, "capture", 1235))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_authorized",
    });
    expect(await bank.operate(operation(over, "capture", 1234))).toMatchObject({ status: "succeeded", amount: 1234 });
    expect((await bookOf(over)).capturedAmount).toBe(1234);
  });

  it("voids an authorization in full; a partial void is refused; a voided payment is its own state", async () => {
    const paid = await authorize();
    expect(await bank.operate(operation(paid, "void", 1000))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    const voided = await bank.operate(operation(paid, "void", 1234));
    expect(voided).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY" });
    expect(await bank.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("VOIDED"),
    });
    expect(await bank.operate(operation(paid, "capture", 1234))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    expect((await bookOf(paid)).status).toBe("voided");
  });

  it("an authorization past its 7 days can be neither captured nor voided", async () => {
    const paid = await authorize();
    await age(paid, 7 * DAY_HOURS + 1);
    expect(await bank.operate(operation(paid, "capture", 1234))).toMatchObject({
      status: "failed",
      code: "authorization_expired",
    });
    expect(await bank.operate(operation(paid, "void", 1234))).toMatchObject({
      status: "failed",
      code: "authorization_expired",
    });
    expect(await bookOf(paid)).toMatchObject({ status: "voided", capturedAmount: 0, operations: [] });
  });
});

describe("bank_direct same-day cancel", () => {
  it("cancels a sale in full on its settlement day; nothing more can be done with it", async () => {
    const paid = await pay();
    const cancel = operation(paid, "cancel", 1234);
    const done = await bank.operate(cancel);
    expect(done).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY" });
    expect(await bank.queryOperation(cancel)).toEqual(done);
    expect(await bank.query({ attemptId: paid.req.attemptId, channelTxnId: paid.txnId })).toMatchObject({
      status: "failed",
      message: expect.stringContaining("CANCELED"),
    });
    expect(await bank.operate(operation(paid, "refund", 100))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    expect(await bookOf(paid)).toMatchObject({ status: "canceled", refundedAmount: 1234 });
  });

  it("a cancel for less than the whole payment is refused", async () => {
    const paid = await pay();
    expect(await bank.operate(operation(paid, "cancel", 1000))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    expect((await bookOf(paid)).status).toBe("succeeded");
  });

  it("once the 23:00 cut-off has passed, a cancel is refused: cancel_window_closed", async () => {
    const paid = await pay();
    await age(paid, 30);
    expect(await bank.operate(operation(paid, "cancel", 1234))).toMatchObject({
      status: "failed",
      code: "cancel_window_closed",
    });
    expect(await bookOf(paid)).toMatchObject({ status: "succeeded", refundedAmount: 0 });
  });
});

describe("bank_direct refunds", () => {
  it("refuses a refund before the payment settled: not_settled", async () => {
    const paid = await pay();
    expect(await bank.operate(operation(paid, "refund", 100))).toMatchObject({
      status: "failed",
      code: "not_settled",
    });
    expect((await bookOf(paid)).refundCount).toBe(0);
  });

  it("refunds a settled payment in parts, at once; over-refunding is refused; the query tells each refund", async () => {
    const paid = await pay();
    await age(paid, 30);
    const first = operation(paid, "refund", 300);
    const second = operation(paid, "refund", 400);
    const r1 = await bank.operate(first);
    expect(r1).toMatchObject({ status: "succeeded", amount: 300, currency: "CNY" });
    expect(await bank.operate(second)).toMatchObject({ status: "succeeded", amount: 400 });
    // A repeat under the first number is the first refund again: nothing moves twice.
    expect(await bank.operate(first)).toEqual(r1);
    expect(await bank.operate(operation(paid, "refund", 535))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_refundable",
    });
    expect(await bank.queryOperation(second)).toMatchObject({ status: "succeeded", amount: 400 });
    expect(await bank.queryOperation(operation(paid, "refund", 1))).toEqual({ status: "not_found" });
    expect(await bank.operate(operation(paid, "refund", 534))).toMatchObject({ status: "succeeded", amount: 534 });
    // Refunded in full, the payment is still the payment that succeeded.
    expect(await bank.query({ attemptId: paid.req.attemptId, channelTxnId: null })).toMatchObject({
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
    expect((await bank.operate(refund)).status).toBe("succeeded");
    expect((await bank.operate({ ...refund, amount: 200 })).status).toBe("unknown");
    expect((await bookOf(paid)).refundedAmount).toBe(100);
  });

  it("refuses refunds past the one-year window", async () => {
    const paid = await pay();
    await age(paid, 366 * DAY_HOURS);
    expect(await bank.operate(operation(paid, "refund", 100))).toMatchObject({
      status: "failed",
      code: "refund_window_closed",
    });
  });

  it("an operation on a payment the bank does not know is refused", async () => {
    const ghost: Paid = { req: payRequest(), txnId: "B00000000000000000000" };
    expect(await bank.operate({ ...operation(ghost, "refund", 100), channelTxnId: null })).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
  });
});

describe("bank_direct operation faults", () => {
  it("an answer lost in a timeout is unknown; the query by the same number finds the one refund", async () => {
    const prefix = `${RUN}to`;
    const paid = await pay();
    await age(paid, 30);
    await setFaults({ faults: ["timeout"], ops: ["refund"], refPrefix: prefix });
    try {
      const refund = operation(paid, "refund", 200, `${prefix}1`);
      const started = Date.now();
      expect((await bank.operate(refund, { timeoutMs: 800 })).status).toBe("unknown");
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(await bank.queryOperation(refund)).toMatchObject({ status: "succeeded", amount: 200 });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 200, refundCount: 1 });
    } finally {
      expect((await fetch(`${sim.url}/sim/faults/bank_direct`, { method: "DELETE" })).status).toBe(204);
    }
  });

  it("a busy bank did nothing: channel_unavailable, nothing recorded; a busy query is unknown", async () => {
    const prefix = `${RUN}busy`;
    const paid = await authorize();
    await setFaults({ faults: ["unavailable"], ops: ["capture", "query_operation"], refPrefix: prefix });
    try {
      const capture = operation(paid, "capture", 1234, `${prefix}1`);
      expect(await bank.operate(capture)).toMatchObject({ status: "failed", code: "channel_unavailable" });
      expect((await bank.queryOperation(capture)).status).toBe("unknown");
      expect(await bookOf(paid)).toMatchObject({ status: "authorized", operations: [] });
    } finally {
      expect((await fetch(`${sim.url}/sim/faults/bank_direct`, { method: "DELETE" })).status).toBe(204);
    }
  });

  it("a refund the bank declines fails with nothing moved", async () => {
    const prefix = `${RUN}dec`;
    const paid = await pay();
    await age(paid, 30);
    await setFaults({ faults: ["decline"], ops: ["refund"], refPrefix: prefix });
    try {
      const refund = operation(paid, "refund", 200, `${prefix}1`);
      expect(await bank.operate(refund)).toMatchObject({ status: "failed", code: "channel_rejected" });
      expect(await bank.queryOperation(refund)).toMatchObject({ status: "failed", code: "channel_rejected" });
      expect(await bookOf(paid)).toMatchObject({ refundedAmount: 0, refundCount: 0 });
    } finally {
      expect((await fetch(`${sim.url}/sim/faults/bank_direct`, { method: "DELETE" })).status).toBe(204);
    }
  });
});
