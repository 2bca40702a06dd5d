import { hostname } from "node:os";
import { z } from "zod";
import { envVars } from "@pps/config";

/** Variables every app reads. Each app's src/env.ts extends this with its own. */
export function baseEnvSchema(defaultPort: number) {
  return z.object({
    PORT: envVars.port(defaultPort),
    HOST: envVars.host,
    LOG_LEVEL: envVars.logLevel,
    DATABASE_URL: envVars.databaseUrl,
    DB_POOL_MAX: envVars.positiveInt(10),
    KAFKA_BROKERS: envVars.kafkaBrokers,
    KAFKA_TOPIC_PREFIX: envVars.kafkaTopicPrefix,
    SHUTDOWN_TIMEOUT_MS: envVars.durationMs(15_000),
    INSTANCE_ID: z.string().default(`${hostname()}-${process.pid}`),
    // Consumer groups (see @pps/messaging ConsumerGroupSettings). The session timeout bounds how long a dead
    // member holds its partitions; the broker accepts 6 s to 30 min by default (group.*.session.timeout.ms).
    KAFKA_SESSION_TIMEOUT_MS: envVars.durationMs(6_000),
    KAFKA_HEARTBEAT_INTERVAL_MS: envVars.durationMs(1_000),
    KAFKA_REBALANCE_TIMEOUT_MS: envVars.durationMs(20_000),
    CONSUMER_STALL_MS: envVars.durationMs(30_000),
    CONSUMER_UNHEALTHY_AFTER_MS: envVars.durationMs(90_000),
  });
}

export type BaseEnv = z.infer<ReturnType<typeof baseEnvSchema>>;
