import { channelConfigFromEnv, createChannelAdapters } from "@pps/channels";
import { paymentOutbox } from "@pps/db/schema";
import { EventConsumer, eventRegistry, OutboxRelay, TOPICS } from "@pps/messaging";
import { createInfra } from "@pps/platform";
import { runMain, runService } from "@pps/runtime";
import { createApp } from "./app.ts";
import { createChannelResultBatchHandler, createChannelResultHandler } from "./consumers/channel-results.ts";
import { createRiskDecisionBatchHandler, createRiskDecisionHandler } from "./consumers/risk-decisions.ts";
import { loadAppEnv } from "./env.ts";
import { createHousekeeping } from "./jobs/housekeeping.ts";
import { FrozenPayers, MerchantDirectory } from "./payments/merchants.ts";
import { createSmsClient } from "./payments/sms.ts";

runMain(async () => {
  const env = loadAppEnv();
  const adapters = createChannelAdapters(channelConfigFromEnv(env.channelVars));
  const infra = createInfra("payment-api", env);
  const { db, logger, kafka, publisher } = infra;
  const relay = new OutboxRelay({ db, table: paymentOutbox, publisher, logger, lockId: 7_300_000 });
  const frozenPayers = new FrozenPayers(db);
  const deps = {
    db,
    logger,
    env,
    merchants: new MerchantDirectory(db),
    frozenPayers,
    relay,
    sms: createSmsClient({ baseUrl: env.SMS_GATEWAY_URL }),
  };
  const consumerOpts = {
    kafka,
    registry: eventRegistry,
    logger,
    topicPrefix: env.KAFKA_TOPIC_PREFIX,
    concurrency: env.CONSUMER_CONCURRENCY,
  };
  const riskConsumer = new EventConsumer({
    ...consumerOpts,
    groupId: "payment-api.risk-decisions",
    topics: [TOPICS.riskDecisions.name],
    handler: createRiskDecisionHandler(deps),
    batchHandler: createRiskDecisionBatchHandler(deps),
  });
  const resultConsumer = new EventConsumer({
    ...consumerOpts,
    groupId: "payment-api.channel-results",
    topics: [TOPICS.channelResults.name],
    handler: createChannelResultHandler(deps),
    batchHandler: createChannelResultBatchHandler(deps),
  });
  const housekeeping = createHousekeeping(deps);
  const app = createApp({ ...deps, metrics: infra.metrics, readiness: infra.readiness, adapters });
  await runService({
    service: infra.service,
    logger,
    app,
    host: env.HOST,
    port: env.PORT,
    components: [
      ...infra.components,
      { name: "frozen-payers", start: () => frozenPayers.start(), stop: () => frozenPayers.stop() },
      { name: "outbox-relay", start: () => relay.start(), stop: () => relay.stop() },
      { name: "risk-decisions", start: () => riskConsumer.start(), stop: () => riskConsumer.stop() },
      { name: "channel-results", start: () => resultConsumer.start(), stop: () => resultConsumer.stop() },
      housekeeping,
    ],
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
});
