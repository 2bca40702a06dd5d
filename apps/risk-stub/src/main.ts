import { riskInbox, riskOutbox } from "@pps/db/schema";
import { InboxPruner, OutboxRelay } from "@pps/messaging";
import { createInfra } from "@pps/platform";
import { runMain, runService } from "@pps/runtime";
import { createApp } from "./app.ts";
import { DEV_ADMIN_TOKEN, loadAppEnv } from "./env.ts";
import { createRiskMetrics } from "./metrics.ts";
import { PaymentEventsConsumer } from "./payment-events-consumer.ts";
import { RiskConfigCache } from "./risk-config.ts";

/** risk.outbox's relay lock: one relay across replicas at a time keeps each payment's events in order. */
const RISK_OUTBOX_LOCK = 7_300_001;

runMain(async () => {
  const env = loadAppEnv();
  const infra = createInfra("risk-stub", env);
  const { logger, db } = infra;
  if (env.ADMIN_TOKEN === DEV_ADMIN_TOKEN)
    logger.warn("ADMIN_TOKEN is the development default; set a secret one in production");

  const metrics = createRiskMetrics(infra.metrics.registry);
  const config = new RiskConfigCache({ db, logger, refreshMs: env.RULES_REFRESH_MS, metrics });
  const relay = new OutboxRelay({
    db,
    table: riskOutbox,
    publisher: infra.publisher,
    logger,
    lockId: RISK_OUTBOX_LOCK,
    onPublished: (n) => metrics.outboxPublished.inc(n),
  });
  const consumer = new PaymentEventsConsumer({
    kafka: infra.kafka,
    db,
    logger,
    topicPrefix: env.KAFKA_TOPIC_PREFIX,
    config,
    metrics,
    concurrency: env.RISK_CONCURRENCY,
    onDecided: () => relay.notify(),
  });
  const pruner = new InboxPruner({ db, table: riskInbox, logger });

  const app = createApp({
    logger,
    metrics: infra.metrics,
    readiness: infra.readiness,
    db,
    config,
    adminToken: env.ADMIN_TOKEN,
  });

  await runService({
    service: infra.service,
    logger,
    app,
    host: env.HOST,
    port: env.PORT,
    // Rules before the consumer that needs them; the relay before the consumer so that, stopping in
    // reverse, the consumer stops first and the relay then publishes what it committed.
    components: [
      ...infra.components,
      { name: "risk-config", start: () => config.start(), stop: () => config.stop() },
      {
        name: "outbox-relay",
        start: () => relay.start(),
        stop: async () => {
          await relay.stop();
          for (let i = 0; i < 10 && (await relay.relayOnce()) > 0; i++);
        },
      },
      { name: "payment-events-consumer", start: () => consumer.start(), stop: () => consumer.stop() },
      { name: "inbox-pruner", start: () => pruner.start(), stop: () => pruner.stop() },
    ],
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
});
