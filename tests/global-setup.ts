// Runs once per `vitest run`: a fresh test database with migrations applied, and this run's own Kafka topics.
import { Kafka, logLevel } from "kafkajs";
import { dropDatabase, runMigrations } from "@pps/db";
import { createKafka, ensureTopics, TOPICS } from "@pps/messaging";
import { createLogger } from "@pps/logger";

export default async function setup() {
  // Each vitest project (vitest.config.ts) runs the global setup; the first one does the work for the run.
  if (process.env.PPS_TEST_GLOBAL_SETUP === "done") return async () => undefined;
  process.env.PPS_TEST_GLOBAL_SETUP = "done";
  const databaseUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pps_test";
  const brokers = (process.env.TEST_KAFKA_BROKERS ?? process.env.KAFKA_BROKERS ?? "127.0.0.1:9092").split(",");
  const prefix = `test.${Date.now().toString(36)}.`;
  process.env.TEST_DATABASE_URL = databaseUrl;
  process.env.TEST_KAFKA_BROKERS = brokers.join(",");
  process.env.TEST_TOPIC_PREFIX = prefix;
  process.env.TEST_TOPIC_NAMES = Object.values(TOPICS)
    .map((t) => t.name)
    .join(",");

  await dropDatabase(databaseUrl);
  await runMigrations(databaseUrl);

  const logger = createLogger({ service: "test-setup", level: "warn" });
  const kafka = createKafka({ brokers, clientId: "pps-test-setup", logger });
  await ensureTopics(kafka, { prefix, partitions: 3 });

  return async () => {
    // Remove this run's topics and any an interrupted run left more than an hour ago; a run going on beside
    // this one (another database, another prefix) keeps its topics.
    const admin = new Kafka({ brokers, clientId: "pps-test-teardown", logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const stale = (t: string) => {
        const started = Number.parseInt(t.split(".")[1] ?? "", 36);
        return Number.isFinite(started) && Date.now() - started > 3_600_000;
      };
      const topics = (await admin.listTopics()).filter(
        (t) => t.startsWith(prefix) || (t.startsWith("test.") && stale(t)),
      );
      if (topics.length) await admin.deleteTopics({ topics, timeout: 10_000 });
    } finally {
      await admin.disconnect();
    }
  };
}
