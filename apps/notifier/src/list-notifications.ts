import { BEARER_ERRORS, createRoute, errorResponses, json, type ServiceApp, z } from "@pps/runtime";
import { notificationListSchema } from "@pps/api-contract";
import type { NotificationStore } from "./notification-store.ts";
import { merchantIdSchema, notificationView } from "./notification-views.ts";
import { internalSecurity } from "./notifier-api.ts";

const querySchema = z.strictObject({
  merchant_id: merchantIdSchema,
  payment_id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of [A-Za-z0-9_-]")
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const listNotificationsRoute = createRoute({
  method: "get",
  path: "/internal/v1/notifications",
  operationId: "listNotifications",
  tags: ["Internal"],
  summary: "A merchant's notifications (of one payment), newest first, with every attempt",
  security: internalSecurity,
  request: { query: querySchema },
  responses: {
    200: { description: "Newest first.", content: json(notificationListSchema) },
    ...errorResponses(BEARER_ERRORS),
  },
});

/** GET /internal/v1/notifications?merchant_id=…[&payment_id=…][&limit=…]: newest first, with every attempt. */
export function listNotifications(app: ServiceApp, deps: { store: NotificationStore }): void {
  app.openapi(listNotificationsRoute, async (c) => {
    const q = c.req.valid("query");
    const { rows, hasMore } = await deps.store.list({
      merchantId: q.merchant_id,
      ...(q.payment_id ? { paymentId: q.payment_id } : {}),
      limit: q.limit,
    });
    return c.json(
      { object: "list" as const, data: rows.map((r) => notificationView(r, r.attemptRows)), has_more: hasMore },
      200,
    );
  });
}
