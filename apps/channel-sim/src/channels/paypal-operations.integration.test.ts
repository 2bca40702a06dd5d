import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  channelEndpointsFromEnv,
  createPaypalAdapter,
  DEV_CHANNEL_KEYS,
  type ChannelAdapter,
  type OperationRequest,
  type ParsedCallback,
  type PayRequest,
} from "@pps/channels";
import { simCharges, simOperations } from "@pps/db/schema";
import { isolatedDatabase, startApp, waitFor, type AppProcess } from "@pps/test-support";
import { createPaypalProtocol } from "./paypal.ts";
import { convertToCny } from "./paypal-fx.ts";

// PayPal's operations through the real adapter against the real channel-sim process and its own Postgres:
// authorize (intent AUTHORIZE) then capture in part or in full, or void; refunds of a capture in parts, in
// the payment's currency, with the refund query by our number; the 3-day honour period and the 180-day
// refund window by ageing the transaction. Payment webhooks reach a small local server and go through
// parseCallback.

const RUN = `ppo${Date.now().toString(36)}`;
const HOUR = 3_600_000;

let sim: AppProcess;
let receiver: Server;
let receiverUrl: string;
let adapter: ChannelAdapter;
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
const received: { rawBody: string; parsed: ParsedCallback }[] = [];

let seq = 0;
const next = (tag: string) => `${RUN}_${tag}_${++seq}`;

function payRequest(tag: string, over: Partial<PayRequest> = {}): PayRequest {
  return {
    paymentId: `pay_${next("p")}`,
    attemptId: next(tag),
    product: "foreign_card",
    amount: 2_500,
    currency: "USD",
    subject: `PayPal ${tag}`,
    payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: null },
    method: { bankCode: null, cardType: "credit", wallet: null, flow: null },
    returnUrl: "https://merchant.test/return?order=42",
    callbackUrl: `${receiverUrl}/cb/paypal`,
    expiresAt: new Date(Date.now() + HOUR).toISOString(),
    metadata: { order: "42" },
    captureMethod: "automatic",
    ...over,
  };
}

type Paid = { req: PayRequest; txnId: string };

/** Pays through PayPal's checkout: the payer approves; the webhook tells the result. */
async function paid(tag: string, over: Partial<PayRequest> = {}): Promise<Paid> {
  const req = payRequest(tag, over);
  const first = await adapter.pay(req);
  expect(first.status).toBe("requires_action");
  const txnId = (first as { channelTxnId: string }).channelTxnId;
  const res = await fetch(`${sim.url}/paypal/checkout/${txnId}`, {
    method: "POST",
    body: "action=approve",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    redirect: "manual",
  });
  expect(res.status).toBe(303);
  await waitFor(async () => webhooksOf(req.attemptId).length > 0, {
    timeoutMs: 10_000,
    intervalMs: 25,
    what: "webhook",
  });
  return { req, txnId };
}

const webhooksOf = (ref: string) => received.filter((r) => r.rawBody.includes(ref));

function operation(kind: OperationRequest["kind"], p: Paid, over: Partial<OperationRequest> = {}): OperationRequest {
  return {
    kind,
    operationId: next(kind),
    paymentId: p.req.paymentId,
    attemptId: p.req.attemptId,
    channelTxnId: p.txnId,
    amount: p.req.amount,
    currency: p.req.currency,
    paymentAmount: p.req.amount,
    reason: "customer asked",
    callbackUrl: `${receiverUrl}/cb/paypal`,
    ...over,
  };
}

type BookEntry = {
  status: string;
  amount: number;
  operations: { kind: string; ref: string; amount: number; status: string }[];
  [k: string]: unknown;
};

async function book(ref: string): Promise<BookEntry> {
  const res = await fetch(`${sim.url}/sim/book/paypal?ref=${encodeURIComponent(ref)}`);
  const { entries } = (await res.json()) as { entries: BookEntry[] };
  expect(entries).toHaveLength(1);
  return entries[0]!;
}

async function age(txnId: string, hours: number): Promise<void> {
  const res = await fetch(`${sim.url}/sim/book/paypal/${txnId}/age`, {
    method: "POST",
    body: JSON.stringify({ hours }),
    headers: { "content-type": "application/json" },
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

async function setFaults(body: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${sim.url}/sim/faults/paypal`, {
    method: "PUT",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

beforeAll(async () => {
  isolated = await isolatedDatabase("sim_paypal_ops");
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
  adapter = createPaypalAdapter(channelEndpointsFromEnv({ CHANNEL_BASE_URL: sim.url }).paypal);
});

afterAll(async () => {
  const stopped = await sim?.stop();
  receiver?.close();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

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
    expect(expires).toBeGreaterThanOrEqual(before + 72 * HOUR - 1_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 72 * HOUR + 1_000);

    const q = await adapter.query({ attemptId: p.req.attemptId, channelTxnId: null });
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
    const out = await adapter.operate(cap);
    expect(out).toEqual({ status: "succeeded", channelOpId: `CAP${p.txnId}`, amount: 1_500, currency: "USD" });
    expect(await adapter.operate(cap)).toEqual(out);

    // The payment query now tells what was taken: the captured part, settled in CNY at PayPal's rate.
    const settled = convertToCny(1_500, "USD");
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toEqual({
      status: "succeeded",
      channelTxnId: p.txnId,
      amount: 1_500,
      currency: "USD",
      settlement: settled,
    });
    expect(await adapter.queryOperation(cap)).toEqual(out);

    const again = await adapter.operate(operation("capture", p, { amount: 500 }));
    expect(again).toMatchObject({ status: "failed", code: "invalid_state" });
    expect((again as { message: string }).message).toContain("AUTHORIZATION_ALREADY_CAPTURED");
    expect(await adapter.operate(operation("void", p))).toMatchObject({ status: "failed", code: "invalid_state" });
    const entry = await book(p.req.attemptId);
    expect(entry).toMatchObject({ status: "succeeded" });
    expect(entry.operations.map((o) => [o.kind, o.amount, o.status])).toEqual([["capture", 1_500, "succeeded"]]);
  });

  it("a full capture; more than authorized is refused", async () => {
    const p = await paid("fullcap", { captureMethod: "manual", amount: 4_000 });
    expect(await adapter.operate(operation("capture", p, { amount: 4_001 }))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_authorized",
    });
    expect(await adapter.operate(operation("capture", p))).toMatchObject({
      status: "succeeded",
      amount: 4_000,
      currency: "USD",
    });
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
      amount: 4_000,
    });
  });

  it("void releases the whole authorization: repeat is the same void; capture after it is refused; query tells", async () => {
    const p = await paid("void", { captureMethod: "manual" });
    const v = operation("void", p);
    expect(await adapter.queryOperation(v)).toEqual({ status: "not_found" });
    const out = await adapter.operate(v);
    expect(out).toEqual({ status: "succeeded", channelOpId: `AUTH${p.txnId}`, amount: 2_500, currency: "USD" });
    expect(await adapter.operate(v)).toEqual(out);
    expect(await adapter.queryOperation(v)).toEqual(out);

    const cap = await adapter.operate(operation("capture", p));
    expect(cap).toMatchObject({ status: "failed", code: "invalid_state" });
    expect((cap as { message: string }).message).toContain("AUTHORIZATION_VOIDED");
    expect(await adapter.operate(operation("void", p))).toMatchObject({ status: "failed", code: "invalid_state" });
    // A voided authorization is its own state at PayPal; for the payment, nothing was kept.
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
      message: "authorization VOIDED",
    });
    expect(await book(p.req.attemptId)).toMatchObject({ status: "voided" });
  });

  it("after the 3-day honour period the authorization is gone: capture and void refused authorization_expired", async () => {
    const p = await paid("expired", { captureMethod: "manual" });
    await age(p.txnId, 73);
    expect(await adapter.operate(operation("capture", p))).toMatchObject({
      status: "failed",
      code: "authorization_expired",
    });
    expect(await adapter.operate(operation("void", p))).toMatchObject({
      status: "failed",
      code: "authorization_expired",
    });
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "failed",
      code: "expired",
      message: "authorization EXPIRED",
    });
  });

  it("a sale has no authorization: capture and void are refused without sending; cancel is not a PayPal flow", async () => {
    const p = await paid("sale");
    expect(await adapter.operate(operation("capture", p))).toMatchObject({ status: "failed", code: "invalid_state" });
    expect(await adapter.operate(operation("void", p))).toMatchObject({ status: "failed", code: "invalid_state" });
    expect(await adapter.operate(operation("cancel", p))).toMatchObject({
      status: "failed",
      code: "flow_not_supported",
    });
    expect((await book(p.req.attemptId)).operations).toEqual([]);
  });
});

describe("paypal refunds", () => {
  it("partial refunds in the payment's currency, repeated; over-refund refused; the refund query by our number", async () => {
    const p = await paid("refund", { amount: 2_000 });
    const first = operation("refund", p, { amount: 500 });
    const r1 = await adapter.operate(first);
    expect(r1).toMatchObject({ status: "succeeded", amount: 500, currency: "USD" });
    const r1Id = (r1 as { channelOpId: string }).channelOpId;
    expect(await adapter.operate(first)).toEqual(r1);
    // Our number again with another amount: it may be done under it, so we cannot tell.
    expect(await adapter.operate({ ...first, amount: 600 })).toMatchObject({ status: "unknown" });
    expect(await adapter.operate(operation("refund", p, { amount: 700 }))).toMatchObject({
      status: "succeeded",
      amount: 700,
    });

    const over = await adapter.operate(operation("refund", p, { amount: 900 }));
    expect(over).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((over as { message: string }).message).toContain("REFUND_AMOUNT_EXCEEDED");
    const last = operation("refund", p, { amount: 800 });
    expect(await adapter.operate(last)).toMatchObject({ status: "succeeded", amount: 800 });
    const none = await adapter.operate(operation("refund", p, { amount: 1 }));
    expect(none).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    expect((none as { message: string }).message).toContain("CAPTURE_FULLY_REFUNDED");

    expect(await adapter.queryOperation(first)).toEqual({
      status: "succeeded",
      channelOpId: r1Id,
      amount: 500,
      currency: "USD",
    });
    expect(await adapter.queryOperation(operation("refund", p))).toEqual({ status: "not_found" });

    // Refunded in full, and still the payment that succeeded.
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 2_000,
      currency: "USD",
    });
    const entry = await book(p.req.attemptId);
    expect(entry.operations.filter((o) => o.status === "succeeded").map((o) => o.amount)).toEqual([500, 700, 800]);
  });

  it("a refund in another currency than the payment's is refused, nothing moves", async () => {
    const p = await paid("refundcur", { amount: 2_000 });
    expect(await adapter.operate(operation("refund", p, { amount: 500, currency: "EUR" }))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    expect((await book(p.req.attemptId)).operations).toEqual([]);
  });

  it("a refund of a captured authorization returns part of what was captured", async () => {
    const p = await paid("capref", { captureMethod: "manual", amount: 3_000 });
    expect(await adapter.operate(operation("capture", p, { amount: 2_000 }))).toMatchObject({ status: "succeeded" });
    expect(await adapter.operate(operation("refund", p, { amount: 2_001 }))).toMatchObject({
      status: "failed",
      code: "amount_exceeds_refundable",
    });
    expect(await adapter.operate(operation("refund", p, { amount: 2_000 }))).toMatchObject({
      status: "succeeded",
      amount: 2_000,
    });
  });

  it("an authorization not captured has nothing to refund: refused without sending", async () => {
    const p = await paid("refauth", { captureMethod: "manual" });
    expect(await adapter.operate(operation("refund", p, { amount: 100 }))).toMatchObject({
      status: "failed",
      code: "invalid_state",
    });
    expect((await book(p.req.attemptId)).operations).toEqual([]);
  });

  it("refunds are taken within 180 days of the capture", async () => {
    const p = await paid("refold", { amount: 2_000 });
    await age(p.txnId, 179 * 24);
    expect(await adapter.operate(operation("refund", p, { amount: 100 }))).toMatchObject({ status: "succeeded" });
    await age(p.txnId, 2 * 24);
    expect(await adapter.operate(operation("refund", p, { amount: 100 }))).toMatchObject({
      status: "failed",
      code: "refund_window_closed",
    });
  });
});

describe("paypal operation faults", () => {
  it("a refund whose answer is lost is unknown; the query by our number finds it done, once", async () => {
    const p = await paid("lost", { amount: 2_000 });
    const r = operation("refund", p, { amount: 600 });
    await setFaults({ faults: ["timeout"], ops: ["refund"], refPrefix: r.operationId });
    const started = Date.now();
    expect(await adapter.operate(r, { timeoutMs: 800 })).toMatchObject({ status: "unknown" });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await adapter.queryOperation(r)).toMatchObject({ status: "succeeded", amount: 600, currency: "USD" });
    expect((await book(p.req.attemptId)).operations.map((o) => [o.ref, o.amount])).toEqual([[r.operationId, 600]]);
  });

  it("5xx after applying is unknown; busy is channel_unavailable with nothing moved; a declined refund fails", async () => {
    const p = await paid("faults", { amount: 2_000 });
    const after = operation("refund", p, { amount: 300 });
    await setFaults({ faults: ["5xx_after_charge"], ops: ["refund"], refPrefix: after.operationId });
    expect(await adapter.operate(after)).toMatchObject({ status: "unknown" });
    expect(await adapter.queryOperation(after)).toMatchObject({ status: "succeeded", amount: 300 });

    const busy = operation("refund", p, { amount: 300 });
    await setFaults({ faults: ["unavailable"], ops: ["refund"], refPrefix: busy.operationId });
    expect(await adapter.operate(busy)).toMatchObject({ status: "failed", code: "channel_unavailable" });
    expect(await adapter.queryOperation(busy)).toEqual({ status: "not_found" });

    const declined = operation("refund", p, { amount: 300 });
    await setFaults({ faults: ["decline"], ops: ["refund"], refPrefix: declined.operationId });
    expect(await adapter.operate(declined)).toMatchObject({ status: "failed", code: "channel_rejected" });
    expect(await adapter.queryOperation(declined)).toMatchObject({ status: "failed", code: "channel_rejected" });

    const capture = operation("capture", await paid("capfault", { captureMethod: "manual" }));
    await setFaults({ faults: ["5xx"], ops: ["capture"], refPrefix: capture.operationId });
    expect(await adapter.operate(capture)).toMatchObject({ status: "unknown" });
    // 5xx before anything: the query says no capture was made.
    expect(await adapter.queryOperation(capture)).toEqual({ status: "not_found" });
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
    expect(await adapter.operate(cap)).toMatchObject({ status: "succeeded" });
    expect(await adapter.operate(ref)).toMatchObject({ status: "succeeded" });
    const [charge] = await isolated.db.select().from(simCharges).where(eq(simCharges.id, p.txnId));
    const ops = await isolated.db.select().from(simOperations).where(eq(simOperations.chargeId, p.txnId));
    const proto = createPaypalProtocol(DEV_CHANNEL_KEYS.paypal);
    const parse = (kind: string) => {
      const op = ops.find((o) => o.kind === kind)!;
      const msg = proto.renderOperationCallback(op, charge!, `ntf_${kind}`, new Date());
      return adapter.parseCallback({ headers: msg.headers, rawBody: msg.body });
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
    expect(await adapter.query({ attemptId: p.req.attemptId, channelTxnId: p.txnId })).toMatchObject({
      status: "succeeded",
      amount: 1_234,
      currency: "USD",
    });
  });
});
