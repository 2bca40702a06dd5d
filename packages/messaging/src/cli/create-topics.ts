// `pnpm topics:create`: creates the catalogue's topics that are missing, with partition counts from config.
import { z } from "zod";
import { envVars, loadEnv } from "@pps/config";
import { createLogger } from "@pps/logger";
import { createKafka, ensureTopics } from "../kafka.ts";

const env = loadEnv(
  z.object({
    KAFKA_BROKERS: envVars.kafkaBrokers,
    KAFKA_TOPIC_PREFIX: envVars.kafkaTopicPrefix,
    KAFKA_TOPIC_PARTITIONS: envVars.positiveInt(6),
    KAFKA_REPLICATION_FACTOR: envVars.positiveInt(1),
  }),
  process.env,
);
const logger = createLogger({ service: "create-topics" });
const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: "pps-create-topics", logger });
const created = await ensureTopics(kafka, {
  prefix: env.KAFKA_TOPIC_PREFIX,
  partitions: env.KAFKA_TOPIC_PARTITIONS,
  replicationFactor: env.KAFKA_REPLICATION_FACTOR,
});
console.log(created.length ? `created topics: ${created.join(", ")}` : "all topics exist");
