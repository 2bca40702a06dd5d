import { randomUUID } from "node:crypto";
import { eq, inArray, sql } from "drizzle-orm";
import type { PgInsertValue } from "drizzle-orm/pg-core";
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deliveryAttempts, notifications, notifyInbox, notifyOutbox } from "@pps/db/schema";
import { newId } from "@pps/domain";
import { createLogger } from "@pps/logger";
import { type Envelope, eventRegistry, notificationEvents, type PaymentSnapshot } from "@pps/messaging";
import type { DeliveryResult } from "./http-delivery.ts";
import { paymentNotificationBody } from "./notification-body.ts";
import {
  type AttemptToRecord,
  type ClaimedNotification,
  NotificationStore,
  PAYMENT_EVENTS_CONSUMER,
} from "./notification-store.ts";
import { createNotifierMetrics } from "./notifier-metrics.ts";
import { isolatedDatabase } from "@pps/test-support";
import { paymentEvent } from "./notifier-test-kit.ts";
import { createPaymentEventsBatchHandler, createPaymentEventsHandler } from "./payment-events-consumer.ts";

/**
 * The store's set-based paths against Postgres, without processes: a chunk of events becoming notifications
 * in one statement, one claim statement, and a batch of attempts recorded in one statement.
 */
const SCHEDULE = [0, 1, 2];
const JITTER = 0.1;
const LEASE_MS = 30_000;

let d: Awaited<ReturnType<typeof isolatedDatabase>>;
let store: NotificationStore;

beforeAll(async () => {
  d = await isolatedDatabase("ntfs");
  store = new NotificationStore(d.db, {
    schedule: SCHEDULE,
    merchantConcurrency: 3,
    jitterRatio: JITTER,
    leaseMs: LEASE_MS,
  });
});

afterAll(async () => {
  await d?.close();
});

const merchant = () => `m_${randomUUID().slice(0, 12)}`;
const seconds = (from: Date, to: Date) => (to.getTime() - from.getTime()) / 1000;
const rowsOf = (eventIds: string[]) =>
  d.db.select().from(notifications).where(inArray(notifications.eventId, eventIds));

function handlers() {
  const metrics = createNotifierMetrics(new Registry());
  let wakes = 0;
  const deps = {
    store,
    onCreated: () => void wakes++,
    metrics,
    logger: createLogger({ service: "ntfs-test", level: "silent" }),
  };
  const created = async () =>
    Object.fromEntries((await metrics.created.get()).values.map((v) => [v.labels.event_type, v.value]));
  return {
    handler: createPaymentEventsHandler(deps),
    batch: createPaymentEventsBatchHandler(deps),
    created,
    wakes: () => wakes,
  };
}

const item = (envelope: Envelope<PaymentSnapshot>, offset: number) => ({
  envelope,
  ctx: { topic: "payment-events", partition: 0, offset: String(offset) },
});

describe("creating notifications from a chunk of events", () => {
  it("creates each event's notification once: a duplicate in the chunk and a redelivered event get none; metrics and wake-ups count created rows", async () => {
    const h = handlers();
    const slow = merchant();
    await store.putSettings(slow, { scheduleSeconds: [30, 60], maxConcurrency: null });
    const other = merchant();
    const earlier = paymentEvent("payment.succeeded", other, "https://shop.example/n");
    await h.handler(earlier, item(earlier, 0).ctx);
    const [earlierRow] = await rowsOf([earlier.id]);

    const a = paymentEvent("payment.succeeded", slow, "https://slow.example/n");
    const b = paymentEvent("payment.failed", other, "https://shop.example/n");
    await h.batch([item(a, 1), item(b, 2), item(a, 3), item(earlier, 4)]);

    expect(await h.created()).toEqual({ "payment.succeeded": 2, "payment.failed": 1 });
    expect(h.wakes()).toBe(3);
    const rows = await rowsOf([a.id, b.id, earlier.id]);
    expect(rows).toHaveLength(3);
    expect(rows.find((r) => r.eventId === earlier.id)).toEqual(earlierRow);
    const rowA = rows.find((r) => r.eventId === a.id)!;
    expect(rowA).toMatchObject({
      merchantId: slow,
      paymentId: a.payload.paymentId,
      eventType: "payment.succeeded",
      objectVersion: 4,
      url: "https://slow.example/n",
      body: paymentNotificationBody(a),
      status: "pending",
      attempts: 0,
      series: 1,
      seriesAttempts: 0,
      eventOccurredAt: new Date(a.occurredAt),
    });
    // The merchant's own schedule starts at 30 s (± 10 % jitter); the default one at once.
    expect(seconds(rowA.createdAt, rowA.nextAttemptAt)).toBeGreaterThanOrEqual(27);
    expect(seconds(rowA.createdAt, rowA.nextAttemptAt)).toBeLessThanOrEqual(33);
    const rowB = rows.find((r) => r.eventId === b.id)!;
    expect(rowB.nextAttemptAt).toEqual(rowB.createdAt);
    const inbox = await d.db
      .select()
      .from(notifyInbox)
      .where(inArray(notifyInbox.messageId, [a.id, b.id, earlier.id]));
    expect(inbox.map((r) => r.consumer)).toEqual([
      PAYMENT_EVENTS_CONSUMER,
      PAYMENT_EVENTS_CONSUMER,
      PAYMENT_EVENTS_CONSUMER,
    ]);

    // The whole chunk again (redelivered after a crash), and one event through the per-message fallback.
    await h.batch([item(a, 1), item(b, 2), item(a, 3), item(earlier, 4)]);
    await h.handler(b, item(b, 2).ctx);
    expect(await rowsOf([a.id, b.id, earlier.id])).toEqual(rows);
    expect(await h.created()).toEqual({ "payment.succeeded": 2, "payment.failed": 1 });
    expect(h.wakes()).toBe(3);
  });

  it("an event whose inbox claim was pruned still gets no second notification; the rest of the chunk does", async () => {
    const h = handlers();
    const m = merchant();
    const old = paymentEvent("payment.succeeded", m, "https://shop.example/n");
    const fresh = paymentEvent("payment.expired", m, "https://shop.example/n");
    await h.batch([item(old, 0)]);
    await d.db.delete(notifyInbox).where(eq(notifyInbox.messageId, old.id));

    await h.batch([item(old, 0), item(fresh, 1)]);
    expect(await h.created()).toEqual({ "payment.succeeded": 1, "payment.expired": 1 });
    expect((await rowsOf([old.id, fresh.id])).map((r) => r.eventId).sort()).toEqual([old.id, fresh.id].sort());
  });
});

/** A notification due now (or as `over` says), inserted directly. */
async function insertDue(merchantId: string, over: Partial<PgInsertValue<typeof notifications>> = {}) {
  const eventId = randomUUID();
  const id = newId("ntf");
  await d.db.insert(notifications).values({
    id,
    merchantId,
    paymentId: newId("pay"),
    eventId,
    eventType: "payment.succeeded",
    objectVersion: 2,
    url: `https://${merchantId}.example/notify`,
    body: JSON.stringify({ id: eventId }),
    status: "pending",
    nextAttemptAt: sql`now() - interval '1 second'`,
    eventOccurredAt: new Date(),
    ...over,
  });
  return id;
}

const rowById = async (id: string) => (await d.db.select().from(notifications).where(eq(notifications.id, id)))[0]!;
const attemptsOf = (id: string) =>
  d.db
    .select()
    .from(deliveryAttempts)
    .where(eq(deliveryAttempts.notificationId, id))
    .orderBy(deliveryAttempts.attemptNo);

const delivered: DeliveryResult = {
  outcome: "delivered",
  statusCode: 200,
  latencyMs: 12,
  responseBody: "ok",
  error: null,
  errorDetail: null,
};
const unavailable: DeliveryResult = {
  outcome: "failed",
  statusCode: 503,
  latencyMs: 30,
  responseBody: "maintenance",
  error: "unexpected_status",
  errorDetail: "HTTP 503",
};
const refused: DeliveryResult = {
  outcome: "refused",
  statusCode: null,
  latencyMs: 0,
  responseBody: null,
  error: "destination_not_allowed",
  errorDetail: "10.0.0.1 is a private address",
};

describe("claiming and recording in batches", () => {
  beforeEach(async () => {
    await d.db.delete(notifications);
    await d.db.delete(notifyOutbox);
  });

  it("claims due rows in one statement within each merchant's in-flight limit, oldest first, as full rows", async () => {
    const limited = merchant();
    await store.putSettings(limited, { scheduleSeconds: null, maxConcurrency: 2 });
    const oldest = await insertDue(limited, { nextAttemptAt: sql`now() - interval '10 seconds'` });
    const second = await insertDue(limited, { nextAttemptAt: sql`now() - interval '5 seconds'` });
    await insertDue(limited);
    await insertDue(limited);
    const other = merchant();
    const due = await insertDue(other);
    await insertDue(other, { nextAttemptAt: sql`now() + interval '1 hour'` });
    const busy = await insertDue(other, {
      status: "delivering",
      leaseUntil: sql`now() + interval '1 minute'`,
      leaseToken: randomUUID(),
    });

    const claimed = await store.claim(10);
    expect(claimed.map((c) => c.id).sort()).toEqual([oldest, second, due].sort());
    for (const c of claimed) {
      expect(c).toEqual({
        ...(await rowById(c.id)),
        leaseToken: expect.any(String),
        merchantCeiling: expect.any(Number),
      });
      expect(c).toMatchObject({ status: "delivering", leaseToken: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      expect(seconds(c.updatedAt, c.leaseUntil!)).toBeCloseTo(LEASE_MS / 1000, 3);
    }
    // Both merchants are at their limits now (the other one's third slot is its live claim).
    expect(await store.claim(10)).toEqual([]);
    expect((await rowById(busy)).status).toBe("delivering");
  });

  it("counts the unrecorded attempt of an expired lease it takes over, so a redelivery shows as the retry it is", async () => {
    const m = merchant();
    const expired = await insertDue(m, {
      status: "delivering",
      attempts: 1,
      leaseUntil: sql`now() - interval '1 second'`,
      leaseToken: randomUUID(),
    });
    const pending = await insertDue(m, { attempts: 1 });
    const claimed = await store.claim(10);
    expect(Object.fromEntries(claimed.map((c) => [c.id, c.attempts]))).toEqual({ [expired]: 2, [pending]: 1 });
    const [outcome] = await store.recordAttempts([
      { claim: claimed.find((c) => c.id === expired)!, result: delivered, startedAt: new Date() },
    ]);
    expect(outcome).toMatchObject({ ok: true, value: { recorded: true, row: { status: "delivered", attempts: 3 } } });
    expect((await attemptsOf(expired)).map((a) => a.attemptNo)).toEqual([3]);
  });

  it("records a round's attempts together: delivered, retried on the merchant's schedule, dead with its dead letter, and nothing for a lost lease", async () => {
    const m = merchant();
    await store.putSettings(m, { scheduleSeconds: [0, 5], maxConcurrency: 10 });
    const ids = {
      delivered: await insertDue(m),
      retried: await insertDue(m),
      exhausted: await insertDue(m, { attempts: 1, seriesAttempts: 1 }),
      refused: await insertDue(m),
      taken: await insertDue(m),
      twice: await insertDue(m),
    };
    const claims = new Map((await store.claim(10)).map((c) => [c.id, c]));
    expect(claims.size).toBe(6);
    const claim = (id: string): ClaimedNotification => claims.get(id)!;
    const startedAt = new Date(Date.now() - 50);
    const attempts: AttemptToRecord[] = [
      { claim: claim(ids.delivered), result: delivered, startedAt },
      { claim: claim(ids.retried), result: unavailable, startedAt },
      { claim: claim(ids.exhausted), result: unavailable, startedAt },
      { claim: claim(ids.refused), result: refused, startedAt },
      // Another dispatcher took this one over: its token is no longer ours.
      { claim: { ...claim(ids.taken), leaseToken: randomUUID() }, result: delivered, startedAt },
      // An earlier claim of this one expired and it was claimed again: only the current claim counts.
      { claim: { ...claim(ids.twice), leaseToken: randomUUID() }, result: unavailable, startedAt },
      { claim: claim(ids.twice), result: delivered, startedAt },
    ];

    const outcomes = await store.recordAttempts(attempts);
    const rows = Object.fromEntries(
      await Promise.all(Object.entries(ids).map(async ([k, id]) => [k, await rowById(id)] as const)),
    );
    expect(outcomes).toEqual([
      { ok: true, value: { recorded: true, row: rows.delivered, deadLettered: false } },
      { ok: true, value: { recorded: true, row: rows.retried, deadLettered: false } },
      { ok: true, value: { recorded: true, row: rows.exhausted, deadLettered: true } },
      { ok: true, value: { recorded: true, row: rows.refused, deadLettered: true } },
      { ok: true, value: { recorded: false } },
      { ok: true, value: { recorded: false } },
      { ok: true, value: { recorded: true, row: rows.twice, deadLettered: false } },
    ]);

    // One statement recorded them all (at one transaction time), not one by one.
    const recordedAt = await d.db
      .selectDistinct({ at: notifications.updatedAt })
      .from(notifications)
      .where(inArray(notifications.id, [ids.delivered, ids.retried, ids.exhausted, ids.refused, ids.twice]));
    expect(recordedAt).toHaveLength(1);
    expect(rows.delivered).toMatchObject({
      status: "delivered",
      attempts: 1,
      seriesAttempts: 1,
      leaseToken: null,
      leaseUntil: null,
      lastError: null,
      lastStatusCode: 200,
    });
    expect(rows.delivered!.deliveredAt).toEqual(rows.delivered!.updatedAt);
    expect(rows.retried).toMatchObject({
      status: "pending",
      attempts: 1,
      seriesAttempts: 1,
      leaseToken: null,
      lastError: "unexpected_status",
      lastStatusCode: 503,
      deliveredAt: null,
    });
    // The merchant's second offset (5 s ± 10 %) from the series' start.
    expect(seconds(rows.retried!.seriesStartedAt, rows.retried!.nextAttemptAt)).toBeGreaterThanOrEqual(4.5);
    expect(seconds(rows.retried!.seriesStartedAt, rows.retried!.nextAttemptAt)).toBeLessThanOrEqual(5.5);
    expect(rows.exhausted).toMatchObject({
      status: "dead",
      attempts: 2,
      seriesAttempts: 2,
      lastError: "unexpected_status",
    });
    expect(rows.refused).toMatchObject({
      status: "dead",
      attempts: 1,
      lastError: "destination_not_allowed",
      lastStatusCode: null,
    });
    expect(rows.taken).toMatchObject({ status: "delivering", attempts: 0, leaseToken: claim(ids.taken).leaseToken });

    const attempt = (n: number, result: DeliveryResult, series = 1) => ({
      attemptNo: n,
      series,
      startedAt,
      outcome: result.outcome,
      statusCode: result.statusCode,
      latencyMs: result.latencyMs,
      responseBody: result.responseBody,
      error: result.error,
      errorDetail: result.errorDetail,
    });
    expect(await attemptsOf(ids.delivered)).toEqual([expect.objectContaining(attempt(1, delivered))]);
    expect(await attemptsOf(ids.retried)).toEqual([expect.objectContaining(attempt(1, unavailable))]);
    expect(await attemptsOf(ids.exhausted)).toEqual([expect.objectContaining(attempt(2, unavailable))]);
    expect(await attemptsOf(ids.refused)).toEqual([expect.objectContaining(attempt(1, refused))]);
    expect(await attemptsOf(ids.taken)).toEqual([]);
    expect(await attemptsOf(ids.twice)).toEqual([expect.objectContaining(attempt(1, delivered))]);
    expect(rows.twice).toMatchObject({ status: "delivered", attempts: 1 });

    // One dead letter per notification that went dead, valid against the event's schema.
    const outbox = await d.db.select().from(notifyOutbox).orderBy(notifyOutbox.id);
    expect(outbox.map((o) => o.key).sort()).toEqual([ids.exhausted, ids.refused].sort());
    for (const o of outbox) {
      const row = o.key === ids.exhausted ? rows.exhausted! : rows.refused!;
      const envelope = o.envelope as Envelope;
      expect(eventRegistry.parse(envelope)).toMatchObject({ ok: true });
      expect(o).toMatchObject({ topic: notificationEvents.deadLettered.topic, eventId: envelope.id });
      expect(envelope).toMatchObject({ type: notificationEvents.deadLettered.type, aggregateId: row.id });
      expect(envelope.payload).toEqual({
        notificationId: row.id,
        merchantId: m,
        paymentId: row.paymentId,
        eventId: row.eventId,
        eventType: row.eventType,
        attempts: row.attempts,
        lastError: row.lastError,
        lastStatusCode: row.lastStatusCode,
        url: row.url,
        deadAt: row.updatedAt.toISOString(),
      });
    }

    // Recorded: never claimed again (delivered, dead), the retry only when it is due.
    expect(await store.claim(10)).toEqual([]);
  });

  it("an attempt Postgres refuses to store fails alone: the rest of its batch is recorded", async () => {
    const m = merchant();
    const good = await insertDue(m);
    const poison = await insertDue(m);
    const claims = new Map((await store.claim(10)).map((c) => [c.id, c]));
    const outcomes = await store.recordAttempts([
      {
        claim: claims.get(poison)!,
        result: { ...unavailable, errorDetail: "a NUL \u0000 byte" },
        startedAt: new Date(),
      },
      { claim: claims.get(good)!, result: delivered, startedAt: new Date() },
    ]);
    expect(outcomes[0]!.ok).toBe(false);
    expect(outcomes[1]).toEqual({ ok: true, value: { recorded: true, row: await rowById(good), deadLettered: false } });
    expect((await rowById(good)).status).toBe("delivered");
    // Still claimed: its lease expires and it is tried again.
    expect((await rowById(poison)).status).toBe("delivering");
    expect(await attemptsOf(poison)).toEqual([]);
  });
});
