import { eq, inArray, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notifications, notifyInbox } from "@pps/db/schema";
import { createLogger } from "@pps/logger";
import { createKafka, EventConsumer, TOPICS } from "@pps/messaging";
import {
  type AppProcess,
  createTestMerchant,
  startApp,
  TEST_ADMIN_TOKEN,
  TEST_KAFKA_BROKERS,
  type TestMerchant,
} from "@pps/test-support";
import { isolatedPlatform, paymentEvent, type Platform, Receiver, sleep, until } from "./notifier-test-kit.ts";

/**
 * One notification per event, ever: the consumer group rewound to the start of the topic after the inbox
 * forgot the events (pruned past its retention) must not notify anyone again. And the backlog metrics, read
 * from a real process's /metrics.
 */
let p: Platform;
let rx: Receiver;
let api: AppProcess;
let notifier: AppProcess;
let shop: TestMerchant;

const notifierEnv = () => ({
  ...p.env,
  PAYMENT_API_URL: api.url,
  NOTIFY_ALLOWED_HOSTS: "127.0.0.1",
  NOTIFY_SCHEDULE_SECONDS: "0,1,2",
  NOTIFY_TIMEOUT_MS: "5000",
  NOTIFY_POLL_MS: "50",
});

const metricsText = async () => (await fetch(`${notifier.url}/metrics`)).text();
const sample = (text: string, name: string, labels: Record<string, string> = {}) =>
  text
    .split("\n")
    .filter(
      (l) =>
        (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) &&
        Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    )
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);

beforeAll(async () => {
  p = await isolatedPlatform("ntfr");
  rx = await Receiver.start();
  api = await startApp("payment-api", { ...p.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  notifier = await startApp("notifier", notifierEnv());
  shop = await createTestMerchant(api.url);
});

afterAll(async () => {
  await notifier?.stop();
  await api?.stop();
  await rx?.close();
  await p?.close();
});

describe("a rewound consumer group", () => {
  it("past the inbox's retention does not notify again: the notifications' unique event id holds", async () => {
    rx.on("/rewind", () => ({ status: 200 }));
    const events = Array.from({ length: 5 }, () =>
      paymentEvent("payment.succeeded", shop.merchantId, rx.url("/rewind")),
    );
    await p.publish(...events);
    await until(() => events.every((e) => rx.forEvent(e.id).length === 1), "every event notified once", 30_000);

    // Stop the notifier (its consumer commits and leaves the group), forget the inbox, rewind the group.
    expect((await notifier.stop()).code).toBe(0);
    await p.db.delete(notifyInbox);
    const kafka = createKafka({
      brokers: TEST_KAFKA_BROKERS.split(","),
      clientId: "ntfr-admin",
      logger: createLogger({ service: "ntfr-test", level: "silent" }),
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.resetOffsets({
        groupId: EventConsumer.groupIdFor("notifier", p.topicPrefix),
        topic: `${p.topicPrefix}${TOPICS.paymentEvents.name}`,
        earliest: true,
      });
    } finally {
      await admin.disconnect();
    }

    notifier = await startApp("notifier", notifierEnv());
    // The restarted consumer read every event again: the inbox holds their claims anew...
    await until(
      async () =>
        (
          await p.db
            .select({ n: sql<number>`count(*)::int` })
            .from(notifyInbox)
            .where(
              inArray(
                notifyInbox.messageId,
                events.map((e) => e.id),
              ),
            )
        )[0]!.n === events.length,
      "the events consumed again",
      40_000,
    );
    expect(sample(await metricsText(), "notifier_consumed_messages_total")).toBeGreaterThanOrEqual(events.length);
    await sleep(1_000);
    // ...but no event got a second notification, and the merchant heard of each once.
    for (const e of events) expect(rx.forEvent(e.id)).toHaveLength(1);
    const rows = await p.db
      .select({ n: sql<number>`count(*)::int` })
      .from(notifications)
      .where(eq(notifications.merchantId, shop.merchantId));
    expect(rows[0]!.n).toBe(events.length);
    expect(sample(await metricsText(), "notifications_created_total")).toBe(0);
  });
});

describe("metrics", () => {
  it("expose the backlog per merchant, the age of the oldest due notification and the adaptive window", async () => {
    let hanging = true;
    rx.on("/stuck", () => (hanging ? "hang" : { status: 200 }));
    const stuck = await createTestMerchant(api.url);
    const events = Array.from({ length: 6 }, () =>
      paymentEvent("payment.succeeded", stuck.merchantId, rx.url("/stuck")),
    );
    await p.publish(...events);
    await until(() => rx.requests.some((r) => r.path === "/stuck"), "the stuck endpoint called", 20_000);
    await until(
      async () =>
        sample(await metricsText(), "notification_backlog", { merchant_id: stuck.merchantId, state: "open" }) === 6,
      "the backlog gauge",
      10_000,
    );
    const text = await metricsText();
    // The ones not yet sent are due now: the alert gauge counts their wait.
    expect(sample(text, "notification_backlog", { merchant_id: stuck.merchantId, state: "due" })).toBeGreaterThan(0);
    expect(text).toMatch(/^notification_oldest_due_age_seconds(\{[^}]*\})? \d/m);
    expect(
      sample(text, "notification_merchant_oldest_due_age_seconds", { merchant_id: stuck.merchantId }),
    ).toBeGreaterThan(0);
    hanging = false;
    await until(
      async () => sample(await metricsText(), "notification_backlog", { merchant_id: stuck.merchantId }) === 0,
      "the backlog drained",
      30_000,
    );
    const after = await metricsText();
    expect(sample(after, "notification_oldest_due_age_seconds")).toBe(0);
    // The timeouts shrank its window; it is at least the floor.
    expect(sample(after, "notification_concurrency_limit", { merchant_id: stuck.merchantId })).toBeGreaterThanOrEqual(
      1,
    );
  });
});
