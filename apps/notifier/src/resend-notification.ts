import type { Hono } from "hono";
import { z } from "zod";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";
import { readJsonBody } from "@pps/runtime";
import type { NotificationStore } from "./notification-store.ts";
import { merchantIdSchema, notificationView } from "./notification-views.ts";

const resendSchema = z.strictObject({ merchant_id: merchantIdSchema });

/**
 * POST /internal/v1/notifications/{id}/resend: a new attempt series from now for a delivered, dead or pending
 * notification (history kept). The merchant id must match: another merchant's notification is "not found".
 */
export function resendNotification(app: Hono<AppEnv>, deps: { store: NotificationStore; onResent: () => void }): void {
  app.post("/internal/v1/notifications/:id/resend", async (c) => {
    const req = await readJsonBody(c, resendSchema);
    const id = c.req.param("id");
    const row = /^ntf_[0-9A-Z]{26}$/.test(id) ? await deps.store.resend(id, req.merchant_id) : null;
    if (!row) throw new AppError("request.not_found", "no such notification for this merchant");
    if (row.status === "pending") deps.onResent();
    c.get("logger").info({ notificationId: row.id, merchantId: row.merchantId, series: row.series, status: row.status }, "notification resend requested");
    const [withAttempts] = await deps.store.withAttempts([row]);
    return c.json(notificationView(row, withAttempts?.attemptRows ?? []));
  });
}
