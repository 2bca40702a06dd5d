import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@pps/logger";
import {
  createKafka,
  EventConsumer,
  EventPublisher,
  eventRegistry,
  makeEnvelope,
  paymentInternalEvents,
  type RiskDecision,
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
import { snapshot } from "./risk-test-kit.ts";

// How long the partitions of a replica killed with SIGKILL wait before the other replica consumes them.
// FAILOVER_GROUP_ENV (JSON of KAFKA_* / CONSUMER_* variables) measures other group settings.
const groupEnv: Record<string, string> = JSON.parse(process.env.FAILOVER_GROUP_ENV ?? "{}");
const RATE_PER_SECOND = 40;
const logger = createLogger({ service: "risk-failover-test", level: "silent" });
const kafka = createKafka({ brokers: TEST_KAFKA_BROKERS.split(","), clientId: "pps-risk-failover-test", logger });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let isolated: IsolatedEnvironment;
let publisher: EventPublisher;
let reader: EventConsumer;
const replicas: AppProcess[] = [];
const decidedAt = new Map<string, number>();

beforeAll(async () => {
  isolated = await isolatedEnvironment("riskfo");
  publisher = new EventPublisher(kafka, isolated.topicPrefix);
  reader = new EventConsumer({
    kafka,
    groupId: `risk-failover-reader-${randomUUID()}`,
    topics: [TOPICS.riskDecisions.name],
    registry: eventRegistry,
    logger,
    topicPrefix: isolated.topicPrefix,
    health: null,
    handler: async (envelope) => {
      const id = (envelope.payload as RiskDecision).paymentId;
      if (!decidedAt.has(id)) decidedAt.set(id, Date.now());
    },
  });
  await publisher.start();
  await reader.start();
  const env = { ...isolated.env, ...groupEnv };
  replicas.push(...(await Promise.all([startApp("risk-stub", env), startApp("risk-stub", env)])));
  for (const app of replicas)
    await waitFor(async () => (await fetch(`${app.url}/readyz`)).ok, { what: "risk-stub ready", timeoutMs: 30_000 });
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await reader?.stop();
  await publisher?.stop();
  await isolated?.close();
});

describe("a risk-stub replica killed with SIGKILL", () => {
  it("has its partitions consumed again by the other replica within 10 s", async () => {
    const publishedAt = new Map<string, number>();
    let killedAt = 0;
    let publishing = true;
    const load = (async () => {
      while (publishing) {
        const p = snapshot();
        publishedAt.set(p.paymentId, Date.now());
        await publisher.publish(TOPICS.paymentInternal.name, [
          makeEnvelope({
            type: paymentInternalEvents.created.type,
            version: paymentInternalEvents.created.version,
            aggregateId: p.paymentId,
            payload: p,
          }),
        ]);
        await sleep(1000 / RATE_PER_SECOND);
      }
    })();
    await sleep(3_000);
    killedAt = Date.now();
    await replicas[0]!.stop("SIGKILL");
    replicas.shift();
    await sleep(Number(process.env.FAILOVER_OBSERVE_MS ?? 12_000));
    publishing = false;
    await load;
    await waitFor(async () => [...publishedAt.keys()].every((id) => decidedAt.has(id)), {
      what: "every payment decided",
      timeoutMs: 60_000,
    });
    // The longest wait of a payment published after the kill: the stall of the dead replica's partitions.
    const stallMs = Math.max(
      ...[...publishedAt].filter(([, at]) => at >= killedAt).map(([id, at]) => decidedAt.get(id)! - at),
    );
    console.log(`failover: longest decision wait after SIGKILL ${stallMs} ms (${JSON.stringify(groupEnv)})`);
    expect(stallMs).toBeLessThan(10_000);
  }, 120_000);
});
