import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
  paymentInternalEvents,
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

// Every channel down for 7 s while payments arrive at a steady rate: the router must wait the outage out
// (waiting payments, half-open share) instead of failing what it cannot route at once.
const CHANNELS = ["bank_direct", "unionpay", "wechat", "alipay", "paypal", "carrier"];
const RATE_PER_S = 15;
const BEFORE_MS = 1_500;
const OUTAGE_MS = 7_000;
const AFTER_MS = 1_500;

const logger = createLogger({ service: "router-outage-test", level: "silent" });
const kafka = createKafka({ brokers: TEST_KAFKA_BROKERS.split(","), clientId: "pps-router-outage-test", logger });
let isolated: IsolatedEnvironment;
let publisher: EventPublisher;
let reader: EventConsumer;
let sim: AppProcess;
let router: AppProcess;
const results = new Map<string, AttemptResult[]>();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function payment(): InternalPaymentSnapshot {
  const now = new Date();
  const paymentId = newId("pay");
  return {
    paymentId,
    merchantId: "m_router_outage",
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
    subject: "Outage test order",
    payer: { id: `u_${randomUUID()}`, ip: "198.51.100.23", deviceId: null, phone: "+8613800138000" },
    method: { bankCode: "CMB", cardType: "debit", wallet: null, flow: null },
    returnUrl: "https://shop.example/return",
    notifyUrl: "https://shop.example/notify",
    metadata: { sim_payer: "auto_confirm" },
    expiresAt: new Date(now.getTime() + 30 * 60_000).toISOString(),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
}

async function setOutage(down: boolean): Promise<void> {
  await Promise.all(
    CHANNELS.map(async (channel) => {
      const res = await fetch(`${sim.url}/sim/faults/${channel}`, {
        method: down ? "PUT" : "DELETE",
        headers: { "content-type": "application/json" },
        body: down ? JSON.stringify({ faults: ["unavailable"], ops: ["pay"], percent: 100 }) : undefined,
      });
      expect(res.ok, await res.clone().text()).toBe(true);
    }),
  );
}

/**
 * The result that settles the routing of a payment: not a failure to be retried, not an unknown being resolved.
 * `pending` counts (UnionPay accepts and settles by callback): the channel has the payment, nothing failed.
 */
function finalOf(paymentId: string): AttemptResult | undefined {
  return results.get(paymentId)?.find((r) => !(r.outcome === "failed" && r.willRetry) && r.outcome !== "unknown");
}

describe("router through a 7 s outage of every channel", () => {
  beforeAll(async () => {
    isolated = await isolatedEnvironment("router_outage");
    publisher = new EventPublisher(kafka, isolated.topicPrefix);
    reader = new EventConsumer({
      kafka,
      groupId: `router-outage-reader-${randomUUID()}`,
      topics: [TOPICS.channelResults.name],
      registry: eventRegistry,
      logger,
      topicPrefix: isolated.topicPrefix,
      handler: async (envelope) => {
        const r = (envelope as Envelope<AttemptResult>).payload;
        results.set(r.paymentId, [...(results.get(r.paymentId) ?? []), r]);
      },
    });
    await publisher.start();
    await reader.start();
    sim = await startApp("channel-sim", isolated.env);
    // The defaults of the wait and the breaker (ROUTE_WAIT_MAX_MS, CIRCUIT_COOLDOWN_MS, ROUTER_HALF_OPEN_SHARE).
    router = await startApp("router", {
      ...isolated.env,
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

  it("fails at most 1% of the payments started during the outage and charges none twice", async () => {
    const duringOutage = new Set<string>();
    const all: string[] = [];
    const published: Promise<void>[] = [];
    const started = Date.now();
    let outage: "before" | "down" | "after" = "before";
    const total = Math.round(((BEFORE_MS + OUTAGE_MS + AFTER_MS) / 1_000) * RATE_PER_S);
    for (let i = 0; i < total; i++) {
      const at = started + (i * 1_000) / RATE_PER_S;
      await sleep(Math.max(0, at - Date.now()));
      const elapsed = Date.now() - started;
      if (outage === "before" && elapsed >= BEFORE_MS) {
        await setOutage(true);
        outage = "down";
      } else if (outage === "down" && elapsed >= BEFORE_MS + OUTAGE_MS) {
        await setOutage(false);
        outage = "after";
      }
      const p = payment();
      all.push(p.paymentId);
      if (outage === "down") duringOutage.add(p.paymentId);
      const def = paymentInternalEvents.processing;
      // Not awaited in turn: the rate stays steady however long the broker takes.
      published.push(
        publisher.publish(TOPICS.paymentInternal.name, [
          makeEnvelope({ type: def.type, version: def.version, aggregateId: p.paymentId, payload: p }),
        ]),
      );
    }
    if (outage !== "after") await setOutage(false);
    await Promise.all(published);

    await waitFor(async () => all.every((id) => finalOf(id) !== undefined), {
      timeoutMs: 25_000,
      what: "a final result for every payment",
    }).catch(async (err: unknown) => {
      const open = all.filter((id) => finalOf(id) === undefined);
      const waiting = await isolated.db.execute(sql`select count(*)::int as n from routing.waiting_payments`);
      const attempts = await isolated.db.execute(
        sql`select status, channel, count(*)::int as n from routing.attempts group by 1, 2 order by 1, 2`,
      );
      console.error({ open: open.length, sample: results.get(open[0] ?? ""), waiting, attempts });
      throw err;
    });
    const failed = [...duringOutage].filter((id) => finalOf(id)?.outcome === "failed");
    const share = failed.length / duringOutage.size;
    console.info(
      `channel outage: ${all.length} payments, ${duringOutage.size} started during the ${OUTAGE_MS} ms outage, ` +
        `${failed.length} failed (${(share * 100).toFixed(2)}%); ` +
        `${all.filter((id) => finalOf(id)?.outcome === "failed").length} failed in all`,
    );
    expect(duringOutage.size).toBeGreaterThan(80);
    expect(share).toBeLessThanOrEqual(0.01);
    for (const id of all) expect(["succeeded", "requires_action", "pending", "failed"]).toContain(finalOf(id)?.outcome);

    // No payment is charged twice: at most one live (not failed) transaction per payment across the books.
    const paymentOfAttempt = new Map<string, string>();
    for (const [paymentId, rs] of results) for (const r of rs) paymentOfAttempt.set(r.attemptId, paymentId);
    const charges = new Map<string, number>();
    for (const channel of CHANNELS) {
      const res = await fetch(`${sim.url}/sim/book/${channel}?limit=1000`);
      expect(res.status).toBe(200);
      const { entries } = (await res.json()) as { entries: { ref: string; status: string }[] };
      for (const e of entries) {
        const paymentId = paymentOfAttempt.get(e.ref);
        if (paymentId === undefined || e.status === "failed") continue;
        charges.set(paymentId, (charges.get(paymentId) ?? 0) + 1);
      }
    }
    // They were waited out, not lucky: payments waited and were routed after the outage.
    const metrics = await (await fetch(`${router.url}/metrics`)).text();
    expect(metrics).toMatch(/router_decisions_total\{[^}]*result="routed_after_wait"[^}]*\} [1-9]/);

    const twice = [...charges].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    // Every payment that succeeded has its charge in a book.
    for (const id of all) if (finalOf(id)?.outcome === "succeeded") expect(charges.get(id)).toBe(1);
  }, 60_000);
});
