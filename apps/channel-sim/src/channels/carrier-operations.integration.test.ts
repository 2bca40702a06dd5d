import { randomInt } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  channelEndpointsFromEnv,
  createCarrierAdapter,
  DEV_CHANNEL_KEYS,
  type ChannelAdapter,
  type OperationRequest,
  type ParsedCallback,
  type PayRequest,
} from "@pps/channels";
import { simCharges, simOperations } from "@pps/db/schema";
import { BEIJING_OFFSET_MS } from "@pps/domain";
import { isolatedDatabase, startApp, waitFor, type AppProcess } from "@pps/test-support";
import { createCarrierProtocol } from "./carrier.ts";

// Carrier billing's refunds through the real adapter against the real channel-sim process and its own
// Postgres: small amounts only (CNY 100.00 each), one per charge, within the bill period (the calendar
// month in Beijing time), answered at once; the refund query by our number; no pre-authorization, no
// cancel. Charge callbacks reach a small local server and go through parseCallback.

const RUN = `cro${Date.now().toString(36)}`;
const HOUR = 3_600_000;

let sim: AppProcess;
let receiver: Server;
let receiverUrl: string;
let adapter: ChannelAdapter;
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
const received: { rawBody: string; parsed: ParsedCallback }[] = [];

let seq = 0;
const next = (tag: string) => `${RUN}_${tag}_${++seq}`;
const phone = () => `139${String(randomInt(0, 100_000_000)).padStart(8, "0")}`;

function payRequest(tag: string, over: Partial<PayRequest> = {}): PayRequest {
  return {
    paymentId: `pay_${next("p")}`,
    attemptId: next(tag),
    product: "carrier_billing",
    amount: 20_000,
    currency: "CNY",
    subject: `Carrier ${tag}`,
    payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: phone() },
    method: { bankCode: null, cardType: null, wallet: null, flow: null },
    returnUrl: "https://merchant.test/return",
    callbackUrl: `${receiverUrl}/cb/carrier`,
    expiresAt: new Date(Date.now() + HOUR).toISOString(),
    metadata: { order: "42" },
    captureMethod: "automatic",
    ...over,
  };
}

type Paid = { req: PayRequest; txnId: string };

/** Charges a subscriber: the code texted to the phone is confirmed; the callback tells the result. */
async function paid(tag: string, over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(tag, over);
  const first = await adapter.pay(req);
  expect(first.status).toBe("requires_action");
  const txnId = (first as { channelTxnId: string }).channelTxnId;
  const sms = await fetch(`${sim.url}/sms/outbox?phone=${req.payer.phone}`);
  const { messages } = (await sms.json()) as { messages: { text: string }[] };
  const code = /Code (\d{6})/.exec(messages[0]?.text ?? "")?.[1];
  const res = await fetch(`${sim.url}/carrier/confirm`, {
    method: "POST",
    body: JSON.stringify({ txnId, code }),
    headers: { "content-type": "application/json" },
  });
  expect(await res.json()).toEqual({ status: "SUCCEEDED" });
  await waitFor(async () => received.some((r) => r.rawBody.includes(req.attemptId)), {
    timeoutMs: 10_000,
    intervalMs: 25,
    what: "charge callback",
  });
  return { req, txnId };
}

function refund(p: Paid, amount: number, over: Partial<OperationRequest> = {}): OperationRequest {
  return {
    kind: "refund",
    operationId: next("re"),
    paymentId: p.req.paymentId,
    attemptId: p.req.attemptId,
    channelTxnId: p.txnId,
    amount,
    currency: "CNY",
    paymentAmount: p.req.amount,
    reason: "customer asked",
    callbackUrl: `${receiverUrl}/cb/carrier`,
    ...over,
  };
}

type BookEntry = {
  status: string;
  refundedAmount: number;
  operations: { ref: string; amount: number; status: string }[];
};

async function book(ref: string): Promise<BookEntry> {
  const res = await fetch(`${sim.url}/sim/book/carrier?ref=${encodeURIComponent(ref)}`);
  const { entries } = (await res.json()) as { entries: BookEntry[] };
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

async function age(txnId: string, hours: number): Promise<void> {
  const res = await fetch(`${sim.url}/sim/book/carrier/${txnId}/age`, {
    method: "POST",
    body: JSON.stringify({ hours }),
    headers: { "content-type": "application/json" },
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

async function setFaults(body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${sim.url}/sim/faults/carrier`, {
    method: "PUT",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

beforeAll(async () => {
  isolated = await isolatedDatabase("sim_carrier_ops");
  receiver = createServer((req, res) => {
    let rawBody = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (rawBody += chunk));
    req.on("end", () => {
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]),
      );
      const parsed = adapter.parseCallback({ headers, rawBody });
      const ack = adapter.callbackAck(parsed.ok || parsed.reason === "not_final");
      received.push({ rawBody, parsed });
      res.writeHead(ack.status, { "content-type": ack.contentType }).end(ack.body);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sim = await startApp("channel-sim", {
    DATABASE_URL: isolated.databaseUrl,
    SIM_CALLBACK_POLL_MS: "25",
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  adapter = createCarrierAdapter(channelEndpointsFromEnv({ CHANNEL_BASE_URL: sim.url }).carrier);
});

afterAll(async () => {
  const stopped = await sim?.stop();
  receiver?.close();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

describe("carrier refunds", () => {
  it("one small refund per charge, answered at once; a repeat is the same refund; a second one is refused", async () => {
    const p = await paid("one");
    const r = refund(p, 3_000);
    const out = await adapter.operate(r);
    expect(out).toMatchObject({ status: "succeeded", amount: 3_000, currency: "CNY" });
    expect(await adapter.operate(r)).toEqual(out);
    expect(await adapter.queryOperation(r)).toEqual(out);
    // Our number again with another amount: it may be done under it, so we cannot tell.
    expect(await adapter.operate({ ...r, amount: 2_000 })).toMatchObject({ status: "unknown" });
    const second = await adapter.operate(refund(p, 1_000));
    expect(second).toMatchObject({ status: "failed", code: "refund_limit_reached" });
    expect((second as { message: string }).message).toContain("REFUND_LIMIT_REACHED");

    const entry = await book(p.req.attemptId);
    expect(entry).toMatchObject({ status: "succeeded", refundedAmount: 3_000 });
    expect(entry.operations.map((o) => [o.ref, o.amount, o.status])).toEqual([[r.operationId, 3_000, "succeeded"]]);
    // Refunded, and still the charge that succeeded.
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 20_000,
      currency: "CNY",
    });
  });

  it("small amounts only: more than CNY 100.00 is refused and nothing moves; CNY 100.00 itself is refunded", async () => {
    const p = await paid("small");
    const big = await adapter.operate(refund(p, 10_001));
    expect(big).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((big as { message: string }).message).toContain("REFUND_AMOUNT_LIMIT_EXCEEDED");
    expect((await book(p.req.attemptId)).operations).toEqual([]);
    expect(await adapter.operate(refund(p, 10_000))).toMatchObject({ status: "succeeded", amount: 10_000 });
  });

  it("never more than was charged", async () => {
    const p = await paid("over", { amount: 5_000 });
    const over = await adapter.operate(refund(p, 6_000));
    expect(over).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((over as { message: string }).message).toContain("REFUND_AMOUNT_EXCEEDED");
    // By our order reference when the carrier's id is not at hand.
    expect(await adapter.operate(refund(p, 5_000, { channelTxnId: null }))).toMatchObject({
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
    await age(p.txnId, (now - monthStart) / HOUR + 1);
    const out = await adapter.operate(refund(p, 1_000));
    expect(out).toMatchObject({ status: "failed", code: "refund_window_closed" });
    expect((out as { message: string }).message).toContain("BILL_PERIOD_CLOSED");
  });

  it("an unconfirmed charge has nothing to refund; an unknown one neither", async () => {
    const req = payRequest("unpaid");
    const pending = await adapter.pay(req);
    const p = { req, txnId: (pending as { channelTxnId: string }).channelTxnId };
    expect(await adapter.operate(refund(p, 1_000))).toMatchObject({ status: "failed", code: "invalid_state" });
    expect(
      await adapter.operate(refund(p, 1_000, { channelTxnId: "CHGNOSUCHCHARGE00", attemptId: next("none") })),
    ).toMatchObject({ status: "failed", code: "invalid_state" });
    expect(await adapter.queryOperation(refund(p, 1_000))).toEqual({ status: "not_found" });
  });

  it("no pre-authorization and no cancel: refused without a call", async () => {
    expect(await adapter.pay(payRequest("manual", { captureMethod: "manual" }))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    const p = { req: payRequest("flows"), txnId: "CHGX" };
    for (const kind of ["capture", "void", "cancel"] as const) {
      expect(await adapter.operate({ ...refund(p, 100), kind })).toMatchObject({
        status: "failed",
        code: "flow_not_supported",
      });
      expect(await adapter.queryOperation({ ...refund(p, 100), kind })).toMatchObject({
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
    expect(await adapter.operate(r, { timeoutMs: 800 })).toMatchObject({ status: "unknown" });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await adapter.queryOperation(r)).toMatchObject({ status: "succeeded", amount: 2_000 });
    expect((await book(p.req.attemptId)).refundedAmount).toBe(2_000);

    const q = await paid("busy");
    const busy = refund(q, 2_000);
    await setFaults({ faults: ["unavailable"], ops: ["refund"], refPrefix: busy.operationId });
    expect(await adapter.operate(busy)).toMatchObject({ status: "failed", code: "channel_unavailable" });
    expect(await adapter.queryOperation(busy)).toEqual({ status: "not_found" });

    const declined = refund(q, 2_000);
    await setFaults({ faults: ["decline"], ops: ["refund"], refPrefix: declined.operationId });
    expect(await adapter.operate(declined)).toMatchObject({ status: "failed", code: "channel_rejected" });
    expect(await adapter.queryOperation(declined)).toMatchObject({ status: "failed", code: "channel_rejected" });
    // A declined refund used up nothing: the one refund of the charge is still to be had.
    expect(await adapter.operate(refund(q, 2_000))).toMatchObject({ status: "succeeded" });

    const lookup = refund(q, 2_000);
    await setFaults({ faults: ["5xx"], ops: ["query_operation"], refPrefix: lookup.operationId });
    expect(await adapter.queryOperation(lookup)).toMatchObject({ status: "unknown" });
  });
});

describe("carrier refund events", () => {
  it("the simulator's refund event, from the book's rows, parses as the operation's result", async () => {
    const p = await paid("event");
    const r = refund(p, 4_000);
    expect(await adapter.operate(r)).toMatchObject({ status: "succeeded" });
    const [charge] = await isolated.db.select().from(simCharges).where(eq(simCharges.id, p.txnId));
    const [op] = await isolated.db.select().from(simOperations).where(eq(simOperations.chargeId, p.txnId));
    const msg = createCarrierProtocol(DEV_CHANNEL_KEYS.carrier).renderOperationCallback(
      op!,
      charge!,
      "ntf_1",
      new Date(),
    );
    expect(adapter.parseCallback({ headers: msg.headers, rawBody: msg.body })).toMatchObject({
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
    const cb = received.find((r) => r.rawBody.includes(p.req.attemptId));
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { channel: "carrier", status: "succeeded", amount: 1_234, currency: "CNY", channelTxnId: p.txnId },
    });
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toEqual({
      status: "succeeded",
      channelTxnId: p.txnId,
      amount: 1_234,
      currency: "CNY",
      settlement: null,
    });
  });
});
