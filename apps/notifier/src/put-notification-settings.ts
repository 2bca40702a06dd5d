import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "@pps/runtime";
import { parseOrThrow, readJsonBody } from "@pps/runtime";
import type { NotificationStore } from "./notification-store.ts";
import { merchantIdSchema, settingsView } from "./notification-views.ts";
import { scheduleSchema } from "./schedule.ts";

/** A full replacement: a field left out or null means "use the default". */
export const settingsSchema = z.strictObject({
  schedule_seconds: scheduleSchema.nullable().optional(),
  max_concurrency: z.int().min(1).max(256).nullable().optional(),
});

/**
 * PUT /v1/merchants/{id}/notification-settings: this merchant's retry schedule and in-flight limit. Applies to
 * the next scheduling decision of every replica (settings are read from Postgres, not cached).
 */
export function putNotificationSettings(app: Hono<AppEnv>, deps: { store: NotificationStore; defaults: { schedule: readonly number[]; merchantConcurrency: number } }): void {
  app.put("/v1/merchants/:id/notification-settings", async (c) => {
    const merchantId = parseOrThrow(merchantIdSchema, c.req.param("id"), "merchant id is invalid");
    const req = await readJsonBody(c, settingsSchema);
    const row = await deps.store.putSettings(merchantId, { scheduleSeconds: req.schedule_seconds ?? null, maxConcurrency: req.max_concurrency ?? null });
    c.get("logger").info({ merchantId, scheduleSeconds: row.scheduleSeconds, maxConcurrency: row.maxConcurrency }, "notification settings changed");
    return c.json(settingsView(merchantId, row, deps.defaults));
  });
}
