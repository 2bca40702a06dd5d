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
  });
}

export type BaseEnv = z.infer<ReturnType<typeof baseEnvSchema>>;
