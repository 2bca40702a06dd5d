import { z } from "zod";
import type { AttemptRow, NotificationRow, SettingsRow } from "./notification-store.ts";

/** Merchant ids as payment-api issues them. */
export const merchantIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of [A-Za-z0-9_-]");

export function attemptView(a: AttemptRow) {
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
export function notificationView(n: NotificationRow, attempts: AttemptRow[]) {
  const scheduled = n.status === "pending" || n.status === "delivering";
  return {
    id: n.id,
    object: "notification" as const,
    merchant_id: n.merchantId,
    payment_id: n.paymentId,
    event_id: n.eventId,
    event_type: n.eventType,
    object_version: n.objectVersion,
    url: n.url,
    status: n.status,
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

export function settingsView(merchantId: string, row: SettingsRow | null, defaults: { schedule: readonly number[]; merchantConcurrency: number }) {
  return {
    merchant_id: merchantId,
    schedule_seconds: row?.scheduleSeconds ?? null,
    max_concurrency: row?.maxConcurrency ?? null,
    effective: {
      schedule_seconds: row?.scheduleSeconds ?? [...defaults.schedule],
      max_concurrency: row?.maxConcurrency ?? defaults.merchantConcurrency,
    },
    updated_at: row?.updatedAt.toISOString() ?? null,
  };
}
