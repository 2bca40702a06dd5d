import { notifyInbox, notifyOutbox } from "@pps/db/schema";
import { InboxPruner, OutboxRelay } from "@pps/messaging";
import { createInfra } from "@pps/platform";
import { runMain, runService } from "@pps/runtime";
import { createApp } from "./app.ts";
import { DestinationGuard } from "./destination-guard.ts";
import { Dispatcher } from "./dispatcher.ts";
import { loadAppEnv } from "./env.ts";
import { MerchantSigningClient } from "./merchant-signing.ts";
import { NotificationStore } from "./notification-store.ts";
import { createNotifierMetrics } from "./notifier-metrics.ts";
import {
  createPaymentEventsBatchHandler,
  createPaymentEventsConsumer,
  createPaymentEventsHandler,
} from "./payment-events-consumer.ts";

/** Advisory lock of the notify outbox relay (unique across apps). */
const OUTBOX_LOCK_ID = 7_300_003;
/** Room beyond an attempt's time limit to fetch the signing key and record the result before a lease expires. */
const LEASE_MARGIN_MS = 10_000;

runMain(async () => {
  const env = loadAppEnv();
  const infra = createInfra("notifier", env);
  const { logger, db } = infra;
  const defaults = { schedule: env.NOTIFY_SCHEDULE_SECONDS, merchantConcurrency: env.NOTIFY_MERCHANT_CONCURRENCY };

  const store = new NotificationStore(db, {
    ...defaults,
    jitterRatio: env.NOTIFY_JITTER_RATIO,
    leaseMs: env.NOTIFY_TIMEOUT_MS + LEASE_MARGIN_MS,
  });
  const metrics = createNotifierMetrics(infra.metrics.registry, () => store.backlog());
  const relay = new OutboxRelay({
    db,
    table: notifyOutbox,
    publisher: infra.publisher,
    logger,
    lockId: OUTBOX_LOCK_ID,
  });
  const dispatcher = new Dispatcher({
    store,
    signing: new MerchantSigningClient({ paymentApiUrl: env.PAYMENT_API_URL, internalToken: env.INTERNAL_TOKEN }),
    guard: new DestinationGuard(env.NOTIFY_ALLOWED_HOSTS),
    platformPrivateKey: env.PLATFORM_SIGNING_PRIVATE_KEY,
    workers: env.NOTIFY_WORKERS,
    concurrency: {
      floor: env.NOTIFY_MERCHANT_CONCURRENCY_FLOOR,
      initial: Math.max(env.NOTIFY_MERCHANT_CONCURRENCY_FLOOR, env.NOTIFY_MERCHANT_CONCURRENCY_INITIAL),
    },
    timeoutMs: env.NOTIFY_TIMEOUT_MS,
    maxResponseBytes: env.NOTIFY_MAX_RESPONSE_BYTES,
    pollMs: env.NOTIFY_POLL_MS,
    onDeadLettered: () => relay.notify(),
    metrics,
    logger,
  });
  const handlerDeps = { store, onCreated: () => dispatcher.wake(), metrics, logger };
  const consumer = createPaymentEventsConsumer({
    kafka: infra.kafka,
    topicPrefix: env.KAFKA_TOPIC_PREFIX,
    eventTypes: env.NOTIFY_EVENT_TYPES,
    concurrency: env.CONSUMER_CONCURRENCY,
    handler: createPaymentEventsHandler(handlerDeps),
    batchHandler: createPaymentEventsBatchHandler(handlerDeps),
    metrics,
    logger,
  });
  const pruner = new InboxPruner({ db, table: notifyInbox, logger });
  if (!env.NOTIFY_ALLOWED_HOSTS.isEmpty)
    logger.warn("NOTIFY_ALLOWED_HOSTS is set: notifications may reach the private addresses it lists");

  const app = createApp({
    logger,
    metrics: infra.metrics,
    readiness: infra.readiness,
    adminToken: env.ADMIN_TOKEN,
    internalToken: env.INTERNAL_TOKEN,
    store,
    defaults,
    onResent: () => dispatcher.wake(),
  });
  await runService({
    service: infra.service,
    logger,
    app,
    host: env.HOST,
    port: env.PORT,
    // Stopped in reverse: no new events, then the attempts in flight finish and are recorded, then the relay
    // publishes the dead letters that are left, then the producer and the pool close.
    components: [
      ...infra.components,
      {
        name: "outbox-relay",
        start: () => relay.start(),
        stop: async () => {
          await relay.stop();
          await relay
            .relayOnce()
            .catch((err: unknown) => logger.warn({ err }, "final outbox relay failed; rows stay for the next start"));
        },
      },
      { name: "inbox-pruner", start: () => pruner.start(), stop: () => pruner.stop() },
      { name: "dispatcher", start: () => dispatcher.start(), stop: () => dispatcher.stop() },
      { name: "payment-events-consumer", start: () => consumer.start(), stop: () => consumer.stop() },
    ],
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
});
