import { eq, sql } from "drizzle-orm";
import { Registry } from "prom-client";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDb, closeDb, type Database } from "@pps/db";
import { notifications, notifyMerchantLanes } from "@pps/db/schema";
import { newId } from "@pps/domain";
import { createLogger } from "@pps/logger";
import { DEV_PLATFORM_PRIVATE_KEY } from "@pps/signing";
import { isolatedDatabase } from "@pps/test-support";
import { AllowList, DestinationGuard } from "./destination-guard.ts";
import { Dispatcher } from "./dispatcher.ts";
import type { MerchantSigningClient } from "./merchant-signing.ts";
import { paymentNotificationBody } from "./notification-body.ts";
import { type NewNotification, NotificationStore } from "./notification-store.ts";
import { createNotifierMetrics, type NotifierMetrics } from "./notifier-metrics.ts";
import { paymentEvent, Receiver, sleep, until } from "./notifier-test-kit.ts";

/**
 * Dispatchers in process against real Postgres and a real HTTP receiver whose latency and answers each test
 * scripts: the adaptive window, Retry-After, two dispatchers sharing one merchant's ceiling, and per-payment
 * ordering. No Kafka: notifications are created through the store, as the consumer would.
 */
const DEFAULT_CEILING = 64;
const logger = createLogger({ service: "ntfd-test", level: "silent" });
// A key for every merchant: signing is not what these tests look at.
const signing = {
  get: async (merchantId: string) => ({
    ok: true as const,
    signing: { merchantId, status: "active", scheme: "HMAC_SHA256" as const, secretKey: "k".repeat(32) },
  }),
} as unknown as MerchantSigningClient;

let d: Awaited<ReturnType<typeof isolatedDatabase>>;
let secondPool: Database;
let rx: Receiver;
const running: Dispatcher[] = [];

const storeOn = (db: Database, schedule = [0, 1, 2]) =>
  new NotificationStore(db, { schedule, merchantConcurrency: DEFAULT_CEILING, jitterRatio: 0, leaseMs: 30_000 });

function startDispatcher(
  store: NotificationStore,
  opts: { workers?: number; initial?: number; timeoutMs?: number } = {},
): { dispatcher: Dispatcher; metrics: NotifierMetrics } {
  const metrics = createNotifierMetrics(new Registry());
  const dispatcher = new Dispatcher({
    store,
    signing,
    guard: new DestinationGuard(AllowList.parse("127.0.0.1")),
    platformPrivateKey: DEV_PLATFORM_PRIVATE_KEY,
    workers: opts.workers ?? 64,
    concurrency: { floor: 1, initial: opts.initial ?? 2 },
    timeoutMs: opts.timeoutMs ?? 2_000,
    maxResponseBytes: 1024,
    pollMs: 20,
    metrics,
    logger,
  });
  dispatcher.start();
  running.push(dispatcher);
  return { dispatcher, metrics };
}

function notificationsFor(
  merchantId: string,
  path: string,
  count: number,
  over: (i: number) => { paymentId?: string; version?: number } = () => ({}),
): NewNotification[] {
  return Array.from({ length: count }, (_, i) => {
    const { paymentId = newId("pay"), version = 4 } = over(i);
    const e = paymentEvent("payment.succeeded", merchantId, rx.url(path), { paymentId, version });
    return {
      eventId: e.id,
      eventType: e.type,
      merchantId,
      paymentId,
      objectVersion: version,
      url: rx.url(path),
      body: paymentNotificationBody(e),
      occurredAt: e.occurredAt,
    };
  });
}

const statusesOf = async (merchantId: string) =>
  (
    await d.db
      .select({ status: notifications.status })
      .from(notifications)
      .where(eq(notifications.merchantId, merchantId))
  ).map((r) => r.status);
const allDelivered = async (merchantId: string, count: number) => {
  const s = await statusesOf(merchantId);
  return s.length === count && s.every((x) => x === "delivered");
};
const deliveredBy = async (metrics: NotifierMetrics) =>
  (await metrics.deliveries.get()).values
    .filter((v) => v.labels.outcome === "delivered")
    .reduce((a, v) => a + v.value, 0);
const merchant = () => `m_${newId("x").slice(-12).toLowerCase()}`;

beforeAll(async () => {
  d = await isolatedDatabase("ntfd");
  secondPool = createDb({ url: d.databaseUrl, max: 4, applicationName: "ntfd-test-2" });
  rx = await Receiver.start();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((x) => x.stop()));
});

beforeEach(async () => {
  await d.db.delete(notifications);
  await d.db.delete(notifyMerchantLanes);
});

afterAll(async () => {
  await rx?.close();
  await closeDb(secondPool).catch(() => undefined);
  await d?.close();
});

describe("adaptive concurrency per destination", () => {
  it("grows while the endpoint is fast and successful, and shrinks on 5xx", async () => {
    const store = storeOn(d.db, [0, 60]);
    const m = merchant();
    let failing = false;
    rx.on("/adapt", () => (failing ? { status: 503, delayMs: 5 } : { status: 200, delayMs: 20 }));
    await store.createMany(notificationsFor(m, "/adapt", 400));
    const { dispatcher } = startDispatcher(store, { initial: 2 });
    await until(() => allDelivered(m, 400), "400 delivered", 30_000);
    // Started at 2 in flight; a fast endpoint earned many more (up to the 32 a merchant may hold of 64 workers).
    expect(rx.maxOpen.get("/adapt")).toBeGreaterThanOrEqual(8);
    const grown = dispatcher.windowOf(m)!;
    expect(grown).toBeGreaterThanOrEqual(8);

    failing = true;
    await store.createMany(notificationsFor(m, "/adapt", 40));
    const failed = async () =>
      (
        await d.db
          .select({ n: sql<number>`count(*)::int` })
          .from(notifications)
          .where(sql`${notifications.merchantId} = ${m} and ${notifications.lastStatusCode} = 503`)
      )[0]!.n;
    await until(async () => (await failed()) === 40, "40 failed attempts recorded", 20_000);
    expect(dispatcher.windowOf(m)!).toBeLessThanOrEqual(Math.max(1, Math.floor(grown / 4)));
  });

  it("a hanging endpoint shrinks to the floor and holds only that; another merchant is not delayed", async () => {
    const store = storeOn(d.db, [0, 60]);
    const hanger = merchant();
    const other = merchant();
    rx.on("/hang-adapt", () => "hang");
    rx.on("/other", () => ({ status: 200 }));
    await store.createMany(notificationsFor(hanger, "/hang-adapt", 60));
    const { dispatcher } = startDispatcher(store, { initial: 8, timeoutMs: 300, workers: 32 });
    await until(() => rx.openOn("/hang-adapt") >= 8, "the hanging endpoint busy", 5_000);
    // The other merchant's notification goes out at once, while the hanger holds its workers.
    const [n] = notificationsFor(other, "/other", 1);
    const created = Date.now();
    await store.createMany([n!]);
    dispatcher.wake();
    await until(() => rx.forEvent(n!.eventId).length === 1, "the other merchant served", 2_000);
    expect(rx.forEvent(n!.eventId)[0]!.at - created).toBeLessThan(250);
    // Timeouts halve the window (once per burst): 8, 4, 2, 1.
    await until(() => dispatcher.windowOf(hanger) === 1, "the window at the floor", 10_000);
    await sleep(700);
    expect(rx.openOn("/hang-adapt")).toBeLessThanOrEqual(1);
    expect(rx.maxOpen.get("/hang-adapt")).toBe(8);
  });

  it("honours Retry-After: no replica sends to the merchant before it, and the notification waits for it", async () => {
    const store = storeOn(d.db, [0, 1, 2]);
    const m = merchant();
    let throttledAt = 0;
    rx.on("/throttle", (_n, req) => {
      if (throttledAt === 0) {
        throttledAt = req.at;
        return { status: 429, headers: { "retry-after": "2" } };
      }
      return { status: 200 };
    });
    const batch = notificationsFor(m, "/throttle", 10);
    await store.createMany(batch);
    startDispatcher(store, { initial: 1 });
    await until(() => allDelivered(m, 10), "all delivered after the pause", 15_000);
    const arrivals = rx.requests.filter((r) => r.path === "/throttle");
    expect(arrivals).toHaveLength(11);
    // Every request after the 429 came at least its 2 s later (the throttled one included).
    for (const r of arrivals.filter((r) => r.status !== 429)) expect(r.at - throttledAt).toBeGreaterThanOrEqual(1_900);
    const [lane] = await d.db.select().from(notifyMerchantLanes).where(eq(notifyMerchantLanes.merchantId, m));
    expect(lane!.pausedUntil!.getTime()).toBeGreaterThanOrEqual(throttledAt + 1_900);
  });
});

describe("two dispatchers (replicas) on one database", () => {
  it("share a merchant's ceiling: never more in flight than it, never one notification twice at once", async () => {
    const m = merchant();
    const a = storeOn(d.db);
    const b = storeOn(secondPool);
    await a.putSettings(m, { scheduleSeconds: null, maxConcurrency: 6 });
    rx.on("/shared", () => ({ status: 200, delayMs: 15 }));
    const batch = notificationsFor(m, "/shared", 300);
    await a.createMany(batch);
    const first = startDispatcher(a, { initial: 4, workers: 32 });
    const second = startDispatcher(b, { initial: 4, workers: 32 });
    await until(() => allDelivered(m, 300), "300 delivered", 40_000);
    expect(rx.maxOpen.get("/shared")).toBeLessThanOrEqual(6);
    expect(rx.maxOpen.get("/shared")).toBeGreaterThanOrEqual(4);
    expect(rx.maxOpenPerEvent).toBe(1);
    // Every 2xx was recorded, so none was sent twice at all.
    for (const n of batch) expect(rx.forEvent(n.eventId)).toHaveLength(1);
    const [byA, byB] = [await deliveredBy(first.metrics), await deliveredBy(second.metrics)];
    expect(byA + byB).toBe(300);
    expect(Math.min(byA, byB)).toBeGreaterThan(0);
  });
});

describe("ordering", () => {
  it("with ordered_delivery, a payment's notifications go one at a time in version order, a failed one holding the rest", async () => {
    const store = storeOn(d.db, [0, 1, 2]);
    const m = merchant();
    await store.putSettings(m, { scheduleSeconds: null, maxConcurrency: 16, orderedDelivery: true });
    const versionOf = (body: string) =>
      (JSON.parse(body) as { data: { object: { version: number } } }).data.object.version;
    const paymentOf = (body: string) => (JSON.parse(body) as { data: { object: { id: string } } }).data.object.id;
    // Version 3's first attempt fails: 4, 5 and 6 must wait for its retry a second later.
    rx.on("/ordered", (n, req) =>
      versionOf(req.body) === 3 && n === 1 ? { status: 503 } : { status: 200, delayMs: Math.floor(Math.random() * 15) },
    );
    const payments = Array.from({ length: 8 }, () => newId("pay"));
    const batch = payments.flatMap((paymentId) =>
      notificationsFor(m, "/ordered", 5, (i) => ({ paymentId, version: i + 2 })),
    );
    // Created in shuffled order: the version decides, not the insertion.
    await store.createMany(batch.sort(() => Math.random() - 0.5));
    startDispatcher(store, { initial: 16 });
    await until(() => allDelivered(m, 40), "40 delivered", 20_000);
    for (const paymentId of payments) {
      const got = rx.requests.filter((r) => r.path === "/ordered" && paymentOf(r.body) === paymentId);
      expect(got.map((r) => `${versionOf(r.body)}:${r.status}`)).toEqual([
        "2:200",
        "3:503",
        "3:200",
        "4:200",
        "5:200",
        "6:200",
      ]);
    }
    // Different payments still went in parallel.
    expect(rx.maxOpen.get("/ordered")).toBeGreaterThan(1);
  });

  it("without it, a payment's notifications go at once, in any order", async () => {
    const store = storeOn(d.db, [0, 1, 2]);
    const m = merchant();
    rx.on("/unordered", () => ({ status: 200, delayMs: 50 }));
    const paymentId = newId("pay");
    await store.createMany(notificationsFor(m, "/unordered", 4, (i) => ({ paymentId, version: i + 2 })));
    startDispatcher(store, { initial: 4 });
    await until(() => allDelivered(m, 4), "4 delivered", 10_000);
    expect(rx.maxOpen.get("/unordered")).toBe(4);
  });
});

describe("backlog for metrics", () => {
  it("counts open and due notifications per merchant and the age of the oldest due one", async () => {
    const store = storeOn(d.db);
    const m = merchant();
    await store.createMany(notificationsFor(m, "/never", 3));
    await d.db
      .update(notifications)
      .set({ nextAttemptAt: sql`now() - interval '90 seconds'` })
      .where(eq(notifications.merchantId, m));
    const later = merchant();
    await store.createMany(notificationsFor(later, "/never", 2));
    await d.db
      .update(notifications)
      .set({ nextAttemptAt: sql`now() + interval '1 hour'` })
      .where(eq(notifications.merchantId, later));
    const b = await store.backlog();
    expect(b.oldestDueSeconds).toBeGreaterThanOrEqual(89);
    expect(b.merchants).toEqual([
      { merchantId: m, open: 3, due: 3, oldestDueSeconds: expect.any(Number) },
      { merchantId: later, open: 2, due: 0, oldestDueSeconds: 0 },
    ]);
  });
});
