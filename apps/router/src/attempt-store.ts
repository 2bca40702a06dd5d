import { asc, eq, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { routingAttempts, routingDecisions } from "@pps/db/schema";
import { type AttemptResult, channelEvents, type Envelope } from "@pps/messaging";
import type { AttemptRef } from "./attempt-result.ts";
import type { RoutingInput, Candidate } from "./ranking.ts";
import type { AttemptStatus } from "./resolution-policy.ts";

/** The consumer name in routing.inbox. */
export const CONSUMER = "router";

const OUTBOX_TOPIC = channelEvents.attemptResult.topic;

export type DecisionRecord = {
  paymentId: string;
  attemptNo: number;
  input: RoutingInput;
  candidates: Candidate[];
  winner: string | null;
  reason: "initial" | "failover";
};

export type NewAttempt = AttemptRef & {
  status: AttemptStatus;
  expiresAt: number;
  nextQueryAt: number | null;
  failureCode?: string | null;
  lastError?: string | null;
};

export type AttemptUpdate = {
  status: AttemptStatus;
  channelTxnId: string | null;
  failureCode: string | null;
  lastError: string | null;
  nextQueryAt: number | null;
  /** Start the query schedule of the new status from the beginning. */
  resetQueryCount: boolean;
};

export type DueAttempt = AttemptRef & {
  status: AttemptStatus;
  channelTxnId: string | null;
  queryCount: number;
  createdAt: number;
  expiresAt: number;
};

const TERMINAL: readonly AttemptStatus[] = ["succeeded", "failed"];
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

// The statements below are single round trips (data-modifying CTEs) on purpose: at the throughput we aim for,
// BEGIN / COMMIT and one statement per table would triple the database work per payment.

function decisionValues(d: DecisionRecord) {
  return sql`${d.paymentId}::text, ${d.attemptNo}::int, ${d.input.product}::text, ${d.input.amount}::bigint, ${d.input.currency}::text,
    ${d.input.bankCode}::text, ${d.input.wallet}::text, ${JSON.stringify(d.candidates)}::jsonb, ${d.winner}::text, ${d.reason}::text`;
}

function attemptValues(a: NewAttempt) {
  return sql`${a.id}::text, ${a.paymentId}::text, ${a.attemptNo}::int, ${a.channel}::text, ${a.status}::text, ${a.amount}::bigint,
    ${a.currency}::text, ${iso(a.expiresAt)}::timestamptz, ${iso(a.nextQueryAt)}::timestamptz, ${a.failureCode ?? null}::text, ${a.lastError ?? null}::text,
    ${TERMINAL.includes(a.status) ? sql`now()` : sql`null::timestamptz`}`;
}

const DECISION_COLUMNS = sql.raw("payment_id, attempt_no, product, amount, currency, bank_code, wallet, candidates, winner, reason");
const ATTEMPT_COLUMNS = sql.raw("id, payment_id, attempt_no, channel, status, amount, currency, expires_at, next_query_at, failure_code, last_error, completed_at");

function outboxValues(envelope: Envelope<AttemptResult>) {
  return sql`${envelope.id}::uuid, ${OUTBOX_TOPIC}::text, ${envelope.aggregateId}::text, ${JSON.stringify(envelope)}::jsonb`;
}

export class AttemptStore {
  constructor(private readonly db: Database) {}

  /**
   * For a consumed payment.processing: claims the message in the inbox and, if the payment has no attempt
   * yet, records the decision and the first attempt (status `sending`, or `failed` with its outbox event when
   * no channel can take it). `claimed` false: a redelivery; `started` false: the payment was already routed.
   */
  async begin(messageId: string, decision: DecisionRecord, attempt: NewAttempt, noRouteEvent: Envelope<AttemptResult> | null): Promise<{ claimed: boolean; started: boolean }> {
    const rows = await this.db.execute<{ claimed: number; started: number }>(sql`
      with claimed as (
        insert into routing.inbox (consumer, message_id) values (${CONSUMER}::text, ${messageId}::uuid)
        on conflict do nothing returning message_id
      ), fresh as (
        select 1 from claimed where not exists (select 1 from routing.attempts where payment_id = ${decision.paymentId}::text)
      ), d as (
        insert into routing.decisions (${DECISION_COLUMNS}) select ${decisionValues(decision)} from fresh
        on conflict do nothing returning id
      ), a as (
        insert into routing.attempts (${ATTEMPT_COLUMNS}) select ${attemptValues(attempt)} from fresh
        on conflict do nothing returning id
      )${
        noRouteEvent
          ? sql`, o as (insert into routing.outbox (event_id, topic, key, envelope) select ${outboxValues(noRouteEvent)} from a returning id)`
          : sql``
      }
      select (select count(*) from claimed)::int as claimed, (select count(*) from a)::int as started`);
    const row = rows[0];
    return { claimed: (row?.claimed ?? 0) > 0, started: (row?.started ?? 0) > 0 };
  }

  private updateStatement(id: string, from: { status: AttemptStatus; queryCount?: number }, u: AttemptUpdate) {
    return sql`update routing.attempts set
        status = ${u.status}::text,
        channel_txn_id = coalesce(${u.channelTxnId}::text, channel_txn_id),
        failure_code = ${u.failureCode}::text,
        last_error = coalesce(${u.lastError}::text, last_error),
        next_query_at = ${iso(u.nextQueryAt)}::timestamptz,
        query_count = ${u.resetQueryCount ? sql`0` : sql`query_count`},
        updated_at = now(),
        completed_at = ${TERMINAL.includes(u.status) ? sql`now()` : sql`completed_at`}
      where id = ${id}::text and status = ${from.status}::text${from.queryCount === undefined ? sql`` : sql` and query_count = ${from.queryCount}::int`}
      returning id`;
  }

  /**
   * Records an attempt's outcome and its event together, only if the attempt is still in the status we
   * saw (and, for the resolver, still under our claim). False: someone else got there first; nothing changed.
   */
  async complete(id: string, from: { status: AttemptStatus; queryCount?: number }, u: AttemptUpdate, event: Envelope<AttemptResult> | null): Promise<boolean> {
    const rows = event
      ? await this.db.execute<{ n: number }>(sql`
          with u as (${this.updateStatement(id, from, u)}),
          o as (insert into routing.outbox (event_id, topic, key, envelope) select ${outboxValues(event)} from u returning id)
          select (select count(*) from u)::int as n`)
      : await this.db.execute<{ n: number }>(sql`with u as (${this.updateStatement(id, from, u)}) select (select count(*) from u)::int as n`);
    return (rows[0]?.n ?? 0) > 0;
  }

  /**
   * Failover: the failed attempt with its willRetry=true event, the new decision and the next attempt, in
   * one transaction. False: the failed attempt was no longer ours (nothing written).
   */
  async failover(failed: { id: string; update: AttemptUpdate; event: Envelope<AttemptResult> }, decision: DecisionRecord, next: NewAttempt): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const done = await tx.execute<{ n: number }>(sql`
        with u as (${this.updateStatement(failed.id, { status: "sending" }, failed.update)}),
        o as (insert into routing.outbox (event_id, topic, key, envelope) select ${outboxValues(failed.event)} from u returning id)
        select (select count(*) from u)::int as n`);
      if ((done[0]?.n ?? 0) === 0) return false;
      await tx.execute(sql`insert into routing.decisions (${DECISION_COLUMNS}) values (${decisionValues(decision)})`);
      await tx.execute(sql`insert into routing.attempts (${ATTEMPT_COLUMNS}) values (${attemptValues(next)})`);
      return true;
    });
  }

  /**
   * Claims attempts whose query is due, pushing their next_query_at out by `leaseMs` so no other replica
   * takes them meanwhile, and counting the query.
   */
  async claimDue(limit: number, leaseMs: number): Promise<DueAttempt[]> {
    const rows = await this.db.execute<{
      id: string;
      payment_id: string;
      attempt_no: number;
      channel: string;
      status: AttemptStatus;
      amount: string | number;
      currency: string;
      channel_txn_id: string | null;
      query_count: number;
      created_at: string | Date;
      expires_at: string | Date;
    }>(sql`
      update routing.attempts set next_query_at = now() + make_interval(secs => ${leaseMs / 1000}::float8), query_count = query_count + 1
      where id in (
        select id from routing.attempts where next_query_at <= now() order by next_query_at limit ${limit}::int for update skip locked
      )
      returning id, payment_id, attempt_no, channel, status, amount, currency, channel_txn_id, query_count, created_at, expires_at`);
    return rows.map((r) => ({
      id: r.id,
      paymentId: r.payment_id,
      attemptNo: r.attempt_no,
      channel: r.channel,
      status: r.status,
      amount: Number(r.amount),
      currency: r.currency,
      channelTxnId: r.channel_txn_id,
      queryCount: r.query_count,
      createdAt: new Date(r.created_at).getTime(),
      expiresAt: new Date(r.expires_at).getTime(),
    }));
  }

  async decisionsFor(paymentId: string) {
    return this.db.select().from(routingDecisions).where(eq(routingDecisions.paymentId, paymentId)).orderBy(asc(routingDecisions.attemptNo));
  }

  async attemptsFor(paymentId: string) {
    return this.db.select().from(routingAttempts).where(eq(routingAttempts.paymentId, paymentId)).orderBy(asc(routingAttempts.attemptNo));
  }
}
