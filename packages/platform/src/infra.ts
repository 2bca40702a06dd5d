import type { Admin, Kafka } from "kafkajs";
import { closeDb, createDb, pingDb, type Database } from "@pps/db";
import { createLogger, type Logger } from "@pps/logger";
import { createKafka, EventPublisher } from "@pps/messaging";
import { createMetrics, type Component, type Metrics, type ReadinessCheck } from "@pps/runtime";
import type { BaseEnv } from "./base-env.ts";

/** What every app's composition root builds the same way. */
export type Infra = {
  service: string;
  env: BaseEnv;
  logger: Logger;
  metrics: Metrics;
  db: Database;
  kafka: Kafka;
  publisher: EventPublisher;
  readiness: ReadinessCheck[];
  /** Started first, stopped last: the Kafka admin/producer and the DB pool. */
  components: Component[];
};

export type InfraOptions = {
  /** channel-sim stands in for outside parties and does not use our Kafka. */
  kafka?: boolean;
};

export function createInfra(service: string, env: BaseEnv, { kafka: useKafka = true }: InfraOptions = {}): Infra {
  const logger = createLogger({ service, level: env.LOG_LEVEL });
  const metrics = createMetrics(service);
  const db = createDb({ url: env.DATABASE_URL, max: env.DB_POOL_MAX, applicationName: service });
  const readiness: ReadinessCheck[] = [{ name: "postgres", check: () => pingDb(db) }];
  const components: Component[] = [{ name: "postgres", stop: () => closeDb(db) }];
  // Building the clients opens no connection; only apps that use Kafka start them and probe the broker.
  const kafka = createKafka({
    brokers: env.KAFKA_BROKERS,
    clientId: `pps-${service}`,
    logger,
    consumerGroup: {
      sessionTimeoutMs: env.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: env.KAFKA_HEARTBEAT_INTERVAL_MS,
      rebalanceTimeoutMs: env.KAFKA_REBALANCE_TIMEOUT_MS,
      stallMs: env.CONSUMER_STALL_MS,
      unhealthyAfterMs: env.CONSUMER_UNHEALTHY_AFTER_MS,
    },
  });
  const publisher = new EventPublisher(kafka, env.KAFKA_TOPIC_PREFIX);
  if (useKafka) {
    const admin: Admin = kafka.admin();
    let adminConnected = false;
    readiness.push({
      name: "kafka",
      check: async () => {
        if (!adminConnected) {
          await admin.connect();
          adminConnected = true;
        }
        await admin.describeCluster();
      },
    });
    components.push({
      name: "kafka",
      start: () => publisher.start(),
      stop: async () => {
        await publisher.stop();
        if (adminConnected) await admin.disconnect();
      },
    });
  }

  return { service, env, logger, metrics, db, kafka, publisher, readiness, components };
}
