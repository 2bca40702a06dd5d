import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { channelEndpointsFromEnv, createChannelAdapters } from "@pps/channels";
import { routingAttempts } from "@pps/db/schema";
import { attemptIdOf, newId, parseAttemptId } from "@pps/domain";
import { createLogger } from "@pps/logger";
import {
  type AttemptResult,
  createKafka,
  type Envelope,
  EventConsumer,
  EventPublisher,
  eventRegistry,
  channelEvents,
  type InternalPaymentSnapshot,
  makeEnvelope,
  type OperationRequestPayload,
  type OperationResult,
  paymentEvents,
  paymentEventsV1,
  paymentInternalEvents,
  paymentOperationInternalEvents,
  type PaymentSnapshot,
  TOPICS,
} from "@pps/messaging";
import {
  type AppProcess,
  type IsolatedEnvironment,
  isolatedEnvironment,
  startApp,
  TEST_KAFKA_BROKERS,
  waitFor,
} from "@pps/test-support";

const ADMIN_TOKEN = `test-admin-${randomUUID()}`;
const logger = createLogger({ service: "router-test", level: "silent" });
const kafka = createKafka({ brokers: TEST_KAFKA_BROKERS.split(","), clientId: "pps-router-test", logger });
/** This file's own database and topics: a router or risk-stub started by another file must not see its payments. */
let isolated: IsolatedEnvironment;
let publisher: EventPublisher;
const results = new Map<string, AttemptResult[]>();
/** channel.operation_result events, by operation id. */
const operationResults = new Map<string, OperationResult[]>();
/** Every channel.attempt_result version seen (the router writes v2 only). */
const attemptResultVersions = new Set<number>();
let reader: EventConsumer;
const startReader = () =>
  new EventConsumer({
    kafka,
    groupId: `router-test-reader-${randomUUID()}`,
    topics: [TOPICS.channelResults.name],
    registry: eventRegistry,
    logger,
    topicPrefix: isolated.topicPrefix,
    handler: async (envelope) => {
      if (envelope.type === channelEvents.operationResult.type) {
        const o = (envelope as Envelope<OperationResult>).payload;
        operationResults.set(o.operationId, [...(operationResults.get(o.operationId) ?? []), o]);
        return;
      }
      attemptResultVersions.add(envelope.version);
      const r = (envelope as Envelope<AttemptResult>).payload;
      results.set(r.paymentId, [...(results.get(r.paymentId) ?? []), r]);
    },
  });

let sim: AppProcess;
let router: AppProcess;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cmbPayment(metadata: Record<string, string> = {}): InternalPaymentSnapshot {
  const now = new Date();
  const paymentId = newId("pay");
  return {
    paymentId,
    merchantId: "m_router_test",
    merchantOrderNo: `ord-${paymentId}`,
    product: "online_banking",
    amount: 10_000,
    currency: "CNY",
    status: "processing",
    previousStatus: "risk_review",
    version: 2,
    channel: null,
    failureCode: null,
    failureMessage: null,
    subject: "Router test order",
    payer: { id: `u_${randomUUID()}`, ip: "198.51.100.23", deviceId: null, phone: "+8613800138000" },
    method: { bankCode: "CMB", cardType: "debit", wallet: null, flow: null },
    returnUrl: "https://shop.example/return",
    notifyUrl: "https://shop.example/notify",
    metadata,
    expiresAt: new Date(now.getTime() + 30 * 60_000).toISOString(),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

/** What payment-api announces to the router on the restricted internal topic. */
function processing(p: InternalPaymentSnapshot): Envelope<InternalPaymentSnapshot> {
  const def = paymentInternalEvents.processing;
  return makeEnvelope({ type: def.type, version: def.version, aggregateId: p.paymentId, payload: p });
}

async function publish(...envelopes: Envelope<unknown>[]): Promise<void> {
  await publisher.publish(TOPICS.paymentInternal.name, envelopes);
}

async function resultsFor(
  paymentId: string,
  atLeast: number,
  what = `results of ${paymentId}`,
): Promise<AttemptResult[]> {
  await waitFor(async () => (results.get(paymentId)?.length ?? 0) >= atLeast, { timeoutMs: 20_000, what });
  return results.get(paymentId)!;
}

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${router.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function setChannel(id: string, change: Record<string, unknown>): Promise<void> {
  const res = await admin("PUT", `/v1/channels/${id}`, change);
  expect(res.status, await res.clone().text()).toBe(200);
}

async function setCircuit(id: string, state: "open" | "closed"): Promise<void> {
  const res = await admin("POST", `/v1/channels/${id}/circuit`, { state });
  expect(res.status, await res.clone().text()).toBe(200);
}

type Decisions = {
  decisions: {
    attemptNo: number;
    winner: string | null;
    reason: string;
    candidates: { channel: string; fee: number | null; excludedReason: string | null; rank: number | null }[];
  }[];
  attempts: {
    id: string;
    attemptNo: number;
    channel: string;
    status: string;
    queryCount: number;
    nextQueryAt: string | null;
    completedAt: string | null;
  }[];
};

async function decisionsOf(paymentId: string): Promise<Decisions> {
  const res = await admin("GET", `/v1/routing/decisions/${paymentId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Decisions;
}

/**
 * Channel-wide fault at channel-sim, for the pay operation. (Per-request `sim_fault` metadata would hit
 * every channel the payment is sent to; a failover test needs only the first to fail.) Set for as short a
 * time as possible: other test files' payments in this run meet it too, and fail over the same way.
 */
async function simFaults(
  channel: string,
  faults: string[],
  scope: { ops?: string[]; refPrefix?: string } = {},
): Promise<void> {
  const res = await fetch(`${sim.url}/sim/faults/${channel}`, {
    method: faults.length ? "PUT" : "DELETE",
    headers: { "content-type": "application/json" },
    body: faults.length
      ? JSON.stringify({ faults, ops: scope.ops ?? ["pay"], percent: 100, refPrefix: scope.refPrefix ?? null })
      : undefined,
  });
  expect(res.ok, await res.clone().text()).toBe(true);
}

type BookEntry = {
  txnId: string;
  ref: string;
  status: string;
  amount: number;
  capturedAmount: number;
  refundedAmount: number;
  operations: { opId: string; kind: string; ref: string; amount: number; status: string }[];
};

async function bookOf(channel: string, ref: string): Promise<BookEntry[]> {
  const res = await fetch(`${sim.url}/sim/book/${channel}?ref=${encodeURIComponent(ref)}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { entries: BookEntry[] }).entries;
}

/** Moves a transaction onto an earlier settlement day (the banks refund only what has settled). */
async function ageTransaction(channel: string, txnId: string, hours: number): Promise<void> {
  const res = await fetch(`${sim.url}/sim/book/${channel}/${txnId}/age`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hours }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** A CMB payment the router sent to bank_direct and the payer paid at once: the attempt that took the money. */
async function paidAtBank(): Promise<{ payment: InternalPaymentSnapshot; paid: AttemptResult }> {
  const payment = cmbPayment({ sim_payer: "auto_confirm" });
  await publish(processing(payment));
  const [paid] = await resultsFor(payment.paymentId, 1);
  expect(paid).toMatchObject({ outcome: "succeeded", channel: "bank_direct" });
  return { payment, paid: paid! };
}

/** What payment-api sends the router for an operation it recorded. */
function operationRequested(
  payment: InternalPaymentSnapshot,
  paid: AttemptResult,
  op: { kind: OperationRequestPayload["kind"]; amount: number; id?: string },
): Envelope<OperationRequestPayload> {
  const def = paymentOperationInternalEvents.operationRequested;
  const prefix = { capture: "cap", void: "void", cancel: "cxl", refund: "re" }[op.kind];
  const payload: OperationRequestPayload = {
    operationId: op.id ?? newId(prefix),
    kind: op.kind,
    paymentId: payment.paymentId,
    merchantId: payment.merchantId,
    channel: paid.channel,
    attemptId: paid.attemptId,
    channelTxnId: paid.channelTxnId,
    amount: op.amount,
    currency: payment.currency,
    paymentAmount: payment.amount,
    reason: "router test",
    requestedAt: new Date().toISOString(),
  };
  return makeEnvelope({ type: def.type, version: def.version, aggregateId: payment.paymentId, payload });
}

async function operationResultsFor(operationId: string, atLeast: number): Promise<OperationResult[]> {
  await waitFor(async () => (operationResults.get(operationId)?.length ?? 0) >= atLeast, {
    timeoutMs: 20_000,
    what: `operation results of ${operationId}`,
  });
  return operationResults.get(operationId)!;
}

type OperationCalls = {
  operations: {
    id: string;
    kind: string;
    channel: string;
    status: string;
    queryCount: number;
    nextQueryAt: string | null;
    lastError: string | null;
  }[];
};

async function operationCallsOf(paymentId: string): Promise<OperationCalls["operations"]> {
  const res = await admin("GET", `/v1/routing/operations/${paymentId}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as OperationCalls).operations;
}

describe("router against channel-sim, Kafka and Postgres", () => {
  beforeAll(async () => {
    isolated = await isolatedEnvironment("router");
    publisher = new EventPublisher(kafka, isolated.topicPrefix);
    reader = startReader();
    await publisher.start();
    await reader.start();
    sim = await startApp("channel-sim", isolated.env);
    router = await startApp("router", {
      ...isolated.env,
      ADMIN_TOKEN,
      CHANNEL_BASE_URL: sim.url,
      CHANNEL_TIMEOUT_MS: "1000",
      CALLBACK_BASE_URL: "http://127.0.0.1:9",
      // Attempts waiting for a payer are looked at every second (the default waits a minute), so a test
      // sees the resolver at work, and stop being looked at once a callback settled them.
      ROUTER_STUCK_QUERY_DELAYS_MS: "1000",
      // A payment no channel can take (a manual capture at a wallet without pre-authorization) fails soon.
      ROUTE_WAIT_MAX_MS: "2000",
    });
    await waitFor(async () => (await fetch(`${router.url}/readyz`)).ok, { what: "router ready" });
  });

  afterAll(async () => {
    await router?.stop();
    await sim?.stop();
    await reader?.stop();
    await publisher?.stop();
    await isolated?.close();
  });

  it("refuses the operator API without the admin token and validates changes", async () => {
    expect((await fetch(`${router.url}/v1/channels`)).status).toBe(401);
    const bad = await admin("PUT", "/v1/channels/unionpay", { feeRateBps: -1 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("request.validation_failed");
    expect((await admin("PUT", "/v1/channels/nope", { enabled: true })).status).toBe(404);
    const list = (await (await admin("GET", "/v1/channels")).json()) as { data: { id: string; feeRateBps: number }[] };
    expect(list.data.map((c) => c.id)).toEqual(
      expect.arrayContaining(["bank_direct", "unionpay", "wechat", "alipay", "paypal", "carrier"]),
    );
  });

  it("sends online banking at CMB to the cheaper healthy channel, and follows fee changes", async () => {
    const first = cmbPayment();
    await publish(processing(first));
    const [routed] = await resultsFor(first.paymentId, 1);
    expect(routed).toMatchObject({ channel: "bank_direct", attemptNo: 1, amount: 10_000, currency: "CNY" });
    // The attempt id names its payment, so a callback that beats this report is tied to it.
    expect(parseAttemptId(routed!.attemptId)).toEqual({ paymentId: first.paymentId, attemptNo: 1 });

    await setChannel("unionpay", { feeFixed: 0, feeRateBps: 10 });
    try {
      const second = cmbPayment();
      await publish(processing(second));
      expect((await resultsFor(second.paymentId, 1))[0]?.channel).toBe("unionpay");
      const why = await decisionsOf(second.paymentId);
      expect(why.decisions[0]).toMatchObject({ winner: "unionpay", reason: "initial" });
      expect(why.decisions[0]?.candidates.filter((c) => c.rank !== null).map((c) => [c.channel, c.fee])).toEqual([
        ["unionpay", 10],
        ["bank_direct", 50],
      ]);
    } finally {
      await setChannel("unionpay", { feeFixed: 10, feeRateBps: 60 });
    }
    const third = cmbPayment();
    await publish(processing(third));
    expect((await resultsFor(third.paymentId, 1))[0]?.channel).toBe("bank_direct");
  });

  it("sends traffic elsewhere while a channel's circuit is open", async () => {
    await setCircuit("bank_direct", "open");
    try {
      const p = cmbPayment();
      await publish(processing(p));
      expect((await resultsFor(p.paymentId, 1))[0]?.channel).toBe("unionpay");
      const why = await decisionsOf(p.paymentId);
      expect(why.decisions[0]?.candidates.find((c) => c.channel === "bank_direct")?.excludedReason).toBe(
        "circuit_open",
      );
      const health = (await (await admin("GET", "/v1/channels/health")).json()) as {
        data: { channel: string; circuit: { state: string } }[];
      };
      expect(health.data.find((h) => h.channel === "bank_direct")?.circuit.state).toBe("open");
    } finally {
      await setCircuit("bank_direct", "closed");
    }
  });

  it("resolves a timed-out call by querying the same channel: unknown, then succeeded, one charge", async () => {
    const p = cmbPayment({ sim_fault: "timeout", sim_payer: "auto_confirm" });
    await publish(processing(p));
    const [unknown] = await resultsFor(p.paymentId, 1);
    expect(unknown).toMatchObject({ outcome: "unknown", channel: "bank_direct", willRetry: false });
    const all = await resultsFor(p.paymentId, 2, "the query's answer");
    expect(all[1]).toMatchObject({ outcome: "succeeded", attemptId: unknown!.attemptId, channel: "bank_direct" });
    // v2: what the channel said it took, beside what we asked for.
    expect(all[1]).toMatchObject({ amount: 10_000, reportedAmount: 10_000, reportedCurrency: "CNY" });
    expect(all[0]).toMatchObject({ reportedAmount: null, reportedCurrency: null, authorizationExpiresAt: null });
    expect(new Set(all.map((r) => r.attemptId)).size).toBe(1);
    const book = await fetch(`${sim.url}/sim/book/bank_direct?ref=${unknown!.attemptId}`);
    expect(book.status).toBe(200);
    const { entries } = (await book.json()) as { entries: { ref: string; status: string; amount: number }[] };
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ ref: unknown!.attemptId, status: "succeeded", amount: 10_000 });
  });

  it("fails over to the next channel when the cheapest is unavailable", async () => {
    await simFaults("bank_direct", ["unavailable"]);
    try {
      const p = cmbPayment();
      await publish(processing(p));
      const [failed, next] = await resultsFor(p.paymentId, 2);
      expect(failed).toMatchObject({
        outcome: "failed",
        channel: "bank_direct",
        attemptNo: 1,
        failureCode: "channel_unavailable",
        willRetry: true,
      });
      expect(next).toMatchObject({ channel: "unionpay", attemptNo: 2, willRetry: false });
      expect(parseAttemptId(next!.attemptId)).toEqual({ paymentId: p.paymentId, attemptNo: 2 });
      expect(next?.outcome).not.toBe("failed");
      const why = await decisionsOf(p.paymentId);
      expect(why.decisions.map((d) => [d.attemptNo, d.winner, d.reason])).toEqual([
        [1, "bank_direct", "initial"],
        [2, "unionpay", "failover"],
      ]);
      expect(why.decisions[1]?.candidates.find((c) => c.channel === "bank_direct")?.excludedReason).toBe(
        "already_tried",
      );
    } finally {
      await simFaults("bank_direct", []);
    }
  });

  it("reports a decline as failed without trying another channel", async () => {
    const p = cmbPayment({ sim_fault: "decline" });
    await publish(processing(p));
    const [failed] = await resultsFor(p.paymentId, 1);
    expect(failed).toMatchObject({ outcome: "failed", channel: "bank_direct", willRetry: false });
    expect(failed?.failureCode).not.toBe("channel_unavailable");
    await sleep(1_500);
    expect(results.get(p.paymentId)).toHaveLength(1);
    expect((await decisionsOf(p.paymentId)).attempts).toHaveLength(1);
  });

  it("sends carrier billing the payer's phone from the internal snapshot", async () => {
    const phone = `+86139${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
    const base = cmbPayment();
    const p: InternalPaymentSnapshot = {
      ...base,
      product: "carrier_billing",
      amount: 1_500,
      method: { bankCode: null, cardType: null, wallet: null, flow: null },
      payer: { ...base.payer, phone },
    };
    await publish(processing(p));
    const [result] = await resultsFor(p.paymentId, 1);
    expect(result).toMatchObject({
      channel: "carrier",
      outcome: "requires_action",
      action: { type: "sms_confirmation" },
    });
    const sms = (await (await fetch(`${sim.url}/sms/outbox?phone=${encodeURIComponent(phone)}`)).json()) as {
      messages: unknown[];
    };
    expect(sms.messages.length).toBeGreaterThan(0);
  });

  it("of the public topic routes only retired v1 events (a rollout's leftovers, contact data included), never v2", async () => {
    const withoutContact = cmbPayment();
    const publicV2: PaymentSnapshot = { ...withoutContact, payer: { id: withoutContact.payer.id } };
    const legacy = cmbPayment();
    // One key, so one partition in this order: once the v1 event is routed, the v2 one before it was seen.
    await publisher.publish(TOPICS.paymentEvents.name, [
      makeEnvelope({
        type: paymentEvents.processing.type,
        version: paymentEvents.processing.version,
        aggregateId: publicV2.paymentId,
        payload: publicV2,
      }),
      makeEnvelope({
        type: paymentEventsV1.processing.type,
        version: paymentEventsV1.processing.version,
        aggregateId: publicV2.paymentId,
        payload: legacy,
      }),
    ]);
    expect((await resultsFor(legacy.paymentId, 1))[0]?.channel).toBe("bank_direct");
    await sleep(500);
    expect(results.has(publicV2.paymentId)).toBe(false);
  });

  it("routes a redelivered payment.processing once", async () => {
    const p = cmbPayment();
    const envelope = processing(p);
    await publish(envelope, envelope);
    await resultsFor(p.paymentId, 1);
    await sleep(1_500);
    expect(results.get(p.paymentId)).toHaveLength(1);
    const why = await decisionsOf(p.paymentId);
    expect(why.attempts).toHaveLength(1);
    expect(why.decisions).toHaveLength(1);
  });

  it("after a crash mid-call, queries attempts left `sending` instead of sending them anywhere else", async () => {
    // What a router that died right after its pay call leaves behind: the charge at the channel, and an
    // attempt row still `sending`. A second one died before its request left: no charge anywhere.
    const adapters = createChannelAdapters({ endpoints: channelEndpointsFromEnv({ CHANNEL_BASE_URL: sim.url }) });
    const paid = cmbPayment({ sim_payer: "auto_confirm" });
    const lost = cmbPayment();
    const paidAttempt = attemptIdOf(paid.paymentId, 1);
    const lostAttempt = attemptIdOf(lost.paymentId, 1);
    const answer = await adapters.get("bank_direct")!.pay({
      paymentId: paid.paymentId,
      attemptId: paidAttempt,
      product: paid.product,
      amount: paid.amount,
      currency: paid.currency,
      subject: paid.subject,
      payer: paid.payer,
      method: paid.method,
      returnUrl: paid.returnUrl,
      callbackUrl: "http://127.0.0.1:9/v1/channel-callbacks/bank_direct",
      expiresAt: paid.expiresAt,
      metadata: paid.metadata,
      captureMethod: "automatic",
    });
    expect(answer.status).toBe("succeeded");
    const base = {
      attemptNo: 1,
      channel: "bank_direct",
      status: "sending",
      amount: 10_000,
      currency: "CNY",
      expiresAt: new Date(paid.expiresAt),
      nextQueryAt: new Date(),
    };
    await isolated.db.insert(routingAttempts).values([
      { ...base, id: paidAttempt, paymentId: paid.paymentId },
      { ...base, id: lostAttempt, paymentId: lost.paymentId },
    ]);
    const [settled] = await resultsFor(paid.paymentId, 1);
    expect(settled).toMatchObject({
      outcome: "succeeded",
      attemptId: paidAttempt,
      channel: "bank_direct",
      willRetry: false,
    });
    const [unknown] = await resultsFor(lost.paymentId, 1);
    expect(unknown).toMatchObject({
      outcome: "unknown",
      attemptId: lostAttempt,
      channel: "bank_direct",
      willRetry: false,
    });
    const book = (await (await fetch(`${sim.url}/sim/book/bank_direct?ref=${paidAttempt}`)).json()) as {
      entries: unknown[];
    };
    expect(book.entries).toHaveLength(1);
  });

  it("routes a manual-capture payment only to a channel that can authorize, and reports it authorized", async () => {
    const held: InternalPaymentSnapshot = { ...cmbPayment({ sim_payer: "auto_confirm" }), captureMethod: "manual" };
    await publish(processing(held));
    const [authorized] = await resultsFor(held.paymentId, 1);
    expect(authorized).toMatchObject({
      outcome: "authorized",
      channel: "bank_direct",
      willRetry: false,
      reportedAmount: 10_000,
      reportedCurrency: "CNY",
    });
    expect(Date.parse(authorized!.authorizationExpiresAt!)).toBeGreaterThan(Date.now() + 6 * 86_400_000);
    expect((await bookOf("bank_direct", authorized!.attemptId))[0]).toMatchObject({ status: "authorized" });
    const why = await decisionsOf(held.paymentId);
    expect(why.attempts).toMatchObject([{ status: "authorized", nextQueryAt: null }]);

    // WeChat Pay cannot hold money: a manual-capture payment for it finds no channel (and fails once it
    // has waited ROUTE_WAIT_MAX_MS), with the reason in the decision.
    const base = cmbPayment();
    const wechat: InternalPaymentSnapshot = {
      ...base,
      product: "platform_pay",
      method: { bankCode: null, cardType: null, wallet: "wechat", flow: "qr_code" },
      captureMethod: "manual",
    };
    await publish(processing(wechat));
    const [none] = await resultsFor(wechat.paymentId, 1);
    expect(none).toMatchObject({ outcome: "failed", channel: "none", failureCode: "no_channel_available" });
    const excluded = (await decisionsOf(wechat.paymentId)).decisions[0]?.candidates.find((c) => c.channel === "wechat");
    expect(excluded?.excludedReason).toBe("flow_not_supported");

    // The authorization is captured by an operation on the channel that holds it.
    const capture = operationRequested(held, authorized!, { kind: "capture", amount: 6_000 });
    await publish(capture);
    const [captured] = await operationResultsFor(capture.payload.operationId, 1);
    expect(captured).toMatchObject({
      outcome: "succeeded",
      kind: "capture",
      channel: "bank_direct",
      reportedAmount: 6_000,
    });
    expect((await bookOf("bank_direct", authorized!.attemptId))[0]).toMatchObject({
      status: "succeeded",
      capturedAmount: 6_000,
    });
  });

  it("runs a requested refund once on the channel that took the money and reports what it moved", async () => {
    const { payment, paid } = await paidAtBank();
    // The bank refunds only once the payment has settled (a same-day reversal is a cancel).
    await ageTransaction("bank_direct", paid.channelTxnId!, 25);
    const refund = operationRequested(payment, paid, { kind: "refund", amount: 2_500 });
    await publish(refund);
    const [result] = await operationResultsFor(refund.payload.operationId, 1);
    expect(result).toMatchObject({
      paymentId: payment.paymentId,
      operationId: refund.payload.operationId,
      kind: "refund",
      channel: "bank_direct",
      outcome: "succeeded",
      amount: 2_500,
      currency: "CNY",
      reportedAmount: 2_500,
      reportedCurrency: "CNY",
      failureCode: null,
    });
    const [entry] = await bookOf("bank_direct", paid.attemptId);
    expect(entry?.refundedAmount).toBe(2_500);
    expect(entry?.operations.filter((o) => o.kind === "refund")).toMatchObject([
      { ref: refund.payload.operationId, amount: 2_500, status: "succeeded" },
    ]);
    expect(await operationCallsOf(payment.paymentId)).toMatchObject([
      {
        id: refund.payload.operationId,
        kind: "refund",
        channel: "bank_direct",
        status: "succeeded",
        nextQueryAt: null,
      },
    ]);

    // A refusal by the channel's rules comes back as failed with its code (nothing moved).
    const tooMuch = operationRequested(payment, paid, { kind: "refund", amount: 9_000 });
    await publish(tooMuch);
    const [refused] = await operationResultsFor(tooMuch.payload.operationId, 1);
    expect(refused).toMatchObject({
      outcome: "failed",
      failureCode: "amount_exceeds_refundable",
      reportedAmount: null,
    });
    expect((await bookOf("bank_direct", paid.attemptId))[0]?.refundedAmount).toBe(2_500);
  });

  it("resolves a timed-out refund by querying the same request: unknown, then succeeded, one refund", async () => {
    const { payment, paid } = await paidAtBank();
    await ageTransaction("bank_direct", paid.channelTxnId!, 25);
    const refund = operationRequested(payment, paid, { kind: "refund", amount: 4_000 });
    // This refund's answer never comes (the bank applies it and holds the answer back).
    await simFaults("bank_direct", ["timeout"], { ops: ["refund"], refPrefix: refund.payload.operationId });
    try {
      await publish(refund);
      const [unknown] = await operationResultsFor(refund.payload.operationId, 1);
      expect(unknown).toMatchObject({ outcome: "unknown", failureCode: null });
      const all = await operationResultsFor(refund.payload.operationId, 2);
      expect(all[1]).toMatchObject({ outcome: "succeeded", reportedAmount: 4_000, reportedCurrency: "CNY" });
    } finally {
      await simFaults("bank_direct", []);
    }
    await sleep(1_500);
    expect(operationResults.get(refund.payload.operationId)).toHaveLength(2);
    const refunds = (await bookOf("bank_direct", paid.attemptId))[0]?.operations.filter((o) => o.kind === "refund");
    expect(refunds).toMatchObject([{ ref: refund.payload.operationId, amount: 4_000, status: "succeeded" }]);
    const [call] = await operationCallsOf(payment.paymentId);
    // Resolved by a query: the call's own error (why its answer was unknown) stays on the row.
    expect(call).toMatchObject({ status: "succeeded", nextQueryAt: null });
    expect(call?.lastError).toBeTruthy();
  });

  it("calls the channel once for a redelivered operation request, under its message id or another", async () => {
    const { payment, paid } = await paidAtBank();
    await ageTransaction("bank_direct", paid.channelTxnId!, 25);
    const refund = operationRequested(payment, paid, { kind: "refund", amount: 1_000 });
    // payment-api announcing the same operation again (another message id, as after a retried outbox write).
    const again = makeEnvelope({
      type: refund.type,
      version: refund.version,
      aggregateId: refund.aggregateId,
      payload: refund.payload,
    });
    await publish(refund, refund, again);
    await operationResultsFor(refund.payload.operationId, 1);
    await sleep(1_500);
    expect(operationResults.get(refund.payload.operationId)).toHaveLength(1);
    const refunds = (await bookOf("bank_direct", paid.attemptId))[0]?.operations.filter((o) => o.kind === "refund");
    expect(refunds).toHaveLength(1);
    expect(await operationCallsOf(payment.paymentId)).toHaveLength(1);
  });

  it("stops querying an attempt once payment-api says a callback settled it, and reports nothing more", async () => {
    // The payer has not paid: the attempt waits for them and is looked at every second.
    const p = cmbPayment();
    await publish(processing(p));
    const [waiting] = await resultsFor(p.paymentId, 1);
    expect(waiting?.outcome).toBe("requires_action");
    await waitFor(async () => ((await decisionsOf(p.paymentId)).attempts[0]?.queryCount ?? 0) >= 1, {
      timeoutMs: 10_000,
      what: "the resolver's first look",
    });

    const def = paymentOperationInternalEvents.channelSettled;
    await publish(
      makeEnvelope({
        type: def.type,
        version: def.version,
        aggregateId: p.paymentId,
        payload: {
          paymentId: p.paymentId,
          ref: waiting!.attemptId,
          subject: "attempt",
          channel: "bank_direct",
          outcome: "succeeded",
          occurredAt: new Date().toISOString(),
        },
      }),
    );
    await waitFor(async () => (await decisionsOf(p.paymentId)).attempts[0]?.status === "succeeded", {
      timeoutMs: 10_000,
      what: "the attempt settled",
    });
    const [settled] = (await decisionsOf(p.paymentId)).attempts;
    expect(settled).toMatchObject({ status: "succeeded", nextQueryAt: null });
    expect(settled?.completedAt).not.toBeNull();
    await sleep(2_500);
    // Without the settlement it would have been asked twice more by now.
    expect((await decisionsOf(p.paymentId)).attempts[0]?.queryCount).toBe(settled?.queryCount);
    expect(results.get(p.paymentId)).toHaveLength(1);
  });

  it("counts attempts by channel and outcome and times channel calls", async () => {
    const text = await (await fetch(`${router.url}/metrics`)).text();
    expect(text).toMatch(/router_channel_attempts_total\{[^}]*channel="bank_direct"[^}]*outcome="failed"[^}]*\} [1-9]/);
    expect(text).toMatch(
      /router_channel_call_duration_seconds_count\{[^}]*channel="bank_direct"[^}]*operation="pay"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/router_failovers_total\{[^}]*from="bank_direct"[^}]*to="unionpay"[^}]*\} 1/);
    expect(text).toMatch(
      /router_operation_calls_total\{[^}]*channel="bank_direct"[^}]*kind="refund"[^}]*outcome="succeeded"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(
      /router_channel_call_duration_seconds_count\{[^}]*channel="bank_direct"[^}]*operation="refund"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(
      /router_channel_call_duration_seconds_count\{[^}]*channel="bank_direct"[^}]*operation="refund_query"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/router_callback_settlements_total\{[^}]*subject="attempt"[^}]*result="settled"[^}]*\} 1/);
    // Only v2 attempt results are written.
    expect([...attemptResultVersions]).toEqual([2]);
  });
});
