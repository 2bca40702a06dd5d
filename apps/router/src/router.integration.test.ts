import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { channelEndpointsFromEnv, createChannelAdapters } from "@pps/channels";
import { routingAttempts } from "@pps/db/schema";
import { newId } from "@pps/domain";
import { createLogger } from "@pps/logger";
import {
  type AttemptResult,
  createKafka,
  type Envelope,
  EventConsumer,
  EventPublisher,
  eventRegistry,
  type InternalPaymentSnapshot,
  makeEnvelope,
  paymentEvents,
  paymentEventsV1,
  paymentInternalEvents,
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

async function publish(...envelopes: Envelope<InternalPaymentSnapshot>[]): Promise<void> {
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
  attempts: { id: string; attemptNo: number; channel: string; status: string }[];
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
async function simFaults(channel: string, faults: string[]): Promise<void> {
  const res = await fetch(`${sim.url}/sim/faults/${channel}`, {
    method: faults.length ? "PUT" : "DELETE",
    headers: { "content-type": "application/json" },
    body: faults.length ? JSON.stringify({ faults, ops: ["pay"], percent: 100 }) : undefined,
  });
  expect(res.ok, await res.clone().text()).toBe(true);
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
    expect((await resultsFor(first.paymentId, 1))[0]).toMatchObject({
      channel: "bank_direct",
      attemptNo: 1,
      amount: 10_000,
      currency: "CNY",
    });

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
    const paidAttempt = newId("att");
    const lostAttempt = newId("att");
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

  it("counts attempts by channel and outcome and times channel calls", async () => {
    const text = await (await fetch(`${router.url}/metrics`)).text();
    expect(text).toMatch(/router_channel_attempts_total\{[^}]*channel="bank_direct"[^}]*outcome="failed"[^}]*\} [1-9]/);
    expect(text).toMatch(
      /router_channel_call_duration_seconds_count\{[^}]*channel="bank_direct"[^}]*operation="pay"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/router_failovers_total\{[^}]*from="bank_direct"[^}]*to="unionpay"[^}]*\} 1/);
  });
});
