import { randomUUID } from "node:crypto";
import { and, asc, desc, eq, getTableColumns, inArray, isNotNull, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { deliveryAttempts, notifications, notifyMerchantSettings } from "@pps/db/schema";
import { newId } from "@pps/domain";
import { makeEnvelope, notificationEvents, type NotificationDeadLettered, outboxRow } from "@pps/messaging";
import type { Settled } from "@pps/runtime";
import type { DeliveryResult } from "./http-delivery.ts";
import { attemptOffsetSeconds, nextAfterFailure } from "./schedule.ts";

export type NotificationRow = typeof notifications.$inferSelect;
export type AttemptRow = typeof deliveryAttempts.$inferSelect;
export type SettingsRow = typeof notifyMerchantSettings.$inferSelect;
/** A notification this dispatcher holds: status `delivering` with its lease token. */
export type ClaimedNotification = NotificationRow & {
  leaseToken: string;
  /** The merchant's in-flight ceiling across replicas when it was claimed (its setting or the default). */
  merchantCeiling: number;
};

/** What one claim took, and whether due work it could not reach is left (a lane another replica held). */
export type Claim = { claimed: ClaimedNotification[]; more: boolean };

export type ClaimOptions = {
  /** This process's room per merchant (its adaptive window minus what it has in flight). */
  allowances?: ReadonlyMap<string, number>;
  /** The room of a merchant not in `allowances` [limit]. */
  defaultAllowance?: number;
  /** Lanes (merchants) one claim locks at most [64]. */
  maxLanes?: number;
};

/** Consumer name in the inbox. */
export const PAYMENT_EVENTS_CONSUMER = "notifier.payment-events";

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

/** One delivery attempt to record: the claim it was made under, what happened, and when it started. */
export type AttemptToRecord = { claim: ClaimedNotification; result: DeliveryResult; startedAt: Date };

export type RecordOutcome = { recorded: false } | { recorded: true; row: NotificationRow; deadLettered: boolean };

/** What an attempt leads to, decided before it is written: the next attempt's offset when it is retried. */
type NextState = { status: "delivered" | "dead"; offsetSeconds: null } | { status: "pending"; offsetSeconds: number };

/** Longest Retry-After we honour: a merchant cannot park its notifications for longer than an hour at a time. */
export const MAX_RETRY_AFTER_SECONDS = 3_600;

/** The pause a failed attempt asked for (Retry-After on 429/503), capped; null when none. */
function retryAfterOf(result: DeliveryResult): number | null {
  if (result.outcome !== "failed" || result.retryAfterSeconds == null) return null;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, result.retryAfterSeconds));
}

const secs = (seconds: number) => sql`make_interval(secs => ${seconds}::double precision)`;

const NOTIFICATION_COLUMNS = Object.entries(getTableColumns(notifications)).map(([field, column]) => ({
  field,
  column,
}));
/**
 * `n.<column> as "<field>"` for every column of notifications, kept in step with the schema: statements
 * written for postgres.js return rows with NotificationRow's field names (see toNotificationRow).
 */
const NOTIFICATION_ROW = NOTIFICATION_COLUMNS.map(({ field, column }) => `n.${column.name} as "${field}"`).join(", ");
/** The same fields again, from a CTE that returned NOTIFICATION_ROW. */
const NOTIFICATION_FIELDS = NOTIFICATION_COLUMNS.map(({ field }) => `"${field}"`).join(", ");

/**
 * A NOTIFICATION_ROW as drizzle would have read it: drizzle makes the shared postgres.js client hand out
 * timestamps as text, so each value goes through its column's own mapping (text to Date).
 */
function toNotificationRow(raw: Record<string, unknown>): NotificationRow {
  const row: Record<string, unknown> = {};
  for (const { field, column } of NOTIFICATION_COLUMNS)
    row[field] = raw[field] === null ? null : column.mapFromDriverValue(raw[field]);
  return row as NotificationRow;
}

/**
 * The outbox row of the dead-letter event for a notification this attempt makes dead. Its fields are the
 * claim's and the attempt's (under the lease no one else changes the row, so `attempts` is the claim's plus
 * this one); the recording statement replaces `deadAt` with the moment the row went dead (its updated_at).
 */
function deadLetterRow(claim: ClaimedNotification, result: DeliveryResult) {
  const payload: NotificationDeadLettered = {
    notificationId: claim.id,
    merchantId: claim.merchantId,
    paymentId: claim.paymentId,
    eventId: claim.eventId,
    eventType: claim.eventType,
    attempts: claim.attempts + 1,
    lastError: result.error,
    lastStatusCode: result.statusCode,
    url: claim.url,
    deadAt: new Date().toISOString(),
  };
  const envelope = makeEnvelope({
    type: notificationEvents.deadLettered.type,
    version: notificationEvents.deadLettered.version,
    aggregateId: claim.id,
    payload,
  });
  return outboxRow(notificationEvents.deadLettered, envelope);
}

export class NotificationStore {
  constructor(
    private readonly db: Database,
    private readonly defaults: StoreDefaults,
  ) {}

  /** The merchants' own schedules, for those that have one (the others use the default). */
  private async schedulesOf(merchantIds: string[]): Promise<Map<string, readonly number[]>> {
    if (merchantIds.length === 0) return new Map();
    const rows = await this.db
      .select({ merchantId: notifyMerchantSettings.merchantId, schedule: notifyMerchantSettings.scheduleSeconds })
      .from(notifyMerchantSettings)
      .where(
        and(inArray(notifyMerchantSettings.merchantId, merchantIds), isNotNull(notifyMerchantSettings.scheduleSeconds)),
      );
    return new Map(rows.map((r) => [r.merchantId, r.schedule!]));
  }

  /** Creates the notification for one event, once (see createMany). Returns whether it was created now. */
  async create(input: NewNotification): Promise<boolean> {
    return (await this.createMany([input])).length > 0;
  }

  /**
   * Creates the notifications for a chunk of events, each once, in one statement (so one round trip and
   * one commit, atomic as a whole): the inbox claims for all event ids in one insert, then one insert of
   * the notifications whose claim succeeded; the unique event id catches anything else. An event id twice
   * in the chunk counts once. The first attempt is due at the first offset of the merchant's schedule
   * (its settings or the default), jittered like every attempt. Returns the event ids created now.
   */
  async createMany(inputs: NewNotification[]): Promise<string[]> {
    const byEvent = new Map<string, NewNotification>();
    for (const input of inputs) if (!byEvent.has(input.eventId)) byEvent.set(input.eventId, input);
    if (byEvent.size === 0) return [];
    // In event id order, so two transactions claiming overlapping chunks (a rebalance) cannot deadlock.
    const rows = [...byEvent.values()].sort((a, b) => (a.eventId < b.eventId ? -1 : 1));
    // The first attempt's jitter is proportional to its own offset: the jittered offset of a schedule
    // starting at 1 s is the factor that the merchant's first offset is multiplied by in SQL.
    const firstOffsetFactor = rows.map(() => attemptOffsetSeconds([1], 0, this.defaults.jitterRatio));
    const created = await this.db.$client<{ eventId: string }[]>`
      with input as (
        select * from unnest(
          ${rows.map(() => newId("ntf"))}::text[], ${rows.map((r) => r.eventId)}::uuid[], ${rows.map((r) => r.eventType)}::text[],
          ${rows.map((r) => r.merchantId)}::text[], ${rows.map((r) => r.paymentId)}::text[], ${rows.map((r) => r.objectVersion)}::int[],
          ${rows.map((r) => r.url)}::text[], ${rows.map((r) => r.body)}::text[], ${rows.map((r) => r.occurredAt)}::text[]::timestamptz[],
          ${firstOffsetFactor}::float8[]
        ) as i(id, event_id, event_type, merchant_id, payment_id, object_version, url, body, event_occurred_at, first_offset_factor)
      ), claimed as (
        insert into notify.inbox (consumer, message_id)
        select ${PAYMENT_EVENTS_CONSUMER}::text, event_id from input
        on conflict do nothing
        returning message_id
      )
      insert into notify.notifications (id, merchant_id, payment_id, event_id, event_type, object_version, url, body, status, next_attempt_at, event_occurred_at)
      select i.id, i.merchant_id, i.payment_id, i.event_id, i.event_type, i.object_version, i.url, i.body, 'pending',
        now() + make_interval(secs => (coalesce(s.schedule_seconds, ${[...this.defaults.schedule]}::int[]))[1] * i.first_offset_factor),
        i.event_occurred_at
      from input i
      join claimed c on c.message_id = i.event_id
      left join notify.merchant_settings s on s.merchant_id = i.merchant_id
      on conflict (event_id) do nothing
      returning event_id as "eventId"`;
    return created.map((r) => r.eventId);
  }

  /**
   * Claims up to `limit` due notifications: pending ones whose time has come, and delivering ones whose lease
   * expired (their dispatcher died, or could not record its attempt: that attempt is counted). Each merchant
   * gets at most the least of its ceiling (settings or default) minus its live claims on every replica, and
   * this process's `allowances` (its adaptive window minus what it has in flight; merchants not listed get
   * `defaultAllowance`). Merchants whose lane is paused
   * (Retry-After) are skipped, and the rest are taken round-robin (every merchant's oldest due one first), so
   * one merchant's backlog cannot crowd out another's. A merchant with `ordered_delivery` gets a payment's
   * notification only when none of that payment's earlier versions is still open.
   *
   * Scaling across replicas: the ceiling is checked under the merchant's lane row lock, taken with SKIP LOCKED,
   * so two replicas never both fill a merchant's last slot, yet claim different merchants at once (there is
   * no global lock). Every merchant with notifications has a lane (a trigger on notifications makes it). One
   * round trip: BEGIN, the lane locks, the claim (a statement of its own after the locks, so its read-committed
   * snapshot sees the claims of whoever held a lane before) and COMMIT are pipelined on a reserved connection. A failed statement aborts the transaction, and the
   * pipelined COMMIT then rolls it back.
   */
  async claim(limit: number, opts: ClaimOptions = {}): Promise<ClaimedNotification[]> {
    return (await this.claimRound(limit, opts)).claimed;
  }

  /** claim, telling also whether due work it could not reach is left (see Claim). */
  async claimRound(limit: number, opts: ClaimOptions = {}): Promise<Claim> {
    if (limit <= 0) return { claimed: [], more: false };
    const allowances = [...(opts.allowances ?? new Map<string, number>())];
    const defaultAllowance = opts.defaultAllowance ?? limit;
    const token = randomUUID();
    const pg = await this.db.$client.reserve();
    try {
      const steps = await Promise.allSettled([
        pg`begin`,
        // These statements are quick but their estimates over a large backlog are not: compiling them
        // (JIT) would cost more than running them.
        pg`set local jit = off`,
        pg`
          with allowance as (
            select * from unnest(${allowances.map(([m]) => m)}::text[], ${allowances.map(([, a]) => a)}::int[]) as a(merchant_id, n)
          ), candidates as (
            -- Index probes per lane (merchant_due_index, delivering_index), never a scan of the whole backlog.
            select l.merchant_id from notify.merchant_lanes l
            left join allowance a on a.merchant_id = l.merchant_id
            where (l.paused_until is null or l.paused_until <= now())
              and (exists (select 1 from notify.notifications n where n.merchant_id = l.merchant_id and n.status = 'pending' and n.next_attempt_at <= now())
                or exists (select 1 from notify.notifications n where n.merchant_id = l.merchant_id and n.status = 'delivering' and n.lease_until <= now()))
              and coalesce(a.n, ${defaultAllowance}::int) > 0
            order by l.claimed_at nulls first, l.merchant_id
            limit ${opts.maxLanes ?? 64}::int
            for update of l skip locked
          )
          update notify.merchant_lanes l set claimed_at = now(), claim_token = ${token}::uuid
          from candidates c where l.merchant_id = c.merchant_id`,
        pg`
          with allowance as (
            select * from unnest(${allowances.map(([m]) => m)}::text[], ${allowances.map(([, a]) => a)}::int[]) as a(merchant_id, n)
          ), lanes as (
            select l.merchant_id, coalesce(s.ordered_delivery, false) as ordered from notify.merchant_lanes l
            left join notify.merchant_settings s on s.merchant_id = l.merchant_id
            where l.claim_token = ${token}::uuid
          ), inflight as (
            select merchant_id, count(*)::int as n from notify.notifications
            where status = 'delivering' and lease_until > now() and merchant_id in (select merchant_id from lanes)
            group by merchant_id
          ), due as (
            -- Each lane's oldest due rows, at most what one claim can take, in the order of merchant_due_index
            -- (so the index hands them over: no scan or sort of the backlog).
            select d.* from lanes l cross join lateral (
              select n.id, n.merchant_id, n.next_attempt_at as due_at from notify.notifications n
              where n.merchant_id = l.merchant_id and n.status = 'pending' and n.next_attempt_at <= now()
                and (not l.ordered or not exists (
                  select 1 from notify.notifications o
                  where o.merchant_id = n.merchant_id and o.payment_id = n.payment_id and o.id <> n.id
                    and o.status in ('pending', 'delivering')
                    and (o.object_version < n.object_version or (o.object_version = n.object_version and (o.created_at, o.id) < (n.created_at, n.id)))))
              order by n.next_attempt_at
              limit ${limit}::int
            ) d
            union all
            -- Expired leases: their dispatcher died mid-attempt; order does not hold them back (they were first).
            select n.id, n.merchant_id, n.lease_until as due_at from notify.notifications n
            where n.status = 'delivering' and n.lease_until <= now() and n.merchant_id in (select merchant_id from lanes)
          ), ranked as (
            select id, merchant_id, due_at, row_number() over (partition by merchant_id order by due_at, id) as rn from due
          ), eligible as (
            select r.id, coalesce(s.max_concurrency, ${this.defaults.merchantConcurrency}::int) as ceiling from ranked r
            left join inflight i on i.merchant_id = r.merchant_id
            left join notify.merchant_settings s on s.merchant_id = r.merchant_id
            left join allowance a on a.merchant_id = r.merchant_id
            where r.rn <= least(
              coalesce(s.max_concurrency, ${this.defaults.merchantConcurrency}::int) - coalesce(i.n, 0),
              coalesce(a.n, ${defaultAllowance}::int))
            order by r.rn, r.due_at
            limit ${limit}::int
          ), locked as (
            select n.id, e.ceiling from notify.notifications n
            join eligible e on e.id = n.id
            where ((n.status = 'pending' and n.next_attempt_at <= now()) or (n.status = 'delivering' and n.lease_until <= now()))
            for update of n skip locked
          )
          -- Taking over an expired lease counts the attempt it held: made (the merchant may have received it) but
          -- never recorded, as its dispatcher died or could not reach the database. A redelivery then shows as
          -- the second attempt it is.
          update notify.notifications n
          set status = 'delivering', lease_until = now() + make_interval(secs => ${this.defaults.leaseMs / 1000}::double precision),
            lease_token = gen_random_uuid(), updated_at = now(),
            attempts = n.attempts + (case when n.status = 'delivering' then 1 else 0 end)
          from locked where n.id = locked.id
          returning ${pg.unsafe(NOTIFICATION_ROW)}, locked.ceiling as merchant_ceiling`,
        // Due work this claim could have taken but did not reach: a lane another replica held (SKIP LOCKED) or
        // beyond maxLanes. Lanes at their ceiling or this process's allowance do not count (no busy loop).
        pg<{ more: boolean }[]>`
          with allowance as (
            select * from unnest(${allowances.map(([m]) => m)}::text[], ${allowances.map(([, a]) => a)}::int[]) as a(merchant_id, n)
          )
          select exists (
            select 1 from notify.merchant_lanes l
            left join allowance a on a.merchant_id = l.merchant_id
            left join notify.merchant_settings s on s.merchant_id = l.merchant_id
            where l.claim_token is distinct from ${token}::uuid
              and (l.paused_until is null or l.paused_until <= now())
              and coalesce(a.n, ${defaultAllowance}::int) > 0
              and exists (select 1 from notify.notifications n where n.merchant_id = l.merchant_id and n.status = 'pending' and n.next_attempt_at <= now())
              and (select count(*) from notify.notifications n where n.merchant_id = l.merchant_id and n.status = 'delivering' and n.lease_until > now())
                < coalesce(s.max_concurrency, ${this.defaults.merchantConcurrency}::int)
          ) as more`,
        pg`commit`,
      ]);
      for (const step of steps) if (step.status === "rejected") throw step.reason;
      const [claimed, more] = [steps[3]!, steps[4]!];
      const rows =
        claimed.status === "fulfilled"
          ? claimed.value.map(
              (raw): ClaimedNotification => ({
                ...(toNotificationRow(raw) as NotificationRow & { leaseToken: string }),
                merchantCeiling: Number(raw.merchant_ceiling),
              }),
            )
          : [];
      return { claimed: rows, more: more.status === "fulfilled" && more.value[0]?.more === true };
    } finally {
      pg.release();
    }
  }

  /**
   * Records attempts and their consequences (see recordBatch) together. If the batch fails as a whole, each
   * attempt is recorded alone, so one that cannot be written (e.g. a byte Postgres refuses) costs no other
   * its record: that one alone fails, and its lease will expire and it will be tried again.
   */
  async recordAttempts(attempts: AttemptToRecord[]): Promise<Settled<RecordOutcome>[]> {
    try {
      return (await this.recordBatch(attempts)).map((value) => ({ ok: true, value }));
    } catch (err) {
      if (attempts.length === 1) return [{ ok: false, error: err }];
      return Promise.all(
        attempts.map((attempt) =>
          this.recordBatch([attempt]).then(
            ([value]): Settled<RecordOutcome> => ({ ok: true, value: value! }),
            (error: unknown): Settled<RecordOutcome> => ({ ok: false, error }),
          ),
        ),
      );
    }
  }

  /**
   * Records attempts in one statement (atomic; the merchants' schedules are read first when an attempt
   * failed): each attempt row and the notification's consequence, delivered (never sent again), the next
   * attempt's time on the merchant's schedule, or dead with its dead-letter event through the outbox.
   * Nothing is recorded for a claim whose lease was taken over meanwhile: the lease token must still match,
   * and as no two claims share a token, each notification row is updated at most once even if the batch
   * holds two claims of it. Answers in the order given.
   */
  private async recordBatch(attempts: AttemptToRecord[]): Promise<RecordOutcome[]> {
    if (attempts.length === 0) return [];
    const failedMerchants = new Set(
      attempts.filter((a) => a.result.outcome === "failed").map((a) => a.claim.merchantId),
    );
    const schedules = await this.schedulesOf([...failedMerchants]);
    const next = attempts.map(({ claim, result }) =>
      this.nextState(result, claim.seriesAttempts + 1, schedules.get(claim.merchantId) ?? this.defaults.schedule),
    );
    // The dead-letter event is built here; the statement stamps deadAt with the moment the row went dead.
    const outbox = attempts.map(({ claim, result }, i) =>
      next[i]!.status === "dead" ? deadLetterRow(claim, result) : null,
    );
    const pg = this.db.$client;
    const raw = await pg`
      with result as (
        select * from unnest(
          ${attempts.map((a) => a.claim.id)}::text[], ${attempts.map((a) => a.claim.leaseToken)}::uuid[],
          ${next.map((n) => n.status)}::text[], ${attempts.map((a) => a.claim.seriesAttempts + 1)}::int[], ${next.map((n) => n.offsetSeconds)}::float8[],
          ${attempts.map((a) => a.startedAt.toISOString())}::text[]::timestamptz[], ${attempts.map((a) => a.result.outcome)}::text[],
          ${attempts.map((a) => a.result.statusCode)}::int[], ${attempts.map((a) => a.result.latencyMs)}::int[],
          ${attempts.map((a) => a.result.responseBody)}::text[], ${attempts.map((a) => a.result.error)}::text[], ${attempts.map((a) => a.result.errorDetail)}::text[],
          ${outbox.map((o) => o?.eventId ?? null)}::uuid[], ${outbox.map((o) => o?.topic ?? null)}::text[],
          ${outbox.map((o) => o?.key ?? null)}::text[], ${outbox.map((o) => (o ? JSON.stringify(o.envelope) : null))}::text[],
          ${attempts.map((a) => retryAfterOf(a.result))}::float8[], ${attempts.map((a) => a.claim.merchantId)}::text[]
        ) as r(id, lease_token, next_status, series_attempts, offset_seconds, started_at, outcome, status_code, latency_ms,
          response_body, error, error_detail, outbox_event_id, outbox_topic, outbox_key, outbox_envelope, retry_after, merchant_id)
      ), paused as (
        -- The merchant asked every sender to wait: no replica starts a delivery to it before then.
        update notify.merchant_lanes l set paused_until = greatest(l.paused_until, now() + make_interval(secs => p.retry_after))
        from (select merchant_id, max(retry_after) as retry_after from result where retry_after is not null group by merchant_id) p
        where l.merchant_id = p.merchant_id
      ), updated as (
        update notify.notifications n set
          status = r.next_status,
          attempts = n.attempts + 1,
          series_attempts = r.series_attempts,
          lease_until = null,
          lease_token = null,
          last_error = r.error,
          last_status_code = r.status_code,
          updated_at = now(),
          delivered_at = case when r.next_status = 'delivered' then now() else n.delivered_at end,
          -- Offsets count from the series' start, so a slow attempt does not push the whole schedule back.
          -- A Retry-After later than the schedule's slot moves this attempt (never earlier than the schedule).
          next_attempt_at = case when r.next_status = 'pending' then greatest(now(), n.series_started_at + make_interval(secs => r.offset_seconds),
            now() + make_interval(secs => coalesce(r.retry_after, 0))) else n.next_attempt_at end
        from result r
        where n.id = r.id and n.lease_token = r.lease_token and n.status = 'delivering'
        returning ${pg.unsafe(NOTIFICATION_ROW)}, r.lease_token as claim_token, r.started_at, r.outcome, r.latency_ms, r.response_body,
          r.error_detail, r.outbox_event_id, r.outbox_topic, r.outbox_key, r.outbox_envelope
      ), attempt_rows as (
        insert into notify.delivery_attempts (notification_id, attempt_no, series, started_at, outcome, status_code, latency_ms, response_body, error, error_detail)
        select u.id, u.attempts, u.series, u.started_at, u.outcome, u."lastStatusCode", u.latency_ms, u.response_body, u."lastError", u.error_detail from updated u
      ), dead_letters as (
        insert into notify.outbox (event_id, topic, key, envelope)
        select u.outbox_event_id, u.outbox_topic, u.outbox_key,
          jsonb_set(u.outbox_envelope::jsonb, '{payload,deadAt}', to_jsonb(to_char(u."updatedAt" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
        from updated u where u.status = 'dead'
      )
      select ${pg.unsafe(NOTIFICATION_FIELDS)}, claim_token from updated`;
    // By claim, not only by id: of two claims of one notification (the first one's lease expired) only the
    // current one was recorded.
    const byClaim = new Map(raw.map((r) => [`${r.id} ${r.claim_token}`, toNotificationRow(r)]));
    return attempts.map(({ claim }): RecordOutcome => {
      const row = byClaim.get(`${claim.id} ${claim.leaseToken}`);
      return row ? { recorded: true, row, deadLettered: row.status === "dead" } : { recorded: false };
    });
  }

  /** Delivered, dead (refused, or no attempt left on the schedule), or pending until the next attempt. */
  private nextState(result: DeliveryResult, attemptsInSeries: number, schedule: readonly number[]): NextState {
    if (result.outcome === "delivered") return { status: "delivered", offsetSeconds: null };
    if (result.outcome === "refused") return { status: "dead", offsetSeconds: null };
    const after = nextAfterFailure(schedule, attemptsInSeries, this.defaults.jitterRatio);
    return after.retry
      ? { status: "pending", offsetSeconds: after.offsetSeconds }
      : { status: "dead", offsetSeconds: null };
  }

  /** Gives a claim back without counting an attempt (we could not even try, e.g. no signing key yet). */
  async release(claim: ClaimedNotification, delayMs: number): Promise<void> {
    await this.db
      .update(notifications)
      .set({
        status: "pending",
        leaseUntil: null,
        leaseToken: null,
        nextAttemptAt: sql`now() + ${secs(delayMs / 1000)}`,
        updatedAt: sql`now()`,
      })
      .where(
        and(
          eq(notifications.id, claim.id),
          eq(notifications.leaseToken, claim.leaseToken),
          eq(notifications.status, "delivering"),
        ),
      );
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
      .where(
        and(
          eq(notifications.id, id),
          eq(notifications.merchantId, merchantId),
          inArray(notifications.status, ["pending", "delivered", "dead"]),
        ),
      )
      .returning();
    if (row) return row;
    const [current] = await this.db
      .select()
      .from(notifications)
      .where(and(eq(notifications.id, id), eq(notifications.merchantId, merchantId)));
    return current ?? null;
  }

  /** A merchant's notifications (newest first), each with its attempts in order. */
  async list(query: {
    merchantId: string;
    paymentId?: string;
    limit: number;
  }): Promise<{ rows: (NotificationRow & { attemptRows: AttemptRow[] })[]; hasMore: boolean }> {
    const where = query.paymentId
      ? and(eq(notifications.merchantId, query.merchantId), eq(notifications.paymentId, query.paymentId))
      : eq(notifications.merchantId, query.merchantId);
    const rows = await this.db
      .select()
      .from(notifications)
      .where(where)
      .orderBy(desc(notifications.createdAt), desc(notifications.id))
      .limit(query.limit + 1);
    const page = rows.slice(0, query.limit);
    return { rows: await this.withAttempts(page), hasMore: rows.length > query.limit };
  }

  async withAttempts(rows: NotificationRow[]): Promise<(NotificationRow & { attemptRows: AttemptRow[] })[]> {
    if (rows.length === 0) return [];
    const attempts = await this.db
      .select()
      .from(deliveryAttempts)
      .where(
        inArray(
          deliveryAttempts.notificationId,
          rows.map((r) => r.id),
        ),
      )
      .orderBy(asc(deliveryAttempts.notificationId), asc(deliveryAttempts.attemptNo));
    const byId = new Map<string, AttemptRow[]>();
    for (const a of attempts) byId.set(a.notificationId, [...(byId.get(a.notificationId) ?? []), a]);
    return rows.map((r) => ({ ...r, attemptRows: byId.get(r.id) ?? [] }));
  }

  async getSettings(merchantId: string): Promise<SettingsRow | null> {
    const [row] = await this.db
      .select()
      .from(notifyMerchantSettings)
      .where(eq(notifyMerchantSettings.merchantId, merchantId));
    return row ?? null;
  }

  async putSettings(
    merchantId: string,
    settings: { scheduleSeconds: number[] | null; maxConcurrency: number | null; orderedDelivery?: boolean },
  ): Promise<SettingsRow> {
    const [row] = await this.db
      .insert(notifyMerchantSettings)
      .values({ merchantId, ...settings })
      .onConflictDoUpdate({ target: notifyMerchantSettings.merchantId, set: { ...settings, updatedAt: sql`now()` } })
      .returning();
    return row!;
  }

  /**
   * The backlog for metrics: per merchant (the `top` largest), notifications not yet delivered or dead, and
   * how long the oldest due one has waited past its due time (0 when nothing is due). A due notification
   * waiting is what an alert should see; one waiting for a retry hours away is the schedule working.
   */
  async backlog(top = 50): Promise<{
    merchants: { merchantId: string; open: number; due: number; oldestDueSeconds: number }[];
    oldestDueSeconds: number;
  }> {
    const rows = await this.db.$client<{ merchantId: string; open: number; due: number; oldestDueSeconds: number }[]>`
      select merchant_id as "merchantId", count(*)::int as open,
        count(*) filter (where due_at <= now())::int as due,
        coalesce(extract(epoch from now() - min(due_at) filter (where due_at <= now())), 0)::float8 as "oldestDueSeconds"
      from (
        select merchant_id, case when status = 'pending' then next_attempt_at else lease_until end as due_at
        from notify.notifications where status in ('pending', 'delivering')
      ) open_rows
      group by merchant_id
      order by count(*) desc
      limit ${top}::int`;
    const [all] = await this.db.$client<{ oldest: number }[]>`
      select coalesce(extract(epoch from now() - min(due_at)), 0)::float8 as oldest from (
        select min(next_attempt_at) as due_at from notify.notifications where status = 'pending' and next_attempt_at <= now()
        union all
        select min(lease_until) from notify.notifications where status = 'delivering' and lease_until <= now()
      ) d`;
    return { merchants: rows, oldestDueSeconds: all?.oldest ?? 0 };
  }
}
