import type { Logger } from "@pps/logger";
import { createServiceApp, type Metrics, type ReadinessCheck } from "@pps/runtime";

export type AppDeps = { logger: Logger; metrics: Metrics; readiness: ReadinessCheck[] };

export function createApp(deps: AppDeps) {
  const app = createServiceApp(deps);
  return app;
}
