import { sql } from "drizzle-orm";
import { bigserial, boolean, index, integer, pgSchema, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { inboxTable, outboxTable } from "./common.ts";

/** Owned by notifier: notifications and delivery attempts, per-merchant settings, inbox and outbox. */
export const notifySchema = pgSchema("notify");
export const notifyInbox = inboxTable(notifySchema);
export const notifyOutbox = outboxTable(notifySchema);

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * One merchant notification per event: the exact body to send and its durable delivery schedule.
 * The schedule lives here, not in memory: dispatchers claim due rows with a lease, so several replicas never
 * deliver the same one at once and a crashed replica's claim expires and is taken again.
 */
export const notifications = notifySchema.table(
  "notifications",
  {
    id: text("id").primaryKey(),
    merchantId: text("merchant_id").notNull(),
    paymentId: text("payment_id").notNull(),
    /** The envelope id of the event this notifies about: one notification per event. */
    eventId: uuid("event_id").notNull(),
    eventType: text("event_type").notNull(),
    /** The payment's version in the event: merchants order notifications by it. */
    objectVersion: integer("object_version").notNull(),
    url: text("url").notNull(),
    /** The exact JSON bytes sent (and signed) at every attempt. */
    body: text("body").notNull(),
    /** pending | delivering | delivered | dead */
    status: text("status").notNull().default("pending"),
    /** Attempts made over the notification's life (every series). */
    attempts: integer("attempts").notNull().default(0),
    /** 1, then one more for every resend: each series follows the schedule from its start. */
    series: integer("series").notNull().default(1),
    seriesAttempts: integer("series_attempts").notNull().default(0),
    seriesStartedAt: ts("series_started_at").notNull().default(sql`now()`),
    nextAttemptAt: ts("next_attempt_at").notNull(),
    /** While `delivering`: the claim is valid until then; afterwards another dispatcher may take it. */
    leaseUntil: ts("lease_until"),
    /** Fences a claim: a dispatcher whose lease was taken over cannot record its result. */
    leaseToken: uuid("lease_token"),
    lastError: text("last_error"),
    lastStatusCode: integer("last_status_code"),
    /** The latest successful delivery. */
    deliveredAt: ts("delivered_at"),
    eventOccurredAt: ts("event_occurred_at").notNull(),
    createdAt: ts("created_at").notNull().default(sql`now()`),
    updatedAt: ts("updated_at").notNull().default(sql`now()`),
  },
  (t) => [
    uniqueIndex("notifications_event_id_index").on(t.eventId),
    index("notifications_merchant_payment_index").on(t.merchantId, t.paymentId, t.createdAt),
    index("notifications_due_index").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // Claims look for a merchant's due rows (its lane) and, for ordered merchants, a payment's earlier ones.
    index("notifications_merchant_due_index").on(t.merchantId, t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index("notifications_open_by_payment_index")
      .on(t.merchantId, t.paymentId, t.objectVersion)
      .where(sql`${t.status} in ('pending', 'delivering')`),
    index("notifications_delivering_index").on(t.merchantId, t.leaseUntil).where(sql`${t.status} = 'delivering'`),
  ],
);

/** Every delivery attempt, kept across resends. */
export const deliveryAttempts = notifySchema.table(
  "delivery_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    notificationId: text("notification_id")
      .notNull()
      .references(() => notifications.id, { onDelete: "cascade" }),
    /** 1, 2, … over the notification's life. */
    attemptNo: integer("attempt_no").notNull(),
    series: integer("series").notNull(),
    startedAt: ts("started_at").notNull(),
    /** delivered | failed | refused (the destination is not allowed: no request was made) */
    outcome: text("outcome").notNull(),
    statusCode: integer("status_code"),
    latencyMs: integer("latency_ms").notNull(),
    /** The start of the response body, truncated to NOTIFY_MAX_RESPONSE_BYTES. */
    responseBody: text("response_body"),
    /** A stable code: timeout, connection_refused, unexpected_status, destination_not_allowed, … */
    error: text("error"),
    errorDetail: text("error_detail"),
  },
  (t) => [uniqueIndex("delivery_attempts_notification_attempt_index").on(t.notificationId, t.attemptNo)],
);

/** Operator overrides per merchant; a merchant without a row uses the configured defaults. */
export const notifyMerchantSettings = notifySchema.table("merchant_settings", {
  merchantId: text("merchant_id").primaryKey(),
  /** Offsets in seconds from a series' start, strictly increasing; null = the default schedule. */
  scheduleSeconds: integer("schedule_seconds").array(),
  /** Deliveries to this merchant in flight at once, across replicas; null = the default. */
  maxConcurrency: integer("max_concurrency"),
  /** Deliver one payment's notifications one at a time, in version order (an earlier one still open holds the rest). */
  orderedDelivery: boolean("ordered_delivery").notNull().default(false),
  updatedAt: ts("updated_at").notNull().default(sql`now()`),
});

/**
 * One row per merchant with notifications: the unit claims lock (FOR UPDATE SKIP LOCKED) so replicas claim
 * different merchants in parallel while one merchant's in-flight ceiling is checked by one claimer at a time.
 * `paused_until` holds a merchant's Retry-After for every replica.
 */
export const notifyMerchantLanes = notifySchema.table("merchant_lanes", {
  merchantId: text("merchant_id").primaryKey(),
  /** No new delivery to this merchant before then (its endpoint answered 429/503 with Retry-After). */
  pausedUntil: ts("paused_until"),
  /** The last claim that held the lane: lanes are visited least recently claimed first. */
  claimedAt: ts("claimed_at"),
  /** Marks the lanes one claim transaction locked, for its next statement. */
  claimToken: uuid("claim_token"),
});
