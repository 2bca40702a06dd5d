import { asc, eq, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { routingAttempts, routingDecisions } from "@pps/db/schema";
import { type AttemptResult, channelEvents, type Envelope } from "@pps/messaging";
import { Coalescer, type Settled, settleInRounds } from "@pps/runtime";
import type { AttemptRef } from "./attempt-result.ts";
import type { RoutingInput, Candidate } from "./ranking.ts";
import { type AttemptStatus, FINAL_ATTEMPT_STATUSES, type OutcomeUpdate } from "./resolution-policy.ts";
import {
  CONSUMER,
  claimDueStatement,
  iso,
  outboxInsert,
  outcomeUpdate,
  queriedTable,
  settleByCallback,
} from "./routing-sql.ts";

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

export type AttemptUpdate = OutcomeUpdate<AttemptStatus> & { channelTxnId: string | null };

export type DueAttempt = AttemptRef & {
  status: AttemptStatus;
  channelTxnId: string | null;
  queryCount: number;
  createdAt: number;
  expiresAt: number;
};

// Hot-path writes are single statements (data-modifying CTEs), and concurrent callers share them: `begin` and
// `complete` go through a Coalescer, so the calls that arrive together become one set-based statement (one
// round trip, one commit) over rows given as one jsonb array.

/** One `begin`: the consumed message, the decision, the first attempt, and the no-route event if any. */
export type BeginItem = {
  messageId: string;
  decision: DecisionRecord;
  attempt: NewAttempt;
  noRouteEvent: Envelope<AttemptResult> | null;
};
/** `claimed` false: a redelivery; `started` false: the payment was already routed. */
export type BeginResult = { claimed: boolean; started: boolean };
/** One `complete`: the attempt, the status (and query count) it must still have, its update and event. */
export type CompleteItem = {
  id: string;
  from: { status: AttemptStatus; queryCount?: number };
  update: AttemptUpdate;
  event: Envelope<AttemptResult> | null;
};

export type AttemptStoreOptions = {
  /** Calls in one batch statement at most. */
  maxBatch?: number;
  /** Batch statements running at once (each holds a connection). */
  maxInFlight?: number;
};

const TERMINAL = FINAL_ATTEMPT_STATUSES;
const ATTEMPTS = queriedTable("routing.attempts", "channel_txn_id", TERMINAL);
const byKey =
  <T>(key: (item: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

function beginRow({ messageId, decision: d, attempt: a, noRouteEvent: e }: BeginItem) {
  return {
    message_id: messageId,
    payment_id: d.paymentId,
    decision_attempt_no: d.attemptNo,
    product: d.input.product,
    amount: d.input.amount,
    currency: d.input.currency,
    bank_code: d.input.bankCode,
    wallet: d.input.wallet,
    candidates: d.candidates,
    winner: d.winner,
    reason: d.reason,
    id: a.id,
    attempt_payment_id: a.paymentId,
    attempt_no: a.attemptNo,
    channel: a.channel,
    status: a.status,
    attempt_amount: a.amount,
    attempt_currency: a.currency,
    expires_at: iso(a.expiresAt),
    next_query_at: iso(a.nextQueryAt),
    failure_code: a.failureCode ?? null,
    last_error: a.lastError ?? null,
    terminal: TERMINAL.includes(a.status),
    event_id: e?.id ?? null,
    event_key: e?.aggregateId ?? null,
    event: e,
  };
}

function completeRow({ id, from, update: u, event: e }: CompleteItem) {
  return {
    id,
    from_status: from.status,
    from_query_count: from.queryCount ?? null,
    status: u.status,
    channel_txn_id: u.channelTxnId,
    failure_code: u.failureCode,
    last_error: u.lastError,
    next_query_at: iso(u.nextQueryAt),
    reset_query_count: u.resetQueryCount,
    terminal: TERMINAL.includes(u.status),
    event_id: e?.id ?? null,
    event_key: e?.aggregateId ?? null,
    event: e,
  };
}

function decisionValues(d: DecisionRecord) {
  return sql`${d.paymentId}::text, ${d.attemptNo}::int, ${d.input.product}::text, ${d.input.amount}::bigint, ${d.input.currency}::text,
    ${d.input.bankCode}::text, ${d.input.wallet}::text, ${JSON.stringify(d.candidates)}::jsonb, ${d.winner}::text, ${d.reason}::text`;
}

function attemptValues(a: NewAttempt) {
  return sql`${a.id}::text, ${a.paymentId}::text, ${a.attemptNo}::int, ${a.channel}::text, ${a.status}::text, ${a.amount}::bigint,
    ${a.currency}::text, ${iso(a.expiresAt)}::timestamptz, ${iso(a.nextQueryAt)}::timestamptz, ${a.failureCode ?? null}::text, ${a.lastError ?? null}::text,
    ${TERMINAL.includes(a.status) ? sql`now()` : sql`null::timestamptz`}`;
}

const DECISION_COLUMNS = sql.raw(
  "payment_id, attempt_no, product, amount, currency, bank_code, wallet, candidates, winner, reason",
);
const ATTEMPT_COLUMNS = sql.raw(
  "id, payment_id, attempt_no, channel, status, amount, currency, expires_at, next_query_at, failure_code, last_error, completed_at",
);

export class AttemptStore {
  private readonly begins: Coalescer<BeginItem, BeginResult>;
  private readonly completes: Coalescer<CompleteItem, boolean>;

  constructor(
    private readonly db: Database,
    opts: AttemptStoreOptions = {},
  ) {
    this.begins = new Coalescer({ ...opts, run: (items) => this.beginAll(items) });
    this.completes = new Coalescer({ ...opts, run: (items) => this.completeAll(items) });
  }

  /**
   * For a consumed payment.processing: claims the message in the inbox and, if the payment has no attempt
   * yet, records the decision and the first attempt (status `sending`, or `failed` with its outbox event when
   * no channel can take it). `claimed` false: a redelivery; `started` false: the payment was already routed.
   */
  begin(
    messageId: string,
    decision: DecisionRecord,
    attempt: NewAttempt,
    noRouteEvent: Envelope<AttemptResult> | null,
  ): Promise<BeginResult> {
    return this.begins.submit({ messageId, decision, attempt, noRouteEvent });
  }

  /**
   * Begins these together (what concurrent `begin` calls share), one statement per round: a message or a
   * payment that comes twice waits for the next round, so it sees the first one's claim and attempt.
   */
  beginAll(items: readonly BeginItem[]): Promise<Settled<BeginResult>[]> {
    // Message ids compare as uuids (any letter case); rows are matched back by the id as given.
    return settleInRounds(
      items,
      (i) => [`message:${i.messageId.toLowerCase()}`, `payment:${i.decision.paymentId}`],
      (round) => this.beginRound(round),
    );
  }

  private async beginRound(items: BeginItem[]): Promise<BeginResult[]> {
    // Payment order, so concurrent batches meeting on the same payments take their index locks in one order.
    const rows = [...items].sort(byKey((i) => i.decision.paymentId)).map(beginRow);
    const [result] = await this.db.$client<{ claimed: string[]; started: string[] }[]>`
      with input as (
        select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as i(
          message_id text, payment_id text, decision_attempt_no int, product text, amount bigint, currency text, bank_code text, wallet text,
          candidates jsonb, winner text, reason text, id text, attempt_payment_id text, attempt_no int, channel text, status text,
          attempt_amount bigint, attempt_currency text, expires_at timestamptz, next_query_at timestamptz, failure_code text, last_error text,
          terminal boolean, event_id uuid, event_key text, event jsonb)
      ), claimed as (
        insert into routing.inbox (consumer, message_id) select ${CONSUMER}::text, message_id::uuid from input
        on conflict do nothing returning message_id
      ), fresh as (
        select i.* from input i join claimed c on c.message_id = i.message_id::uuid
        where (select 1 from routing.attempts a where a.payment_id = i.payment_id limit 1) is null  -- a per-row index probe; "not exists" becomes a hash anti-join over the whole table
          and (select 1 from routing.waiting_payments w where w.payment_id = i.payment_id) is null  -- waiting for a channel: routed by the waiter
      ), d as (
        insert into routing.decisions (payment_id, attempt_no, product, amount, currency, bank_code, wallet, candidates, winner, reason)
        select payment_id, decision_attempt_no, product, amount, currency, bank_code, wallet, candidates, winner, reason from fresh
        on conflict do nothing returning id
      ), a as (
        insert into routing.attempts (id, payment_id, attempt_no, channel, status, amount, currency, expires_at, next_query_at, failure_code, last_error, completed_at)
        select id, attempt_payment_id, attempt_no, channel, status, attempt_amount, attempt_currency, expires_at, next_query_at, failure_code, last_error,
          case when terminal then now() end
        from fresh
        on conflict do nothing returning id
      ), o as (
        insert into routing.outbox (event_id, topic, key, envelope)
        select f.event_id, ${OUTBOX_TOPIC}::text, f.event_key, f.event from fresh f join a using (id) where f.event is not null
        returning id
      )
      select array(select i.message_id from input i join claimed c on c.message_id = i.message_id::uuid) as claimed, array(select id from a) as started`;
    const claimed = new Set(result?.claimed);
    const started = new Set(result?.started);
    return items.map((i) => ({ claimed: claimed.has(i.messageId), started: started.has(i.attempt.id) }));
  }

  /**
   * Records an attempt's outcome and its event together, only if the attempt is still in the status we
   * saw (and, for the resolver, still under our claim). False: someone else got there first; nothing changed.
   */
  complete(
    id: string,
    from: { status: AttemptStatus; queryCount?: number },
    u: AttemptUpdate,
    event: Envelope<AttemptResult> | null,
  ): Promise<boolean> {
    return this.completes.submit({ id, from, update: u, event });
  }

  /**
   * Completes these together (what concurrent `complete` calls share), one statement per round, each
   * answering for itself whether its condition held. An attempt that comes twice waits for the next round
   * (an UPDATE ... FROM with two rows for one attempt would apply only one), so it sees the first outcome.
   */
  completeAll(items: readonly CompleteItem[]): Promise<Settled<boolean>[]> {
    return settleInRounds(
      items,
      (i) => [i.id],
      (round) => this.completeRound(round),
    );
  }

  private async completeRound(items: CompleteItem[]): Promise<boolean[]> {
    const rows = [...items].sort(byKey((i) => i.id)).map(completeRow);
    const [result] = await this.db.$client<{ done: string[] }[]>`
      with input as (
        select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as i(
          id text, from_status text, from_query_count int, status text, channel_txn_id text, failure_code text, last_error text,
          next_query_at timestamptz, reset_query_count boolean, terminal boolean, event_id uuid, event_key text, event jsonb)
      ), u as (
        update routing.attempts a set
          status = i.status,
          channel_txn_id = coalesce(i.channel_txn_id, a.channel_txn_id),
          failure_code = i.failure_code,
          last_error = coalesce(i.last_error, a.last_error),
          next_query_at = i.next_query_at,
          query_count = case when i.reset_query_count then 0 else a.query_count end,
          updated_at = now(),
          completed_at = case when i.terminal then now() else a.completed_at end
        from input i
        where a.id = i.id and a.status = i.from_status and (i.from_query_count is null or a.query_count = i.from_query_count)
        returning a.id
      ), o as (
        insert into routing.outbox (event_id, topic, key, envelope)
        select i.event_id, ${OUTBOX_TOPIC}::text, i.event_key, i.event from input i join u using (id) where i.event is not null
        returning id
      )
      select array(select id from u) as done`;
    const done = new Set(result?.done);
    return items.map((i) => done.has(i.id));
  }

  /**
   * A channel's callback settled this attempt (payment-api's payment.internal.channel_settled): claims the
   * message and stops the attempt being queried, in one statement. An attempt not final yet takes the
   * callback's outcome, so a call still in flight finds it moved and reports nothing (its `complete` is
   * conditional on `sending`); one already final keeps its status (payment-api applies whatever comes
   * later). `claimed` false: a redelivery; `settled` false: no such attempt.
   */
  settleByCallback(
    messageId: string,
    id: string,
    outcome: "succeeded" | "failed" | "authorized",
  ): Promise<{ claimed: boolean; settled: boolean }> {
    return settleByCallback(this.db, ATTEMPTS, messageId, id, outcome);
  }

  /**
   * Failover: the failed attempt with its willRetry=true event, the new decision and the next attempt, in
   * one statement (so one transaction): the inserts read the update's row, so nothing is written when the
   * failed attempt was no longer ours (false), and a conflicting insert undoes the update too.
   */
  async failover(
    failed: { id: string; update: AttemptUpdate; event: Envelope<AttemptResult> },
    decision: DecisionRecord,
    next: NewAttempt,
  ): Promise<boolean> {
    const rows = await this.db.execute<{ n: number }>(sql`
      with u as (${outcomeUpdate(ATTEMPTS, failed.id, { status: "sending" }, failed.update, failed.update.channelTxnId)}),
      o as (${outboxInsert(OUTBOX_TOPIC, failed.event)} from u returning id),
      d as (insert into routing.decisions (${DECISION_COLUMNS}) select ${decisionValues(decision)} from u returning id),
      a as (insert into routing.attempts (${ATTEMPT_COLUMNS}) select ${attemptValues(next)} from u returning id)
      select (select count(*) from u)::int as n`);
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Claims attempts whose query is due, under a lease of `leaseMs` (claimDueStatement). */
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
    }>(
      claimDueStatement(
        ATTEMPTS,
        limit,
        leaseMs,
        "id, payment_id, attempt_no, channel, status, amount, currency, channel_txn_id, query_count, created_at, expires_at",
      ),
    );
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
    return this.db
      .select()
      .from(routingDecisions)
      .where(eq(routingDecisions.paymentId, paymentId))
      .orderBy(asc(routingDecisions.attemptNo));
  }

  async attemptsFor(paymentId: string) {
    return this.db
      .select()
      .from(routingAttempts)
      .where(eq(routingAttempts.paymentId, paymentId))
      .orderBy(asc(routingAttempts.attemptNo));
  }
}
