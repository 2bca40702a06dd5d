import {
  BEARER_ERRORS,
  boundedJson,
  createRoute,
  errorResponses,
  json,
  JSON_BODY_ERRORS,
  noQuery,
  type ServiceApp,
  z,
} from "@pps/runtime";
import { merchantParams } from "./get-notification-settings.ts";
import type { NotificationStore } from "./notification-store.ts";
import { notificationSettingsSchema, settingsView } from "./notification-views.ts";
import { adminSecurity } from "./notifier-api.ts";
import { scheduleSchema } from "./schedule.ts";

/** A full replacement: a field left out or null means "use the default". */
export const settingsSchema = z
  .strictObject({
    schedule_seconds: scheduleSchema.nullable().optional(),
    max_concurrency: z.int().min(1).max(256).nullable().optional(),
    ordered_delivery: z.boolean().nullable().optional(),
  })
  .openapi("NotificationSettingsChange", {
    description: "A full replacement: a field left out or null means the default. Schedule offsets strictly increase.",
  });

export const putNotificationSettingsRoute = createRoute({
  method: "put",
  path: "/v1/merchants/{id}/notification-settings",
  operationId: "putNotificationSettings",
  tags: ["Settings"],
  summary: "Replace a merchant's retry schedule, in-flight ceiling and ordering",
  description:
    "Applies to the next scheduling decision of every replica (settings are read from Postgres, not cached).",
  security: adminSecurity,
  middleware: [boundedJson()],
  request: { params: merchantParams, query: noQuery, body: { required: true, content: json(settingsSchema) } },
  responses: {
    200: { description: "The settings now.", content: json(notificationSettingsSchema) },
    ...errorResponses([...BEARER_ERRORS, ...JSON_BODY_ERRORS]),
  },
});

/**
 * PUT /v1/merchants/{id}/notification-settings: this merchant's retry schedule and in-flight limit. Applies to
 * the next scheduling decision of every replica (settings are read from Postgres, not cached).
 */
export function putNotificationSettings(
  app: ServiceApp,
  deps: { store: NotificationStore; defaults: { schedule: readonly number[]; merchantConcurrency: number } },
): void {
  app.openapi(putNotificationSettingsRoute, async (c) => {
    const merchantId = c.req.valid("param").id;
    const req = c.req.valid("json");
    const row = await deps.store.putSettings(merchantId, {
      scheduleSeconds: req.schedule_seconds ?? null,
      maxConcurrency: req.max_concurrency ?? null,
      orderedDelivery: req.ordered_delivery ?? false,
    });
    c.get("logger").info(
      {
        merchantId,
        scheduleSeconds: row.scheduleSeconds,
        maxConcurrency: row.maxConcurrency,
        orderedDelivery: row.orderedDelivery,
      },
      "notification settings changed",
    );
    return c.json(settingsView(merchantId, row, deps.defaults), 200);
  });
}
