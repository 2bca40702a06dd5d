import { randomBytes } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { isolatedDatabase } from "./database.ts";
import { TEST_KAFKA_BROKERS, TEST_TOPIC_NAMES, TEST_TOPIC_PREFIX } from "./env.ts";

export type IsolatedEnvironment = Awaited<ReturnType<typeof isolatedEnvironment>>;

/**
 * A migrated database and a topic prefix of a test file's own, for files that start apps as processes.
 * An app's consumers join groups named after the topic prefix, and its pollers (outbox relay, expiry sweep,
 * notification dispatcher, channel-sim's callbacks and fault settings) work on whatever database they are
 * given; two files sharing either would take each other's messages and rows (a risk-stub started by one
 * file deciding the payments of another). The prefix sits under this run's, so the global teardown removes
 * its topics even if `close` never runs. `kafkaBrokers` puts the topics on another broker than the run's (a
 * private one a fault test stops and starts; `env` then names it too).
 */
export async function isolatedEnvironment(label: string, opts: { kafkaBrokers?: string } = {}) {
  if (TEST_TOPIC_NAMES.length === 0)
    throw new Error("TEST_TOPIC_NAMES is empty: run the tests through vitest (its global setup sets it)");
  const suffix = randomBytes(4).toString("hex");
  const database = await isolatedDatabase(label, suffix);
  const topicPrefix = `${TEST_TOPIC_PREFIX}${label}${suffix}.`;
  const brokers = opts.kafkaBrokers ?? TEST_KAFKA_BROKERS;
  const kafka = new Kafka({
    brokers: brokers.split(","),
    clientId: `pps-${label}-test-environment`,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: TEST_TOPIC_NAMES.map((name) => ({ topic: `${topicPrefix}${name}`, numPartitions: 3 })),
    });
  } finally {
    await admin.disconnect();
  }
  const env: Record<string, string> = { DATABASE_URL: database.databaseUrl, KAFKA_TOPIC_PREFIX: topicPrefix };
  if (opts.kafkaBrokers) env.KAFKA_BROKERS = opts.kafkaBrokers;
  return {
    databaseUrl: database.databaseUrl,
    /** A small pool on the file's database, for the test's own reads and writes. */
    db: database.db,
    topicPrefix,
    /** What an app started on this environment needs (spread into startApp's extra env). */
    env,
    /** Drops the database and deletes the topics. Stop the apps first. */
    async close() {
      await database.close();
      const admin = kafka.admin();
      await admin.connect();
      try {
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
        if (topics.length) await admin.deleteTopics({ topics, timeout: 10_000 }).catch(() => undefined);
      } finally {
        await admin.disconnect();
      }
    },
  };
}
