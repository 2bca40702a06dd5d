import type { ChannelId, DevChannelKeys } from "@pps/channels";
import type { Logger } from "@pps/logger";
import { createServiceApp, type Metrics, type ReadinessCheck, serveApiDocs } from "@pps/runtime";
import { SIM_CHANNELS } from "./channels/index.ts";
import { adminRoutes } from "./sim/admin-routes.ts";
import { protocolOf, type SimDeps } from "./sim/deps.ts";
import { smsRoutes } from "./sim/sms.ts";
import { simApiDocument } from "./sim-api.ts";

export type AppDeps = {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  sim: SimDeps;
  keys: Record<ChannelId, DevChannelKeys>;
};

/**
 * channel-sim's HTTP app: the simulated channels (their own formats, undocumented), the SMS gateway, and the
 * operator routes under /sim and /sms/outbox, documented at /openapi.json (generated from them) and /docs.
 */
export function createApp(deps: AppDeps) {
  const app = createServiceApp(deps);
  for (const [id, channel] of Object.entries(SIM_CHANNELS) as [ChannelId, (typeof SIM_CHANNELS)[ChannelId]][]) {
    app.route(channel.mount, channel.routes(deps.sim, protocolOf(deps.sim, id), deps.keys[id]));
  }
  app.route("/sms", smsRoutes(deps.sim.db));
  app.route("/sim", adminRoutes(deps.sim));
  serveApiDocs(app, { document: simApiDocument });
  return app;
}
