import { sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { type AttemptResult, channelEvents, type Envelope, type InternalPaymentSnapshot } from "@pps/messaging";
import type { AttemptUpdate, DecisionRecord, NewAttempt } from "./attempt-store.ts";
import { FINAL_ATTEMPT_STATUSES } from "./resolution-policy.ts";
import { inboxClaim, iso, outboxInsert } from "./routing-sql.ts";

const OUTBOX_TOPIC = channelEvents.attemptResult.topic;

/** What a payment needs while it waits for a channel. */
export type WaitingRow = {
  paymentId: string;
  /** The number its next attempt gets. */
  attemptNo: number;
  payment: InternalPaymentSnapshot;
  waitUntil: number;
  nextTryAt: number;
  reason: string;
};

export type ClaimedWaiting = WaitingRow & { claimId: string; tries: number };

function waitingValues(w: WaitingRow) {
  return sql`${w.paymentId}::text, ${w.attemptNo}::int, ${JSON.stringify(w.payment)}::jsonb, ${iso(w.waitUntil)}::timestamptz,
    ${iso(w.nextTryAt)}::timestamptz, ${w.reason}::text`;
}
const WAITING_COLUMNS = sql.raw("payment_id, attempt_no, payment, wait_until, next_try_at, last_reason");

function attemptInsert(a: NewAttempt) {
  const terminal = FINAL_ATTEMPT_STATUSES.includes(a.status);
  return sql`insert into routing.attempts (id, payment_id, attempt_no, channel, status, amount, currency, expires_at, next_query_at, failure_code, last_error, completed_at)
    select ${a.id}::text, ${a.paymentId}::text, ${a.attemptNo}::int, ${a.channel}::text, ${a.status}::text, ${a.amount}::bigint,
      ${a.currency}::text, ${iso(a.expiresAt)}::timestamptz, ${iso(a.nextQueryAt)}::timestamptz, ${a.failureCode ?? null}::text,
      ${a.lastError ?? null}::text, ${terminal ? sql`now()` : sql`null::timestamptz`}`;
}

function decisionInsert(d: DecisionRecord) {
  return sql`insert into routing.decisions (payment_id, attempt_no, product, amount, currency, bank_code, wallet, candidates, winner, reason)
    select ${d.paymentId}::text, ${d.attemptNo}::int, ${d.input.product}::text, ${d.input.amount}::bigint, ${d.input.currency}::text,
      ${d.input.bankCode}::text, ${d.input.wallet}::text, ${JSON.stringify(d.candidates)}::jsonb, ${d.winner}::text, ${d.reason}::text`;
}

/**
 * routing.waiting_payments: payments waiting for a channel to recover. Every change is one statement, so a
 * crash leaves a payment either waiting or routed (or given up), never both or neither.
 */
export class WaitingStore {
  constructor(private readonly db: Database) {}

  /**
   * For a consumed payment.processing that no channel can take now: claims the message in the inbox and, if
   * the payment has no attempt and is not waiting yet, makes it wait. Like `AttemptStore.begin`.
   */
  async park(messageId: string, row: WaitingRow): Promise<{ claimed: boolean; started: boolean }> {
    const rows = await this.db.execute<{ claimed: number; started: number }>(sql`
      with claimed as (${inboxClaim(messageId)}), w as (
        insert into routing.waiting_payments (${WAITING_COLUMNS})
        select ${waitingValues(row)} from claimed
        where not exists (select 1 from routing.attempts a where a.payment_id = ${row.paymentId}::text)
        on conflict do nothing returning payment_id
      )
      select (select count(*) from claimed)::int as claimed, (select count(*) from w)::int as started`);
    return { claimed: (rows[0]?.claimed ?? 0) > 0, started: (rows[0]?.started ?? 0) > 0 };
  }

  /**
   * The attempt failed as unavailable and no other channel can take the payment: records the failure with its
   * willRetry=true event and makes the payment wait, in one statement. False: the attempt was settled elsewhere.
   */
  async failAndWait(
    failed: { id: string; update: AttemptUpdate; event: Envelope<AttemptResult> },
    row: WaitingRow,
  ): Promise<boolean> {
    const u = failed.update;
    const rows = await this.db.execute<{ n: number }>(sql`
      with u as (
        update routing.attempts set status = ${u.status}::text, channel_txn_id = coalesce(${u.channelTxnId}::text, channel_txn_id),
          failure_code = ${u.failureCode}::text, last_error = coalesce(${u.lastError}::text, last_error),
          next_query_at = null, query_count = 0, updated_at = now(), completed_at = now()
        where id = ${failed.id}::text and status = 'sending'
        returning id
      ), o as (${outboxInsert(OUTBOX_TOPIC, failed.event)} from u returning id),
      w as (
        insert into routing.waiting_payments (${WAITING_COLUMNS}) select ${waitingValues(row)} from u
        on conflict do nothing returning payment_id
      )
      select (select count(*) from u)::int as n`);
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Claims waiting payments due for another try, pushing their next try out by `leaseMs` meanwhile. */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedWaiting[]> {
    const rows = await this.db.execute<{
      payment_id: string;
      attempt_no: number;
      payment: InternalPaymentSnapshot;
      wait_until: string | Date;
      next_try_at: string | Date;
      claim_id: string;
      tries: number;
      last_reason: string | null;
    }>(sql`
      update routing.waiting_payments set next_try_at = now() + make_interval(secs => ${leaseMs / 1000}::float8),
        claim_id = gen_random_uuid()::text, tries = tries + 1
      where payment_id in (
        select payment_id from routing.waiting_payments where next_try_at <= now() order by next_try_at
        limit ${limit}::int for update skip locked
      )
      returning payment_id, attempt_no, payment, wait_until, next_try_at, claim_id, tries, last_reason`);
    return rows.map((r) => ({
      paymentId: r.payment_id,
      attemptNo: r.attempt_no,
      payment: r.payment,
      waitUntil: new Date(r.wait_until).getTime(),
      nextTryAt: new Date(r.next_try_at).getTime(),
      claimId: r.claim_id,
      tries: r.tries,
      reason: r.last_reason ?? "",
    }));
  }

  /** A channel can take it: the row (and the contact data with it) goes, the decision and attempt come. */
  async route(w: ClaimedWaiting, decision: DecisionRecord, attempt: NewAttempt): Promise<boolean> {
    const rows = await this.db.execute<{ n: number }>(sql`
      with w as (
        delete from routing.waiting_payments where payment_id = ${w.paymentId}::text and claim_id = ${w.claimId}::text
        returning payment_id
      ), d as (${decisionInsert(decision)} from w on conflict do nothing returning id),
      a as (${attemptInsert(attempt)} from w returning id)
      select (select count(*) from a)::int as n`);
    return (rows[0]?.n ?? 0) > 0;
  }

  /** It cannot wait any longer: the row goes, the failed attempt on channel `none` and its event come. */
  async giveUp(
    w: ClaimedWaiting,
    decision: DecisionRecord,
    attempt: NewAttempt,
    event: Envelope<AttemptResult>,
  ): Promise<boolean> {
    const rows = await this.db.execute<{ n: number }>(sql`
      with w as (
        delete from routing.waiting_payments where payment_id = ${w.paymentId}::text and claim_id = ${w.claimId}::text
        returning payment_id
      ), d as (${decisionInsert(decision)} from w on conflict do nothing returning id),
      a as (${attemptInsert(attempt)} from w returning id),
      o as (${outboxInsert(OUTBOX_TOPIC, event)} from a returning id)
      select (select count(*) from a)::int as n`);
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Still no channel: try again at `nextTryAt`. */
  async retryLater(w: ClaimedWaiting, nextTryAt: number, reason: string): Promise<void> {
    await this.db.execute(sql`
      update routing.waiting_payments set next_try_at = ${iso(nextTryAt)}::timestamptz, claim_id = null, last_reason = ${reason}::text
      where payment_id = ${w.paymentId}::text and claim_id = ${w.claimId}::text`);
  }

  async waitingCount(): Promise<number> {
    const rows = await this.db.execute<{ n: number }>(sql`select count(*)::int as n from routing.waiting_payments`);
    return rows[0]?.n ?? 0;
  }
}
