import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "@pps/logger";
import { HealthRegistry } from "@pps/runtime";
import { TEST_KAFKA_BROKERS, TEST_TOPIC_PREFIX, waitFor } from "@pps/test-support";
import {
  createKafka,
  EventConsumer,
  EventPublisher,
  eventRegistry,
  makeEnvelope,
  paymentEvents,
  TOPICS,
} from "./index.ts";

const logger = createLogger({ service: "watchdog-test", level: "silent" });
const brokers = TEST_KAFKA_BROKERS.split(",");

function created(paymentId: string) {
  const now = new Date().toISOString();
  return makeEnvelope({
    type: paymentEvents.created.type,
    version: paymentEvents.created.version,
    aggregateId: paymentId,
    payload: {
      paymentId,
      merchantId: "m_test",
      merchantOrderNo: `o-${paymentId}`,
      product: "online_banking",
      amount: 1299,
      currency: "CNY",
      status: "risk_review",
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
    },
  });
}

async function readiness(health: HealthRegistry): Promise<string | null> {
  for (const { check } of health.readinessChecks()) {
    try {
      await check();
    } catch (err) {
      return (err as Error).message;
    }
  }
  return null;
}

describe("EventConsumer watchdog", () => {
  const publisher = new EventPublisher(
    createKafka({ brokers, clientId: "watchdog-producer", logger }),
    TEST_TOPIC_PREFIX,
  );
  let consumer: EventConsumer | undefined;

  afterAll(async () => {
    await consumer?.stop();
    await publisher.stop();
  });

  it("restarts a consumer whose handler hangs while messages wait, fails liveness meanwhile, then recovers", async () => {
    const health = new HealthRegistry();
    const hang = created(`pay_${randomUUID()}`);
    const after = created(`pay_${randomUUID()}`);
    let hangs = 0;
    const handled = new Set<string>();
    consumer = new EventConsumer({
      kafka: createKafka({ brokers, clientId: "watchdog-consumer", logger }),
      groupId: `watchdog-test-${randomUUID()}`,
      topics: [TOPICS.paymentEvents.name],
      registry: eventRegistry,
      logger,
      topicPrefix: TEST_TOPIC_PREFIX,
      group: { stallMs: 1_500, unhealthyAfterMs: 2_500 },
      health,
      handler: async (envelope) => {
        // The first delivery never returns, like a handler stuck on a connection that died silently.
        if (envelope.id === hang.id && hangs++ === 0) await new Promise(() => {});
        handled.add(envelope.id);
      },
    });
    await publisher.start();
    await consumer.start();
    await waitFor(async () => (await readiness(health)) === null, { what: "consumer ready", timeoutMs: 20_000 });

    await publisher.publish(TOPICS.paymentEvents.name, [hang, after]);
    await waitFor(async () => hangs === 1, { what: "the hanging delivery" });
    await waitFor(async () => (await readiness(health))?.startsWith("stalled") ?? false, { what: "not ready" });
    await waitFor(async () => health.liveness().some((r) => !r.ok), { what: "not alive", timeoutMs: 10_000 });

    // The replacement member takes the partition once the hung one is out of the group, and the message is redelivered.
    await waitFor(async () => handled.has(hang.id) && handled.has(after.id), { what: "redelivery", timeoutMs: 30_000 });
    await waitFor(async () => (await readiness(health)) === null, { what: "ready again", timeoutMs: 10_000 });
    expect(health.liveness().every((r) => r.ok)).toBe(true);
    expect(hangs).toBe(2);
  }, 60_000);
});
