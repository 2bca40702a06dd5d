import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "@pps/runtime";
import { parseOrThrow } from "@pps/runtime";
import type { NotificationStore } from "./notification-store.ts";
import { merchantIdSchema, notificationView } from "./notification-views.ts";

const querySchema = z.object({
  merchant_id: merchantIdSchema,
  payment_id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of [A-Za-z0-9_-]").optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** GET /internal/v1/notifications?merchant_id=…[&payment_id=…][&limit=…]: newest first, with every attempt. */
export function listNotifications(app: Hono<AppEnv>, deps: { store: NotificationStore }): void {
  app.get("/internal/v1/notifications", async (c) => {
    const q = parseOrThrow(querySchema, c.req.query(), "query parameters are invalid");
    const { rows, hasMore } = await deps.store.list({ merchantId: q.merchant_id, ...(q.payment_id ? { paymentId: q.payment_id } : {}), limit: q.limit });
    return c.json({ object: "list", data: rows.map((r) => notificationView(r, r.attemptRows)), has_more: hasMore });
  });
}
