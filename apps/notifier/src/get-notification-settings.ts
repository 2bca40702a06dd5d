import { BEARER_ERRORS, createRoute, errorResponses, json, noQuery, type ServiceApp, z } from "@pps/runtime";
import type { NotificationStore } from "./notification-store.ts";
import { merchantIdSchema, notificationSettingsSchema, settingsView } from "./notification-views.ts";
import { adminSecurity } from "./notifier-api.ts";

export const merchantParams = z.object({ id: merchantIdSchema });

export const getNotificationSettingsRoute = createRoute({
  method: "get",
  path: "/v1/merchants/{id}/notification-settings",
  operationId: "getNotificationSettings",
  tags: ["Settings"],
  summary: "A merchant's override (null: the default) and what applies",
  security: adminSecurity,
  request: { params: merchantParams, query: noQuery },
  responses: {
    200: { description: "The settings.", content: json(notificationSettingsSchema) },
    ...errorResponses(BEARER_ERRORS),
  },
});

/** GET /v1/merchants/{id}/notification-settings: the override (null = default) and what applies. */
export function getNotificationSettings(
  app: ServiceApp,
  deps: { store: NotificationStore; defaults: { schedule: readonly number[]; merchantConcurrency: number } },
): void {
  app.openapi(getNotificationSettingsRoute, async (c) => {
    const merchantId = c.req.valid("param").id;
    return c.json(settingsView(merchantId, await deps.store.getSettings(merchantId), deps.defaults), 200);
  });
}
