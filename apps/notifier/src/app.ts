import type { Logger } from "@pps/logger";
import { createServiceApp, requireBearerToken, type Metrics, type ReadinessCheck, serveApiDocs } from "@pps/runtime";
import { getNotificationSettings } from "./get-notification-settings.ts";
import { listNotifications } from "./list-notifications.ts";
import type { NotificationStore } from "./notification-store.ts";
import { notifierApiDocument, notifierApiSecuritySchemes } from "./notifier-api.ts";
import { putNotificationSettings } from "./put-notification-settings.ts";
import { resendNotification } from "./resend-notification.ts";

export type AppDeps = {
  logger: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  adminToken: string;
  internalToken: string;
  store: NotificationStore;
  defaults: { schedule: readonly number[]; merchantConcurrency: number };
  /** A resend made a notification due now. */
  onResent: () => void;
};

/** notifier's HTTP app: operator and internal routes, documented at /openapi.json (generated from them) and /docs. */
export function createApp(deps: AppDeps) {
  const app = createServiceApp(deps);
  // /v1: operators. /internal: payment-api, which serves the merchant-facing notification endpoints.
  app.use("/v1/*", requireBearerToken(deps.adminToken, "admin"));
  app.use("/internal/*", requireBearerToken(deps.internalToken, "service"));
  getNotificationSettings(app, deps);
  putNotificationSettings(app, deps);
  listNotifications(app, deps);
  resendNotification(app, deps);
  serveApiDocs(app, { document: notifierApiDocument, securitySchemes: notifierApiSecuritySchemes });
  return app;
}
