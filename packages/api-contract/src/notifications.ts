import { z } from "@hono/zod-openapi";
import { notificationIdSchema, paymentIdSchema, timestampSchema } from "./common.ts";

export const NOTIFICATION_STATUSES = ["pending", "delivering", "delivered", "dead"] as const;

export const deliveryAttemptSchema = z
  .object({
    attempt_no: z.number().int(),
    series: z.number().int().openapi({ description: "1 for the original schedule; each resend starts a new series." }),
    started_at: timestampSchema,
    outcome: z.string().openapi({
      description:
        "delivered, or a stable failure code (timeout, connection_refused, unexpected_status, destination_not_allowed, …).",
    }),
    status_code: z.number().int().nullable(),
    latency_ms: z.number().int().nullable(),
    response_body: z.string().nullable(),
    error: z.string().nullable(),
    error_detail: z.string().nullable(),
  })
  .openapi("DeliveryAttempt");

export const notificationSchema = z
  .object({
    id: notificationIdSchema,
    object: z.literal("notification"),
    merchant_id: z.string(),
    payment_id: z.string(),
    event_id: z.string(),
    event_type: z.string(),
    object_version: z.number().int(),
    url: z.string(),
    status: z.enum(NOTIFICATION_STATUSES),
    attempts: z.number().int(),
    series: z.number().int(),
    next_attempt_at: timestampSchema.nullable(),
    delivered_at: timestampSchema.nullable(),
    last_error: z.string().nullable(),
    last_status_code: z.number().int().nullable(),
    event_occurred_at: timestampSchema,
    created_at: timestampSchema,
    updated_at: timestampSchema,
    body: z.string().openapi({ description: "The exact body we send (and sign)." }),
    delivery_attempts: z.array(deliveryAttemptSchema),
  })
  .openapi("Notification");
export type Notification = z.output<typeof notificationSchema>;

export const notificationListSchema = z
  .object({ object: z.literal("list"), data: z.array(notificationSchema), has_more: z.boolean() })
  .openapi("NotificationList");

export const notificationIdParams = z.object({
  id: notificationIdSchema.openapi({ param: { name: "id", in: "path" } }),
});
export const paymentNotificationsParams = z.object({
  id: paymentIdSchema.openapi({ param: { name: "id", in: "path" } }),
});
