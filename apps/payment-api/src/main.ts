import { createInfra } from "@pps/platform";
import { runMain, runService } from "@pps/runtime";
import { createApp } from "./app.ts";
import { loadAppEnv } from "./env.ts";

runMain(async () => {
  const env = loadAppEnv();
  const infra = createInfra("payment-api", env);
  const app = createApp({ logger: infra.logger, metrics: infra.metrics, readiness: infra.readiness });
  await runService({
    service: infra.service,
    logger: infra.logger,
    app,
    host: env.HOST,
    port: env.PORT,
    components: infra.components,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
  });
});
