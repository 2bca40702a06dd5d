import { DEV_CHANNEL_KEYS } from "@pps/channels";
import { createInfra } from "@pps/platform";
import { runMain, runService } from "@pps/runtime";
import { createApp } from "./app.ts";
import { createProtocols } from "./channels/index.ts";
import { loadAppEnv } from "./env.ts";
import { createChargeWriter } from "./sim/charge-writer.ts";
import type { SimDeps } from "./sim/deps.ts";
import { createDispatcher } from "./sim/dispatcher.ts";
import { createFaultStore } from "./sim/faults.ts";

runMain(async () => {
  const env = loadAppEnv();
  const infra = createInfra("channel-sim", env, { kafka: false });
  // The simulated channels hold the other half of the FAKE development keys the adapters default to.
  const keys = DEV_CHANNEL_KEYS;
  const shutdown = new AbortController();
  const faults = createFaultStore(infra.db, infra.logger);
  const sim: SimDeps = {
    db: infra.db,
    logger: infra.logger,
    faults,
    charges: createChargeWriter(infra.db),
    protocols: createProtocols(keys),
    config: {
      publicUrl: env.SIM_PUBLIC_URL?.replace(/\/+$/, "") ?? null,
      timeoutHoldMs: env.SIM_TIMEOUT_HOLD_MS,
      autoPayerDelayMs: env.SIM_AUTO_PAYER_DELAY_MS,
      callbackPollMs: env.SIM_CALLBACK_POLL_MS,
      callbackMaxAttempts: env.SIM_CALLBACK_MAX_ATTEMPTS,
      callbackRetryBaseMs: env.SIM_CALLBACK_RETRY_BASE_MS,
      callbackTimeoutMs: env.SIM_CALLBACK_TIMEOUT_MS,
      operationCompleteDelayMs: env.SIM_OPERATION_COMPLETE_DELAY_MS,
    },
    shutdown: shutdown.signal,
  };
  const app = createApp({ logger: infra.logger, metrics: infra.metrics, readiness: infra.readiness, sim, keys });
  await runService({
    service: infra.service,
    logger: infra.logger,
    app,
    host: env.HOST,
    port: env.PORT,
    components: [
      ...infra.components,
      { name: "fault-settings", start: () => faults.start(), stop: () => faults.stop() },
      createDispatcher(sim),
      // Stopped first: answers held back by the timeout/latency faults are released so the server can close.
      { name: "held-answers", stop: () => shutdown.abort() },
    ],
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
});
