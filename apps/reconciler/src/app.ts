import type { Logger } from "@pps/logger";
import { createServiceApp, type Metrics, type ReadinessCheck, serveApiDocs } from "@pps/runtime";
import { reconcilerApiDocument } from "./reconciler-api.ts";

export type AppDeps = { logger: Logger; metrics: Metrics; readiness: ReadinessCheck[] };

/** reconciler's HTTP app: its routes (none yet) are documented at /openapi.json, generated from them, and /docs. */
export function createApp(deps: AppDeps) {
  const app = createServiceApp(deps);
  serveApiDocs(app, { document: reconcilerApiDocument });
  return app;
}
