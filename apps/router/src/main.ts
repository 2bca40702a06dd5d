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
import { createChannelSettledHandler } from "./channel-settled-handler.ts";
import { createOperationRequestedHandler } from "./operation-requested-handler.ts";
import { OperationResolver } from "./operation-resolver.ts";
import { OperationRunner } from "./operation-runner.ts";
import { OperationCallStore } from "./operation-store.ts";
import { createPaymentProcessingHandler } from "./payment-processing-consumer.ts";
import { RoutePlanner } from "./route-planner.ts";
import { RouteWaiter } from "./route-waiter.ts";
import { createRouterConsumer } from "./router-consumer.ts";
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
  const operations = new OperationCallStore(db);
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
  const callbackUrl = (channel: string) => `${env.CALLBACK_BASE_URL}/v1/channel-callbacks/${channel}`;
  const limiter = new InFlightLimiter(env.ROUTER_CONCURRENCY);
  // What every runner and resolver of channel calls is given.
  const channelCalls = {
    adapters,
    notify,
    metrics,
    logger,
    timeoutMs: env.CHANNEL_TIMEOUT_MS,
    stuckQueryDelaysMs: env.ROUTER_STUCK_QUERY_DELAYS_MS,
  };
  const runner = new AttemptRunner({ ...channelCalls, state, planner, store, callbackUrl, waiting, ...wait });
  const operationRunner = new OperationRunner({ ...channelCalls, store: operations });
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
  const resolver = new AttemptResolver({ ...channelCalls, store });
  const operationResolver = new OperationResolver({ ...channelCalls, store: operations });
  const consumer = createRouterConsumer({
    kafka: infra.kafka,
    topicPrefix: env.KAFKA_TOPIC_PREFIX,
    concurrency: env.ROUTER_CONCURRENCY,
    handlers: {
      processing: createPaymentProcessingHandler({
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
      operationRequested: createOperationRequestedHandler({
        store: operations,
        runner: operationRunner,
        limiter,
        metrics,
        logger,
        timeoutMs: env.CHANNEL_TIMEOUT_MS,
        callbackUrl,
      }),
      channelSettled: createChannelSettledHandler({ attempts: store, operations, metrics, logger }),
    },
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
    operations,
  });
  await runService({
    service: infra.service,
    logger,
    app,
    host: env.HOST,
    port: env.PORT,
    // Stopped in reverse: no new payments or operations, then the calls in flight finish and record their
    // outcomes, then the resolvers stop, the relay publishes what is left, and the last health counts are written.
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
      { name: "operation-resolver", start: () => operationResolver.start(), stop: () => operationResolver.stop() },
      // Pay and operation calls share the limiter: this waits for both.
      { name: "attempt-runner", stop: () => limiter.drain() },
      // Stopped before the runner drains: it hands payments to the runner.
      { name: "route-waiter", start: () => waiter.start(), stop: () => waiter.stop() },
      { name: "payment-events-consumer", start: () => consumer.start(), stop: () => consumer.stop() },
    ],
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
});
