import type { Logger } from "@pps/logger";
import { createServiceApp, requireBearerToken, type Metrics, type ReadinessCheck, serveApiDocs } from "@pps/runtime";
import type { AttemptStore } from "./attempt-store.ts";
import type { ChannelState } from "./channel-state.ts";
import { getChannelsHealth } from "./get-channels-health.ts";
import { getOperationCalls } from "./get-operation-calls.ts";
import { getRoutingDecisions } from "./get-routing-decisions.ts";
import { listChannels } from "./list-channels.ts";
import type { OperationCallStore } from "./operation-store.ts";
import { routerApiDocument, routerApiSecuritySchemes } from "./router-api.ts";
import { setCircuit } from "./set-circuit.ts";
import { updateChannel } from "./update-channel.ts";

export type AppDeps = {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  adminToken: string;
  state: ChannelState;
  store: AttemptStore;
  operations: OperationCallStore;
};

/** router's HTTP app: the operator API, documented at /openapi.json (generated from its routes) and /docs. */
export function createApp(deps: AppDeps) {
  const app = createServiceApp(deps);
  // Everything under /v1 is for operators and tests: routing has no public API.
  app.use("/v1/*", requireBearerToken(deps.adminToken, "admin"));
  getChannelsHealth(app, deps);
  listChannels(app, deps);
  updateChannel(app, deps);
  setCircuit(app, deps);
  getRoutingDecisions(app, deps);
  getOperationCalls(app, deps);
  serveApiDocs(app, { document: routerApiDocument, securitySchemes: routerApiSecuritySchemes });
  return app;
}
