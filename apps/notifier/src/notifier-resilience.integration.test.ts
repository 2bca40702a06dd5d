import { randomUUID } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notifications } from "@pps/db/schema";
import { newId } from "@pps/domain";
import { type AppProcess, createTestMerchant, startApp, TEST_ADMIN_TOKEN, type TestMerchant } from "@pps/test-support";
import {
  attemptsOf,
  isolatedPlatform,
  notificationByEvent,
  paymentEvent,
  type Platform,
  Receiver,
  sleep,
  until,
  verifyReceived,
} from "./notifier-test-kit.ts";

/**
 * Crashes, a hanging merchant and forbidden destinations, against real processes. A small pool (4 workers, 2
 * per merchant) and a 2 s attempt timeout make starvation visible: if one merchant's hanging endpoint could
 * take every worker, another merchant's notification would wait for a timeout (2 s).
 */
const TIMEOUT_MS = 2_000;
const notifierEnv = (p: Platform, apiUrl: string) => ({
  ...p.env,
  PAYMENT_API_URL: apiUrl,
  NOTIFY_SCHEDULE_SECONDS: "0,1,2,3",
  NOTIFY_TIMEOUT_MS: String(TIMEOUT_MS),
  NOTIFY_WORKERS: "4",
  NOTIFY_MERCHANT_CONCURRENCY: "2",
  NOTIFY_POLL_MS: "50",
});

let p: Platform;
let api: AppProcess;
let notifier: AppProcess;
let rx: Receiver;
let shop: TestMerchant;

beforeAll(async () => {
  p = await isolatedPlatform("ntfb");
  rx = await Receiver.start();
  api = await startApp("payment-api", { ...p.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  notifier = await startApp("notifier", { ...notifierEnv(p, api.url), NOTIFY_ALLOWED_HOSTS: "127.0.0.1" });
  shop = await createTestMerchant(api.url, { scheme: "MD5" });
});

afterAll(async () => {
  await Promise.all([notifier?.stop(), api?.stop()]);
  await rx?.close();
  await p?.close();
});

const statusesOf = async (eventIds: string[]) =>
  (
    await p.db
      .select({ status: notifications.status })
      .from(notifications)
      .where(inArray(notifications.eventId, eventIds))
  ).map((r) => r.status);

describe("isolation between merchants", () => {
  it("a merchant whose endpoint hangs holds at most its in-flight limit; another merchant's notifications go out at once", async () => {
    const hanger = await createTestMerchant(api.url);
    let hanging = true;
    rx.on("/hang", () => (hanging ? "hang" : { status: 200 }));
    rx.on("/fast", () => ({ status: 200 }));
    const stuck = Array.from({ length: 20 }, () =>
      paymentEvent("payment.succeeded", hanger.merchantId, rx.url("/hang")),
    );
    await p.publish(...stuck);
    await until(() => rx.requests.filter((r) => r.path === "/hang").length >= 2, "the hanging endpoint busy");

    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const e = paymentEvent("payment.succeeded", shop.merchantId, rx.url("/fast"));
      const published = Date.now();
      await p.publish(e);
      await until(() => rx.forEvent(e.id).length === 1, "the other merchant's notification", 5_000);
      delays.push(rx.forEvent(e.id)[0]!.at - published);
      expect(verifyReceived(shop, rx.forEvent(e.id)[0]!)).toEqual({ ok: true });
      await sleep(400);
    }
    // Most of the hanging merchant's notifications were still waiting while the other merchant was served.
    const waiting = (await statusesOf(stuck.map((e) => e.id))).filter(
      (s) => s === "pending" || s === "delivering",
    ).length;
    expect(waiting).toBeGreaterThanOrEqual(15);
    // Kafka to notification to HTTP in well under the 2 s a starved worker pool would cost.
    expect(Math.max(...delays), `delays ${delays.join(", ")} ms`).toBeLessThan(1_000);
    expect(rx.maxOpen.get("/hang")).toBe(2);

    // The endpoint recovers: the backlog drains on its schedule.
    hanging = false;
    await until(
      async () => (await statusesOf(stuck.map((e) => e.id))).every((s) => s === "delivered"),
      "the backlog delivered",
      20_000,
    );
  });
});

describe("crashes", () => {
  it("a claim whose lease expired (its dispatcher died) is taken over; one whose lease is live is left alone", async () => {
    rx.on("/leased", () => ({ status: 200 }));
    const insert = async (leaseSeconds: number) => {
      const eventId = randomUUID();
      await p.db.insert(notifications).values({
        id: newId("ntf"),
        merchantId: shop.merchantId,
        paymentId: newId("pay"),
        eventId,
        eventType: "payment.succeeded",
        objectVersion: 1,
        url: rx.url("/leased"),
        body: JSON.stringify({ id: eventId, type: "payment.succeeded" }),
        status: "delivering",
        nextAttemptAt: sql`now() - interval '5 seconds'`,
        leaseUntil: sql`now() + make_interval(secs => ${leaseSeconds})`,
        leaseToken: randomUUID(),
        eventOccurredAt: new Date(),
      });
      return eventId;
    };
    const expired = await insert(-1);
    const live = await insert(2);
    const inserted = Date.now();
    await until(() => rx.forEvent(expired).length === 1, "the expired claim delivered", 3_000);
    expect(rx.forEvent(live)).toHaveLength(0);
    await until(() => rx.forEvent(live).length === 1, "the live claim delivered after its lease", 5_000);
    expect(rx.forEvent(live)[0]!.at - inserted).toBeGreaterThanOrEqual(1_900);
    expect(verifyReceived(shop, rx.forEvent(expired)[0]!)).toEqual({ ok: true });
  });

  it("SIGKILL mid-schedule loses no notification, and none is sent again after its 2xx was recorded", async () => {
    rx.on("/flaky", (n) => (n <= 2 ? { status: 503 } : { status: 200 }));
    const m = await createTestMerchant(api.url);
    const before = Array.from({ length: 6 }, () => paymentEvent("payment.succeeded", m.merchantId, rx.url("/flaky")));
    await p.publish(...before);
    // Attempts at 0 s and 1 s failed; the third (at 2 s) would succeed. Kill the notifier in between.
    await until(() => before.every((e) => rx.forEvent(e.id).length >= 2), "two attempts each", 5_000);
    notifier.child.kill("SIGKILL");
    await notifier.exited;

    // Events published while no notifier runs, and schedule time passing: all of it must catch up.
    const during = Array.from({ length: 3 }, () => paymentEvent("payment.failed", m.merchantId, rx.url("/flaky")));
    await p.publish(...during);
    await sleep(1_500);
    notifier = await startApp("notifier", { ...notifierEnv(p, api.url), NOTIFY_ALLOWED_HOSTS: "127.0.0.1" });

    const all = [...before, ...during];
    // The killed member keeps its partitions until its Kafka session (15 s) expires, so the events published
    // meanwhile are consumed after that; the notifications already in Postgres go on at once.
    await until(
      async () => {
        const s = await statusesOf(all.map((e) => e.id));
        return s.length === all.length && s.every((x) => x === "delivered");
      },
      "every notification delivered after the restart",
      40_000,
    );
    await sleep(3_500); // past the rest of every schedule
    for (const e of all) {
      const row = (await notificationByEvent(p.db, e.id))!;
      const got = rx.forEvent(e.id);
      expect(got.map((r) => r.status)).toEqual([503, 503, 200]);
      // Nothing arrived after the delivery was recorded.
      for (const r of got) expect(r.at).toBeLessThanOrEqual(row.deliveredAt!.getTime() + 1);
      // An attempt in flight when the notifier was killed reached the receiver but was never recorded; its
      // lease then expired and the next attempt went out. So at most one attempt per notification is missing.
      const outcomes = (await attemptsOf(p.db, row.id)).map((a) => a.outcome);
      expect(outcomes.at(-1)).toBe("delivered");
      expect(outcomes.filter((o) => o === "delivered")).toHaveLength(1);
      expect(outcomes.length).toBeGreaterThanOrEqual(got.length - 1);
    }
    const rows = await p.db
      .select({ n: sql<number>`count(*)::int` })
      .from(notifications)
      .where(and(eq(notifications.merchantId, m.merchantId)));
    expect(rows[0]!.n).toBe(all.length);
  });
});

describe("destinations", () => {
  it("refuses private and loopback destinations without an allow-list: no request, dead at once with destination_not_allowed", async () => {
    // A second notifier without NOTIFY_ALLOWED_HOSTS replaces the first (same database and consumer group).
    await notifier.stop();
    notifier = await startApp("notifier", notifierEnv(p, api.url));
    rx.on("/private", () => ({ status: 200 }));
    const privateIp = paymentEvent("payment.succeeded", shop.merchantId, "http://10.0.0.1/notify");
    const loopbackName = paymentEvent("payment.succeeded", shop.merchantId, `http://localhost:${rx.port}/private`);
    const metadata = paymentEvent("payment.succeeded", shop.merchantId, "http://169.254.169.254/latest/meta-data");
    const events = [privateIp, loopbackName, metadata];
    await p.publish(...events);
    await until(() => events.every((e) => p.deadLetters.some((d) => d.eventId === e.id)), "dead-letter events", 20_000);

    for (const e of events) {
      const row = (await notificationByEvent(p.db, e.id))!;
      expect(row).toMatchObject({
        status: "dead",
        attempts: 1,
        lastError: "destination_not_allowed",
        lastStatusCode: null,
      });
      const [attempt, ...more] = await attemptsOf(p.db, row.id);
      expect(more).toEqual([]);
      expect(attempt).toMatchObject({ outcome: "refused", error: "destination_not_allowed", statusCode: null });
      expect(p.deadLetters.find((d) => d.eventId === e.id)).toMatchObject({
        notificationId: row.id,
        lastError: "destination_not_allowed",
        attempts: 1,
      });
    }
    expect((await attemptsOf(p.db, (await notificationByEvent(p.db, privateIp.id))!.id))[0]!.errorDetail).toBe(
      "10.0.0.1 is a private address",
    );
    expect((await attemptsOf(p.db, (await notificationByEvent(p.db, loopbackName.id))!.id))[0]!.errorDetail).toMatch(
      /^localhost resolves to (127\.0\.0\.1|::1), a loopback address$/,
    );
    expect((await attemptsOf(p.db, (await notificationByEvent(p.db, metadata.id))!.id))[0]!.errorDetail).toBe(
      "169.254.169.254 is a link-local address",
    );
    await sleep(500);
    expect(rx.requests.filter((r) => r.path === "/private")).toHaveLength(0);
  });
});
