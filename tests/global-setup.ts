// Runs once per `vitest run`: a fresh test database with migrations applied, and this run's own Kafka topics.
import { Kafka, logLevel } from "kafkajs";
import { dropDatabase, runMigrations } from "@pps/db";
import { ensureTopics, createKafka } from "@pps/messaging";
import { createLogger } from "@pps/logger";

export default async function setup() {
  const databaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pps_test";
  const brokers = (process.env.TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
  const prefix = `test.${Date.now().toString(36)}.`;
  process.env.TEST_DATABASE_URL = databaseUrl;
  process.env.TEST_KAFKA_BROKERS = brokers.join(",");
  process.env.TEST_TOPIC_PREFIX = prefix;

  await dropDatabase(databaseUrl);
  await runMigrations(databaseUrl);

  const logger = createLogger({ service: "test-setup", level: "warn" });
  const kafka = createKafka({ brokers, clientId: "pps-test-setup", logger });
  await ensureTopics(kafka, { prefix, partitions: 3 });

  return async () => {
    // Remove every test run's topics (this one and any left by an interrupted run).
    const admin = new Kafka({ brokers, clientId: "pps-test-teardown", logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topics = (await admin.listTopics()).filter((t) => t.startsWith("test."));
      if (topics.length) await admin.deleteTopics({ topics, timeout: 10_000 });
    } finally {
      await admin.disconnect();
    }
  };
}
