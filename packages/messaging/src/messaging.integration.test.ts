import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Kafka } from "kafkajs";
import { createDb, closeDb, type Database } from "@pps/db";
import { paymentInbox, paymentOutbox } from "@pps/db/schema";
import { createLogger } from "@pps/logger";
import { TEST_DATABASE_URL, TEST_KAFKA_BROKERS, TEST_TOPIC_PREFIX, waitFor } from "@pps/test-support";
import {
  claimMessage,
  createKafka,
  EventConsumer,
  EventPublisher,
  eventRegistry,
  makeEnvelope,
  OutboxRelay,
  outboxRow,
  paymentEvents,
  paymentEventsV1,
  paymentInternalEvents,
  PermanentMessageError,
  TOPICS,
  type Envelope,
  type PaymentSnapshot,
} from "./index.ts";

const logger = createLogger({ service: "messaging-test", level: "silent" });
const prefix = TEST_TOPIC_PREFIX;
const brokers = TEST_KAFKA_BROKERS.split(",");

function snapshot(paymentId: string, status: PaymentSnapshot["status"] = "risk_review"): PaymentSnapshot {
  const now = new Date().toISOString();
  return {
    paymentId,
    merchantId: "m_test",
    merchantOrderNo: `o-${paymentId}`,
    product: "online_banking",
    amount: 1299,
    currency: "CNY",
    status,
    previousStatus: null,
    version: 1,
    channel: null,
    failureCode: null,
    failureMessage: null,
    subject: "test order",
    payer: { id: "u_1" },
    method: { bankCode: "CMB", cardType: null, wallet: null, flow: null },
    returnUrl: "https://shop.example/return",
    notifyUrl: "https://shop.example/notify",
    metadata: {},
    expiresAt: now,
    createdAt: now,
    updatedAt: now,
  };
}

/** Reads dead-lettered messages into memory for assertions. */
async function dlqReader(kafka: Kafka) {
  const seen: {
    key: string | null;
    reason: string;
    sourceTopic: string;
    sourceOffset: string;
    value: string | null;
    withheld: string | null;
  }[] = [];
  const c = kafka.consumer({ groupId: `dlq-reader-${randomUUID()}` });
  await c.connect();
  await c.subscribe({ topic: `${prefix}${TOPICS.deadLetter.name}`, fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => {
      const h = (name: string) => message.headers?.[name]?.toString() ?? null;
      seen.push({
        key: message.key?.toString() ?? null,
        reason: h("dlq-reason") ?? "",
        sourceTopic: h("dlq-source-topic") ?? "",
        sourceOffset: h("dlq-source-offset") ?? "",
        value: message.value?.toString() ?? null,
        withheld: h("dlq-value-withheld"),
      });
    },
  });
  return { seen, stop: () => c.disconnect() };
}

describe("messaging through the real broker", () => {
  // Two clients with different ids, as two apps would have.
  const producerKafka = createKafka({ brokers, clientId: "pps-payment-api-test", logger });
  const consumerKafka = createKafka({ brokers, clientId: "pps-notifier-test", logger });
  const publisher = new EventPublisher(producerKafka, prefix);
  const received: Envelope[] = [];
  let failNext: "transient" | "permanent" | undefined;
  let consumer: EventConsumer;
  let dlq: Awaited<ReturnType<typeof dlqReader>>;
  let db: Database;

  beforeAll(async () => {
    db = createDb({ url: TEST_DATABASE_URL, max: 4 });
    await publisher.start();
    dlq = await dlqReader(consumerKafka);
    consumer = new EventConsumer({
      kafka: consumerKafka,
      groupId: `messaging-test-${randomUUID()}`,
      topics: [TOPICS.paymentEvents.name],
      registry: eventRegistry,
      logger,
      topicPrefix: prefix,
      handler: async (envelope) => {
        if (failNext === "transient") {
          failNext = undefined;
          throw new Error("database briefly unavailable");
        }
        if (failNext === "permanent") {
          failNext = undefined;
          throw new PermanentMessageError("payment belongs to no known merchant");
        }
        received.push(envelope);
      },
    });
    await consumer.start();
  });

  afterAll(async () => {
    await consumer?.stop();
    await dlq?.stop();
    await publisher.stop();
    await closeDb(db);
  });

  it("delivers a published envelope to another client's consumer, validated on both ends", async () => {
    const paymentId = `pay_${randomUUID()}`;
    const envelope = makeEnvelope({
      type: paymentEvents.created.type,
      version: paymentEvents.created.version,
      aggregateId: paymentId,
      payload: snapshot(paymentId),
    });
    await publisher.publish(TOPICS.paymentEvents.name, [envelope]);
    await waitFor(async () => received.some((e) => e.id === envelope.id), { what: "the event to arrive" });
    const got = received.find((e) => e.id === envelope.id)!;
    expect(got.type).toBe("payment.created");
    expect((got.payload as PaymentSnapshot).amount).toBe(1299);
  });

  it("sends malformed messages to the dead-letter topic and keeps consuming", async () => {
    const raw = producerKafka.producer();
    await raw.connect();
    const topic = `${prefix}${TOPICS.paymentEvents.name}`;
    const badKeys = [
      `bad-json-${randomUUID()}`,
      `bad-envelope-${randomUUID()}`,
      `unknown-type-${randomUUID()}`,
      `bad-payload-${randomUUID()}`,
    ];
    const wrongPayload = makeEnvelope({
      type: "payment.created",
      version: 2,
      aggregateId: badKeys[3]!,
      payload: { ...snapshot("p"), amount: 12.5 },
    });
    await raw.send({
      topic,
      messages: [
        { key: badKeys[0], value: "{not json" },
        { key: badKeys[1], value: JSON.stringify({ id: "nope", type: "payment.created" }) },
        {
          key: badKeys[2],
          value: JSON.stringify(
            makeEnvelope({ type: "payment.teleported", version: 1, aggregateId: "x", payload: {} }),
          ),
        },
        { key: badKeys[3], value: JSON.stringify(wrongPayload) },
      ],
    });
    await raw.disconnect();
    const paymentId = `pay_${randomUUID()}`;
    const good = makeEnvelope({
      type: "payment.succeeded",
      version: 2,
      aggregateId: paymentId,
      payload: snapshot(paymentId, "succeeded"),
    });
    await publisher.publish(TOPICS.paymentEvents.name, [good]);

    await waitFor(async () => received.some((e) => e.id === good.id), { what: "the valid event after the bad ones" });
    await waitFor(async () => badKeys.every((k) => dlq.seen.some((d) => d.key === k)), { what: "dead letters" });
    const reasons = Object.fromEntries(dlq.seen.map((d) => [d.key, d.reason]));
    expect(reasons[badKeys[0]!]).toMatch(/not JSON/);
    expect(reasons[badKeys[1]!]).toMatch(/invalid envelope/);
    expect(reasons[badKeys[2]!]).toMatch(/unknown event payment.teleported@v1/);
    expect(reasons[badKeys[3]!]).toMatch(/invalid payload: amount/);
    expect(dlq.seen.find((d) => d.key === badKeys[0])!.sourceTopic).toBe(topic);
    expect(received.some((e) => badKeys.includes(e.aggregateId))).toBe(false);
  });

  it("still reads a retired version: payment.* v1, contact data included, as written before v2", async () => {
    const paymentId = `pay_${randomUUID()}`;
    const payload = {
      ...snapshot(paymentId),
      payer: { id: "u_1", ip: "203.0.113.9", deviceId: "dev-old", phone: "+8613800000000" },
    };
    const v1 = makeEnvelope({ type: paymentEventsV1.created.type, version: 1, aggregateId: paymentId, payload });
    await publisher.publish(TOPICS.paymentEvents.name, [v1]);
    await waitFor(async () => received.some((e) => e.id === v1.id), { what: "the v1 event to arrive" });
    expect(received.find((e) => e.id === v1.id)!.payload).toEqual(payload);
  });

  it("dead-letters a restricted topic's message by reference: no value, its coordinates in the headers", async () => {
    const internal = new EventConsumer({
      kafka: consumerKafka,
      groupId: `messaging-internal-${randomUUID()}`,
      topics: [TOPICS.paymentInternal.name],
      registry: eventRegistry,
      logger,
      topicPrefix: prefix,
      handler: async () => {
        throw new PermanentMessageError("nothing takes this");
      },
    });
    await internal.start();
    try {
      const paymentId = `pay_${randomUUID()}`;
      const phone = "+8613912340000";
      const payload = {
        ...snapshot(paymentId),
        payer: { id: "u_1", ip: "203.0.113.10", deviceId: "dev-secret", phone },
      };
      const def = paymentInternalEvents.created;
      await publisher.publish(TOPICS.paymentInternal.name, [
        makeEnvelope({ type: def.type, version: def.version, aggregateId: paymentId, payload }),
      ]);
      await waitFor(async () => dlq.seen.some((d) => d.key === paymentId), { what: "the dead letter" });
      const letter = dlq.seen.find((d) => d.key === paymentId)!;
      expect(letter).toMatchObject({
        value: null,
        reason: "nothing takes this",
        sourceTopic: `${prefix}${TOPICS.paymentInternal.name}`,
        sourceOffset: expect.stringMatching(/^\d+$/),
      });
      expect(letter.withheld).toMatch(/restricted/);
      // A public topic's dead letter keeps its value (the test above): only restricted ones are withheld.
      expect(
        dlq.seen
          .filter((d) => d.sourceTopic.endsWith(TOPICS.paymentEvents.name))
          .every((d) => d.value !== null && d.withheld === null),
      ).toBe(true);
    } finally {
      await internal.stop();
    }
  });

  it("redelivers after a transient handler failure and dead-letters a permanent one", async () => {
    const a = `pay_${randomUUID()}`;
    failNext = "transient";
    const first = makeEnvelope({
      type: "payment.processing",
      version: 2,
      aggregateId: a,
      payload: snapshot(a, "processing"),
    });
    await publisher.publish(TOPICS.paymentEvents.name, [first]);
    await waitFor(async () => received.some((e) => e.id === first.id), {
      what: "redelivery after a transient failure",
    });

    const b = `pay_${randomUUID()}`;
    failNext = "permanent";
    const second = makeEnvelope({
      type: "payment.processing",
      version: 2,
      aggregateId: b,
      payload: snapshot(b, "processing"),
    });
    await publisher.publish(TOPICS.paymentEvents.name, [second]);
    await waitFor(async () => dlq.seen.some((d) => d.key === b), { what: "permanent failure dead-lettered" });
    expect(dlq.seen.find((d) => d.key === b)!.reason).toMatch(/no known merchant/);
    expect(received.some((e) => e.id === second.id)).toBe(false);
  });

  it("relays outbox rows written in a transaction, in order, and deletes them", async () => {
    const relay = new OutboxRelay({ db, table: paymentOutbox, publisher, logger, lockId: 990_001 });
    const paymentId = `pay_${randomUUID()}`;
    const statuses = ["risk_review", "processing", "succeeded"] as const;
    const envelopes = statuses.map((s, i) =>
      makeEnvelope({
        type: `payment.${s === "risk_review" ? "created" : s}`,
        version: 2,
        aggregateId: paymentId,
        payload: { ...snapshot(paymentId, s), version: i + 1 },
      }),
    );
    await db.transaction(async (tx) => {
      for (const e of envelopes) await tx.insert(paymentOutbox).values(outboxRow(paymentEvents.created, e));
    });
    // A transaction that rolls back leaves nothing to relay.
    const ghost = makeEnvelope({
      type: "payment.created",
      version: 2,
      aggregateId: `pay_${randomUUID()}`,
      payload: snapshot("ghost"),
    });
    await db
      .transaction(async (tx) => {
        await tx.insert(paymentOutbox).values(outboxRow(paymentEvents.created, ghost));
        throw new Error("rollback");
      })
      .catch(() => {});

    while ((await relay.relayOnce()) > 0);
    await waitFor(async () => envelopes.every((e) => received.some((r) => r.id === e.id)), { what: "relayed events" });
    const order = received
      .filter((r) => r.aggregateId === paymentId)
      .map((r) => (r.payload as PaymentSnapshot).version);
    expect(order).toEqual([1, 2, 3]);
    const left = await db.select().from(paymentOutbox).where(eq(paymentOutbox.key, paymentId));
    expect(left).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(received.some((r) => r.id === ghost.id)).toBe(false);
  });

  it("claims an inbox message once per consumer", async () => {
    const id = randomUUID();
    const first = await db.transaction((tx) => claimMessage(tx, paymentInbox, "test-consumer", id));
    const again = await db.transaction((tx) => claimMessage(tx, paymentInbox, "test-consumer", id));
    const otherConsumer = await db.transaction((tx) => claimMessage(tx, paymentInbox, "another-consumer", id));
    expect([first, again, otherConsumer]).toEqual([true, false, true]);
  });

  it("handles different keys concurrently and one key's events in order", async () => {
    const seen = new Map<string, number[]>();
    let inFlight = 0;
    let maxInFlight = 0;
    const concurrent = new EventConsumer({
      kafka: consumerKafka,
      groupId: `messaging-concurrency-${randomUUID()}`,
      topics: [TOPICS.paymentEvents.name],
      registry: eventRegistry,
      logger,
      topicPrefix: prefix,
      concurrency: 8,
      handler: async (envelope) => {
        const p = envelope.payload as PaymentSnapshot;
        if (!p.paymentId.startsWith("pay_conc_")) return;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
        seen.set(p.paymentId, [...(seen.get(p.paymentId) ?? []), p.version]);
        inFlight--;
      },
    });
    await concurrent.start();
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `pay_conc_${i}_${randomUUID()}`);
      const envelopes = ids.flatMap((id) =>
        [1, 2, 3, 4].map((v) =>
          makeEnvelope({
            type: "payment.processing",
            version: 2,
            aggregateId: id,
            payload: { ...snapshot(id, "processing"), version: v },
          }),
        ),
      );
      // Interleave keys in one send so a single batch holds many keys.
      envelopes.sort((a, b) => (a.payload as PaymentSnapshot).version - (b.payload as PaymentSnapshot).version);
      await publisher.publish(TOPICS.paymentEvents.name, envelopes);
      await waitFor(async () => ids.every((id) => (seen.get(id)?.length ?? 0) === 4), {
        what: "all concurrent events",
      });
      for (const id of ids) expect(seen.get(id)).toEqual([1, 2, 3, 4]);
      expect(maxInFlight).toBeGreaterThan(1);
    } finally {
      await concurrent.stop();
    }
  });

  it("hands a chunk to the batch handler, skips unwanted types by header, and falls back one by one when the batch fails", async () => {
    const tag = `pay_batch_${randomUUID()}`;
    const batches: string[][] = [];
    const singles: string[] = [];
    const skippedTypes: string[] = [];
    let failBatchOnce = true;
    const batching = new EventConsumer({
      kafka: consumerKafka,
      groupId: `messaging-batch-${randomUUID()}`,
      topics: [TOPICS.paymentEvents.name],
      registry: eventRegistry,
      logger,
      topicPrefix: prefix,
      accept: (type) => type === "payment.processing",
      onOutcome: (outcome, topic) => {
        if (outcome === "skipped" && topic.endsWith(TOPICS.paymentEvents.name)) skippedTypes.push(outcome);
      },
      batchHandler: async (items) => {
        const mine = items.filter((i) => i.envelope.aggregateId.startsWith(tag));
        if (mine.length === 0) return;
        if (failBatchOnce && mine.some((i) => (i.envelope.payload as PaymentSnapshot).version === 3)) {
          failBatchOnce = false;
          throw new Error("one poison message in the chunk");
        }
        batches.push(
          mine.map((i) => `${i.envelope.aggregateId.slice(-1)}${(i.envelope.payload as PaymentSnapshot).version}`),
        );
      },
      handler: async (envelope) => {
        if (envelope.aggregateId.startsWith(tag))
          singles.push(`${envelope.aggregateId.slice(-1)}${(envelope.payload as PaymentSnapshot).version}`);
      },
    });
    await batching.start();
    try {
      const ev = (suffix: string, version: number, type = "payment.processing") =>
        makeEnvelope({
          type,
          version: 2,
          aggregateId: `${tag}${suffix}`,
          payload: { ...snapshot(`${tag}${suffix}`, "processing"), version },
        });
      // Not a type this consumer takes: skipped from its header, never reaching a handler.
      await publisher.publish(TOPICS.paymentEvents.name, [ev("a", 0, "payment.created")]);
      await publisher.publish(TOPICS.paymentEvents.name, [ev("a", 1), ev("b", 1), ev("a", 2)]);
      await waitFor(async () => batches.flat().length === 3, { what: "the first chunk in one batch call" });
      // This chunk's batch call fails: its messages go one by one through the per-message handler.
      await publisher.publish(TOPICS.paymentEvents.name, [ev("a", 3), ev("a", 4)]);
      await waitFor(async () => singles.length === 2, { what: "the failed chunk replayed message by message" });
      expect(batches.flat().sort()).toEqual(["a1", "a2", "b1"]);
      expect(batches.flat().filter((x) => x.startsWith("a"))).toEqual(["a1", "a2"]);
      expect(singles).toEqual(["a3", "a4"]);
      expect(skippedTypes.length).toBeGreaterThan(0);
    } finally {
      await batching.stop();
    }
  });
});
