import type { ChannelId, DevChannelKeys } from "@pps/channels";
import type { Logger } from "@pps/logger";
import { createServiceApp, type Metrics, type ReadinessCheck } from "@pps/runtime";
import { SIM_CHANNELS } from "./channels/index.ts";
import { adminRoutes } from "./sim/admin-routes.ts";
import { protocolOf, type SimDeps } from "./sim/deps.ts";
import { smsRoutes } from "./sim/sms.ts";

export type AppDeps = { logger: Logger; metrics: Metrics; readiness: ReadinessCheck[]; sim: SimDeps; keys: Record<ChannelId, DevChannelKeys> };

export function createApp(deps: AppDeps) {
  const app = createServiceApp(deps);
  for (const [id, channel] of Object.entries(SIM_CHANNELS) as [ChannelId, (typeof SIM_CHANNELS)[ChannelId]][]) {
    app.route(channel.mount, channel.routes(deps.sim, protocolOf(deps.sim, id), deps.keys[id]));
  }
  app.route("/sms", smsRoutes(deps.sim.db));
  app.route("/sim", adminRoutes(deps.sim));
  return app;
}
