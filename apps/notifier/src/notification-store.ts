import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { deliveryAttempts, notifications, notifyInbox, notifyMerchantSettings, notifyOutbox } from "@pps/db/schema";
import { newId } from "@pps/domain";
import { claimMessage, makeEnvelope, notificationEvents, type NotificationDeadLettered, outboxRow } from "@pps/messaging";
import type { DeliveryResult } from "./http-delivery.ts";
import { attemptOffsetSeconds, nextAfterFailure } from "./schedule.ts";

export type NotificationRow = typeof notifications.$inferSelect;
export type AttemptRow = typeof deliveryAttempts.$inferSelect;
export type SettingsRow = typeof notifyMerchantSettings.$inferSelect;
/** A notification this dispatcher holds: status `delivering` with its lease token. */
export type ClaimedNotification = NotificationRow & { leaseToken: string };

/** Consumer name in the inbox. */
export const PAYMENT_EVENTS_CONSUMER = "notifier.payment-events";
/** Serialises claims across replicas so per-merchant in-flight limits hold globally (unique across apps). */
export const CLAIM_LOCK_ID = 7_300_013;

export type StoreDefaults = {
  schedule: readonly number[];
  merchantConcurrency: number;
  jitterRatio: number;
  /** How long a claim is valid: the attempt's time limit plus room to sign and record it. */
  leaseMs: number;
};

export type NewNotification = {
  eventId: string;
  eventType: string;
  merchantId: string;
  paymentId: string;
  objectVersion: number;
  url: string;
  body: string;
  occurredAt: string;
};

export type RecordOutcome = { recorded: false } | { recorded: true; row: NotificationRow; deadLettered: boolean };

const secs = (seconds: number) => sql`make_interval(secs => ${seconds}::double precision)`;

export class NotificationStore {
  constructor(
    private readonly db: Database,
    private readonly defaults: StoreDefaults,
  ) {}

  private async scheduleFor(tx: Pick<Database, "select">, merchantId: string): Promise<readonly number[]> {
    const [row] = await tx.select({ schedule: notifyMerchantSettings.scheduleSeconds }).from(notifyMerchantSettings).where(eq(notifyMerchantSettings.merchantId, merchantId));
    return row?.schedule ?? this.defaults.schedule;
  }

  /**
   * Creates the notification for an event, once: the inbox claim and the insert share one transaction, and the
   * unique event id catches anything else. Returns whether a notification was created now.
   */
  async create(input: NewNotification): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      if (!(await claimMessage(tx, notifyInbox, PAYMENT_EVENTS_CONSUMER, input.eventId))) return false;
      const schedule = await this.scheduleFor(tx, input.merchantId);
      const first = attemptOffsetSeconds(schedule, 0, this.defaults.jitterRatio);
      const rows = await tx
        .insert(notifications)
        .values({
          id: newId("ntf"),
          merchantId: input.merchantId,
          paymentId: input.paymentId,
          eventId: input.eventId,
          eventType: input.eventType,
          objectVersion: input.objectVersion,
          url: input.url,
          body: input.body,
          status: "pending",
          nextAttemptAt: sql`now() + ${secs(first)}`,
          eventOccurredAt: new Date(input.occurredAt),
        })
        .onConflictDoNothing({ target: notifications.eventId })
        .returning({ id: notifications.id });
      return rows.length > 0;
    });
  }

  /**
   * Claims up to `limit` due notifications: pending ones whose time has come, and delivering ones whose lease
   * expired (their dispatcher died). Merchants at their in-flight limit are skipped, and the rest are taken
   * round-robin (every merchant's oldest due one first), so one merchant's backlog cannot crowd out another's.
   * Claims are serialised by an advisory lock so two replicas cannot both fill the same merchant's last slot;
   * SKIP LOCKED passes over rows a worker is recording right now.
   */
  async claim(limit: number): Promise<ClaimedNotification[]> {
    if (limit <= 0) return [];
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${CLAIM_LOCK_ID})`);
      const locked = await tx.execute<{ id: string }>(sql`
        with inflight as (
          select merchant_id, count(*)::int as n from notify.notifications
          where status = 'delivering' and lease_until > now()
          group by merchant_id
        ), due as (
          select id, merchant_id, next_attempt_at as due_at from notify.notifications where status = 'pending' and next_attempt_at <= now()
          union all
          select id, merchant_id, lease_until as due_at from notify.notifications where status = 'delivering' and lease_until <= now()
        ), ranked as (
          select id, merchant_id, due_at, row_number() over (partition by merchant_id order by due_at, id) as rn from due
        ), eligible as (
          select r.id from ranked r
          left join inflight i on i.merchant_id = r.merchant_id
          left join notify.merchant_settings s on s.merchant_id = r.merchant_id
          where r.rn <= coalesce(s.max_concurrency, ${this.defaults.merchantConcurrency}) - coalesce(i.n, 0)
          order by r.rn, r.due_at
          limit ${limit}
        )
        select n.id from notify.notifications n
        where n.id in (select id from eligible)
          and ((n.status = 'pending' and n.next_attempt_at <= now()) or (n.status = 'delivering' and n.lease_until <= now()))
        for update of n skip locked`);
      const ids = [...locked].map((r) => r.id);
      if (ids.length === 0) return [];
      const rows = await tx
        .update(notifications)
        .set({ status: "delivering", leaseUntil: sql`now() + ${secs(this.defaults.leaseMs / 1000)}`, leaseToken: sql`gen_random_uuid()`, updatedAt: sql`now()` })
        .where(inArray(notifications.id, ids))
        .returning();
      return rows as ClaimedNotification[];
    });
  }

  /**
   * Records one attempt and its consequence in one transaction: delivered (never sent again), the next
   * attempt's time on the merchant's schedule, or dead (with a dead-letter event through the outbox).
   * Nothing is recorded if this claim's lease was taken over meanwhile.
   */
  async record(claim: ClaimedNotification, result: DeliveryResult, startedAt: Date): Promise<RecordOutcome> {
    return this.db.transaction(async (tx) => {
      const attemptsInSeries = claim.seriesAttempts + 1;
      let next: { status: "delivered" } | { status: "pending"; offsetSeconds: number } | { status: "dead" };
      if (result.outcome === "delivered") next = { status: "delivered" };
      else if (result.outcome === "refused") next = { status: "dead" };
      else {
        const after = nextAfterFailure(await this.scheduleFor(tx, claim.merchantId), attemptsInSeries, this.defaults.jitterRatio);
        next = after.retry ? { status: "pending", offsetSeconds: after.offsetSeconds } : { status: "dead" };
      }
      const [row] = await tx
        .update(notifications)
        .set({
          status: next.status,
          attempts: sql`${notifications.attempts} + 1`,
          seriesAttempts: attemptsInSeries,
          leaseUntil: null,
          leaseToken: null,
          lastError: result.error,
          lastStatusCode: result.statusCode,
          updatedAt: sql`now()`,
          ...(next.status === "delivered" ? { deliveredAt: sql`now()` } : {}),
          // Offsets count from the series' start, so a slow attempt does not push the whole schedule back.
          ...(next.status === "pending" ? { nextAttemptAt: sql`greatest(now(), ${notifications.seriesStartedAt} + ${secs(next.offsetSeconds)})` } : {}),
        })
        .where(and(eq(notifications.id, claim.id), eq(notifications.leaseToken, claim.leaseToken), eq(notifications.status, "delivering")))
        .returning();
      if (!row) return { recorded: false };
      await tx.insert(deliveryAttempts).values({
        notificationId: row.id,
        attemptNo: row.attempts,
        series: row.series,
        startedAt,
        outcome: result.outcome,
        statusCode: result.statusCode,
        latencyMs: result.latencyMs,
        responseBody: result.responseBody,
        error: result.error,
        errorDetail: result.errorDetail,
      });
      if (row.status !== "dead") return { recorded: true, row, deadLettered: false };
      const payload: NotificationDeadLettered = {
        notificationId: row.id,
        merchantId: row.merchantId,
        paymentId: row.paymentId,
        eventId: row.eventId,
        eventType: row.eventType,
        attempts: row.attempts,
        lastError: row.lastError,
        lastStatusCode: row.lastStatusCode,
        url: row.url,
        deadAt: row.updatedAt.toISOString(),
      };
      const envelope = makeEnvelope({ type: notificationEvents.deadLettered.type, version: notificationEvents.deadLettered.version, aggregateId: row.id, payload });
      await tx.insert(notifyOutbox).values(outboxRow(notificationEvents.deadLettered, envelope));
      return { recorded: true, row, deadLettered: true };
    });
  }

  /** Gives a claim back without counting an attempt (we could not even try, e.g. no signing key yet). */
  async release(claim: ClaimedNotification, delayMs: number): Promise<void> {
    await this.db
      .update(notifications)
      .set({ status: "pending", leaseUntil: null, leaseToken: null, nextAttemptAt: sql`now() + ${secs(delayMs / 1000)}`, updatedAt: sql`now()` })
      .where(and(eq(notifications.id, claim.id), eq(notifications.leaseToken, claim.leaseToken), eq(notifications.status, "delivering")));
  }

  /**
   * Starts a new attempt series now: for a delivered, dead or pending notification of this merchant. One in
   * flight is left alone (its attempt is being made). Returns null when the merchant has no such notification.
   */
  async resend(id: string, merchantId: string): Promise<NotificationRow | null> {
    const [row] = await this.db
      .update(notifications)
      .set({
        status: "pending",
        series: sql`${notifications.series} + 1`,
        seriesAttempts: 0,
        seriesStartedAt: sql`now()`,
        nextAttemptAt: sql`now()`,
        leaseUntil: null,
        leaseToken: null,
        updatedAt: sql`now()`,
      })
      .where(and(eq(notifications.id, id), eq(notifications.merchantId, merchantId), inArray(notifications.status, ["pending", "delivered", "dead"])))
      .returning();
    if (row) return row;
    const [current] = await this.db.select().from(notifications).where(and(eq(notifications.id, id), eq(notifications.merchantId, merchantId)));
    return current ?? null;
  }

  /** A merchant's notifications (newest first), each with its attempts in order. */
  async list(query: { merchantId: string; paymentId?: string; limit: number }): Promise<{ rows: (NotificationRow & { attemptRows: AttemptRow[] })[]; hasMore: boolean }> {
    const where = query.paymentId ? and(eq(notifications.merchantId, query.merchantId), eq(notifications.paymentId, query.paymentId)) : eq(notifications.merchantId, query.merchantId);
    const rows = await this.db.select().from(notifications).where(where).orderBy(desc(notifications.createdAt), desc(notifications.id)).limit(query.limit + 1);
    const page = rows.slice(0, query.limit);
    return { rows: await this.withAttempts(page), hasMore: rows.length > query.limit };
  }

  async withAttempts(rows: NotificationRow[]): Promise<(NotificationRow & { attemptRows: AttemptRow[] })[]> {
    if (rows.length === 0) return [];
    const attempts = await this.db
      .select()
      .from(deliveryAttempts)
      .where(inArray(deliveryAttempts.notificationId, rows.map((r) => r.id)))
      .orderBy(asc(deliveryAttempts.notificationId), asc(deliveryAttempts.attemptNo));
    const byId = new Map<string, AttemptRow[]>();
    for (const a of attempts) byId.set(a.notificationId, [...(byId.get(a.notificationId) ?? []), a]);
    return rows.map((r) => ({ ...r, attemptRows: byId.get(r.id) ?? [] }));
  }

  async getSettings(merchantId: string): Promise<SettingsRow | null> {
    const [row] = await this.db.select().from(notifyMerchantSettings).where(eq(notifyMerchantSettings.merchantId, merchantId));
    return row ?? null;
  }

  async putSettings(merchantId: string, settings: { scheduleSeconds: number[] | null; maxConcurrency: number | null }): Promise<SettingsRow> {
    const [row] = await this.db
      .insert(notifyMerchantSettings)
      .values({ merchantId, ...settings })
      .onConflictDoUpdate({ target: notifyMerchantSettings.merchantId, set: { ...settings, updatedAt: sql`now()` } })
      .returning();
    return row!;
  }
}
