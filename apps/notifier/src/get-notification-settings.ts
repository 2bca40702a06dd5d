import type { Hono } from "hono";
import type { AppEnv } from "@pps/runtime";
import { parseOrThrow } from "@pps/runtime";
import type { NotificationStore } from "./notification-store.ts";
import { merchantIdSchema, settingsView } from "./notification-views.ts";

/** GET /v1/merchants/{id}/notification-settings: the override (null = default) and what applies. */
export function getNotificationSettings(app: Hono<AppEnv>, deps: { store: NotificationStore; defaults: { schedule: readonly number[]; merchantConcurrency: number } }): void {
  app.get("/v1/merchants/:id/notification-settings", async (c) => {
    const merchantId = parseOrThrow(merchantIdSchema, c.req.param("id"), "merchant id is invalid");
    return c.json(settingsView(merchantId, await deps.store.getSettings(merchantId), deps.defaults));
  });
}
