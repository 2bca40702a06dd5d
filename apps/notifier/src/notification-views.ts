import { z } from "@pps/runtime";
import { type deliveryAttemptSchema, NOTIFICATION_STATUSES, type Notification } from "@pps/api-contract";
import type { AttemptRow, NotificationRow, SettingsRow } from "./notification-store.ts";

/** Merchant ids as payment-api issues them. */
export const merchantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of [A-Za-z0-9_-]")
  .openapi({ example: "m_shop_1" });

type NotificationStatus = Notification["status"];

/** The status column holds only these (the store writes no other); anything else is a bug, not a client error. */
function notificationStatus(status: string): NotificationStatus {
  if (!(NOTIFICATION_STATUSES as readonly string[]).includes(status))
    throw new Error(`notification status ${status} is not one of ${NOTIFICATION_STATUSES.join(", ")}`);
  return status as NotificationStatus;
}

export function attemptView(a: AttemptRow): z.output<typeof deliveryAttemptSchema> {
  return {
    attempt_no: a.attemptNo,
    series: a.series,
    started_at: a.startedAt.toISOString(),
    outcome: a.outcome,
    status_code: a.statusCode,
    latency_ms: a.latencyMs,
    response_body: a.responseBody,
    error: a.error,
    error_detail: a.errorDetail,
  };
}

/** A notification as payment-api (and through it the merchant) sees it. */
export function notificationView(n: NotificationRow, attempts: AttemptRow[]): Notification {
  const status = notificationStatus(n.status);
  const scheduled = status === "pending" || status === "delivering";
  return {
    id: n.id,
    object: "notification",
    merchant_id: n.merchantId,
    payment_id: n.paymentId,
    event_id: n.eventId,
    event_type: n.eventType,
    object_version: n.objectVersion,
    url: n.url,
    status,
    attempts: n.attempts,
    series: n.series,
    next_attempt_at: scheduled ? n.nextAttemptAt.toISOString() : null,
    delivered_at: n.deliveredAt?.toISOString() ?? null,
    last_error: n.lastError,
    last_status_code: n.lastStatusCode,
    event_occurred_at: n.eventOccurredAt.toISOString(),
    created_at: n.createdAt.toISOString(),
    updated_at: n.updatedAt.toISOString(),
    body: n.body,
    delivery_attempts: attempts.map(attemptView),
  };
}

export const notificationSettingsSchema = z
  .object({
    merchant_id: z.string(),
    schedule_seconds: z
      .array(z.int())
      .nullable()
      .openapi({ description: "This merchant's retry schedule (seconds after a series starts); null: the default." }),
    max_concurrency: z.int().nullable().openapi({
      description:
        "The ceiling of deliveries in flight to this merchant at once, across replicas (the adaptive window stays at or below it); null: the default.",
    }),
    ordered_delivery: z.boolean().openapi({
      description:
        "One payment's notifications go one at a time in version order (a later one waits while an earlier one is open); false: at least once, in any order.",
    }),
    effective: z
      .object({ schedule_seconds: z.array(z.int()), max_concurrency: z.int() })
      .openapi({ description: "What applies: the override, or the default." }),
    updated_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("NotificationSettings");

export function settingsView(
  merchantId: string,
  row: SettingsRow | null,
  defaults: { schedule: readonly number[]; merchantConcurrency: number },
): z.output<typeof notificationSettingsSchema> {
  return {
    merchant_id: merchantId,
    schedule_seconds: row?.scheduleSeconds ?? null,
    max_concurrency: row?.maxConcurrency ?? null,
    ordered_delivery: row?.orderedDelivery ?? false,
    effective: {
      schedule_seconds: row?.scheduleSeconds ?? [...defaults.schedule],
      max_concurrency: row?.maxConcurrency ?? defaults.merchantConcurrency,
    },
    updated_at: row?.updatedAt.toISOString() ?? null,
  };
}
