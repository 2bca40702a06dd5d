import { createChannelAdapters } from "@pps/channels";
import { routingInbox, routingOutbox } from "@pps/db/schema";
import { InboxPruner, OutboxRelay } from "@pps/messaging";
import { createInfra } from "@pps/platform";
import { runMain, runService } from "@pps/runtime";
import { createApp } from "./app.ts";
import { AttemptResolver } from "./attempt-resolver.ts";
import { AttemptRunner } from "./attempt-runner.ts";
import { AttemptStore } from "./attempt-store.ts";
import { ChannelState } from "./channel-state.ts";
import { ChannelStore } from "./channel-store.ts";
import { loadAppEnv } from "./env.ts";
import { InFlightLimiter } from "./in-flight-limiter.ts";
import { createPaymentProcessingConsumer, createPaymentProcessingHandler } from "./payment-processing-consumer.ts";
import { RoutePlanner } from "./route-planner.ts";
import { RouteWaiter } from "./route-waiter.ts";
import { createRouterMetrics } from "./router-metrics.ts";
import { WaitingStore } from "./waiting-store.ts";

/** Advisory lock of the routing outbox relay (unique across apps). */
const OUTBOX_LOCK_ID = 7_300_002;

runMain(async () => {
  const env = loadAppEnv();
  const infra = createInfra("router", env);
  const { logger, db } = infra;
  const metrics = createRouterMetrics(infra.metrics.registry);
  const adapters = createChannelAdapters({
    endpoints: env.channelEndpoints,
    options: { timeoutMs: env.CHANNEL_TIMEOUT_MS },
  });

  const state = new ChannelState({
    store: new ChannelStore(db),
    adapters,
    circuit: {
      failureThreshold: env.CIRCUIT_FAILURE_THRESHOLD,
      cooldownMs: env.CIRCUIT_COOLDOWN_MS,
      // A probe is one call: after twice its time limit its replica is presumed gone.
      probeTimeoutMs: 2 * env.CHANNEL_TIMEOUT_MS + 5_000,
      halfOpenShare: env.ROUTER_HALF_OPEN_SHARE,
    },
    refreshMs: env.CHANNEL_STATE_REFRESH_MS,
    logger,
    metrics,
  });
  const store = new AttemptStore(db);
  const waiting = new WaitingStore(db);
  const wait = { waitMaxMs: env.ROUTE_WAIT_MAX_MS, waitRetryMs: env.ROUTE_WAIT_RETRY_MS };
  const relay = new OutboxRelay({
    db,
    table: routingOutbox,
    publisher: infra.publisher,
    logger,
    lockId: OUTBOX_LOCK_ID,
  });
  const notify = () => relay.notify();
  const planner = new RoutePlanner(state);
  const limiter = new InFlightLimiter(env.ROUTER_CONCURRENCY);
  const runner = new AttemptRunner({
    adapters,
    state,
    planner,
    store,
    notify,
    metrics,
    logger,
    timeoutMs: env.CHANNEL_TIMEOUT_MS,
    stuckQueryDelaysMs: env.ROUTER_STUCK_QUERY_DELAYS_MS,
    callbackUrl: (channel) => `${env.CALLBACK_BASE_URL}/v1/channel-callbacks/${channel}`,
    waiting,
    ...wait,
  });
  const waiter = new RouteWaiter({
    waiting,
    planner,
    runner,
    limiter,
    notify,
    metrics,
    logger,
    timeoutMs: env.CHANNEL_TIMEOUT_MS,
    retryMs: env.ROUTE_WAIT_RETRY_MS,
  });
  const resolver = new AttemptResolver({
    store,
    adapters,
    notify,
    metrics,
    logger,
    timeoutMs: env.CHANNEL_TIMEOUT_MS,
    stuckQueryDelaysMs: env.ROUTER_STUCK_QUERY_DELAYS_MS,
  });
  const consumer = createPaymentProcessingConsumer({
    kafka: infra.kafka,
    topicPrefix: env.KAFKA_TOPIC_PREFIX,
    concurrency: env.ROUTER_CONCURRENCY,
    handler: createPaymentProcessingHandler({
      planner,
      store,
      runner,
      limiter,
      notify,
      metrics,
      logger,
      timeoutMs: env.CHANNEL_TIMEOUT_MS,
      waiting,
      ...wait,
    }),
    logger,
    metrics,
  });

  const pruner = new InboxPruner({ db, table: routingInbox, logger });

  const app = createApp({
    logger,
    metrics: infra.metrics,
    readiness: infra.readiness,
    adminToken: env.ADMIN_TOKEN,
    state,
    store,
  });
  await runService({
    service: infra.service,
    logger,
    app,
    host: env.HOST,
    port: env.PORT,
    // Stopped in reverse: no new payments, then the calls in flight finish and record their outcomes, then
    // the resolver stops, the relay publishes what is left, and the last health counts are written.
    components: [
      ...infra.components,
      { name: "channel-state", start: () => state.start(), stop: () => state.stop() },
      { name: "inbox-pruner", start: () => pruner.start(), stop: () => pruner.stop() },
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
      { name: "attempt-resolver", start: () => resolver.start(), stop: () => resolver.stop() },
      { name: "attempt-runner", stop: () => limiter.drain() },
      // Stopped before the runner drains: it hands payments to the runner.
      { name: "route-waiter", start: () => waiter.start(), stop: () => waiter.stop() },
      { name: "payment-events-consumer", start: () => consumer.start(), stop: () => consumer.stop() },
    ],
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
});
