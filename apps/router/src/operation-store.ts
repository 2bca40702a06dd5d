import { asc, eq, sql } from "drizzle-orm";
import type { OperationRequest } from "@pps/channels";
import type { Database } from "@pps/db";
import { routingOperationCalls } from "@pps/db/schema";
import { channelEvents, type Envelope, type OperationResult } from "@pps/messaging";
import { CONSUMER } from "./attempt-store.ts";
import {
  FINAL_OPERATION_CALL_STATUSES,
  type OperationCallStatus,
  type OperationCallUpdate,
} from "./operation-policy.ts";
import type { OperationCallRef } from "./operation-result.ts";

const OUTBOX_TOPIC = channelEvents.operationResult.topic;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const FINAL_LIST = sql.join(
  FINAL_OPERATION_CALL_STATUSES.map((s) => sql`${s}::text`),
  sql`, `,
);

/** A call about to be made: recorded `sending` before the request leaves, so a crash leaves it to the resolver. */
export type NewOperationCall = OperationCallRef & {
  /** What the channel is sent, kept for its queries (the same request number, never a new one). */
  request: OperationRequest;
  nextQueryAt: number;
};

export type DueOperationCall = OperationCallRef & {
  status: OperationCallStatus;
  request: OperationRequest;
  queryCount: number;
  createdAt: number;
};

function outboxInsert(e: Envelope<OperationResult>) {
  return sql`insert into routing.outbox (event_id, topic, key, envelope)
    select ${e.id}::uuid, ${OUTBOX_TOPIC}::text, ${e.aggregateId}::text, ${JSON.stringify(e)}::jsonb`;
}

/**
 * routing.operation_calls: one row per operation (id = the operation's id, the channel's request number).
 * Every change is one conditional statement, with its outbox row when it reports something.
 */
export class OperationCallStore {
  constructor(private readonly db: Database) {}

  /**
   * For a consumed payment.internal.operation_requested: claims the message in the inbox and records the call
   * `sending` if the operation has none yet. `claimed` false: a redelivery; `started` false: the operation
   * was already taken (its call and the resolver own it), so nothing more is done.
   */
  async begin(messageId: string, call: NewOperationCall): Promise<{ claimed: boolean; started: boolean }> {
    const rows = await this.db.execute<{ claimed: number; started: number }>(sql`
      with claimed as (
        insert into routing.inbox (consumer, message_id) values (${CONSUMER}::text, ${messageId}::uuid)
        on conflict do nothing returning message_id
      ), c as (
        insert into routing.operation_calls (id, payment_id, kind, channel, status, amount, currency, request, next_query_at)
        select ${call.id}::text, ${call.paymentId}::text, ${call.kind}::text, ${call.channel}::text, 'sending', ${call.amount}::bigint,
          ${call.currency}::text, ${JSON.stringify(call.request)}::jsonb, ${iso(call.nextQueryAt)}::timestamptz
        from claimed
        on conflict (id) do nothing returning id
      )
      select (select count(*) from claimed)::int as claimed, (select count(*) from c)::int as started`);
    return { claimed: (rows[0]?.claimed ?? 0) > 0, started: (rows[0]?.started ?? 0) > 0 };
  }

  /**
   * Records a call's outcome and its event together, only if the call is still in the status we saw (and,
   * for the resolver, still under our claim). False: someone else got there first (a callback settled it,
   * another replica resolved it); nothing changed.
   */
  async complete(
    id: string,
    from: { status: OperationCallStatus; queryCount?: number },
    u: OperationCallUpdate,
    event: Envelope<OperationResult> | null,
  ): Promise<boolean> {
    const terminal = FINAL_OPERATION_CALL_STATUSES.includes(u.status);
    const rows = await this.db.execute<{ n: number }>(sql`
      with u as (
        update routing.operation_calls set
          status = ${u.status}::text,
          channel_op_id = coalesce(${u.channelOpId}::text, channel_op_id),
          failure_code = ${u.failureCode}::text,
          last_error = coalesce(${u.lastError}::text, last_error),
          next_query_at = ${iso(u.nextQueryAt)}::timestamptz,
          query_count = ${u.resetQueryCount ? sql`0` : sql`query_count`},
          updated_at = now(),
          completed_at = ${terminal ? sql`now()` : sql`completed_at`}
        where id = ${id}::text and status = ${from.status}::text
          ${from.queryCount === undefined ? sql`` : sql`and query_count = ${from.queryCount}::int`}
        returning id
      )${event ? sql`, o as (${outboxInsert(event)} from u returning id)` : sql``}
      select (select count(*) from u)::int as n`);
    return (rows[0]?.n ?? 0) > 0;
  }

  /**
   * Claims calls whose query is due, pushing their next_query_at out by `leaseMs` so no other replica takes
   * them meanwhile, and counting the query.
   */
  async claimDue(limit: number, leaseMs: number): Promise<DueOperationCall[]> {
    const rows = await this.db.execute<{
      id: string;
      payment_id: string;
      kind: OperationRequest["kind"];
      channel: string;
      status: OperationCallStatus;
      amount: string | number;
      currency: string;
      request: OperationRequest;
      query_count: number;
      created_at: string | Date;
    }>(sql`
      update routing.operation_calls set next_query_at = now() + make_interval(secs => ${leaseMs / 1000}::float8),
        query_count = query_count + 1
      where id in (
        select id from routing.operation_calls where next_query_at <= now() order by next_query_at limit ${limit}::int
        for update skip locked
      )
      returning id, payment_id, kind, channel, status, amount, currency, request, query_count, created_at`);
    return rows.map((r) => ({
      id: r.id,
      paymentId: r.payment_id,
      kind: r.kind,
      channel: r.channel,
      status: r.status,
      amount: Number(r.amount),
      currency: r.currency,
      request: r.request,
      queryCount: r.query_count,
      createdAt: new Date(r.created_at).getTime(),
    }));
  }

  /**
   * A channel's callback settled this operation (payment.internal.channel_settled): claims the message and
   * stops the call being queried, in one statement. A call not final yet takes the callback's outcome, so a
   * call still in flight or a query under way finds it moved and reports nothing; one already final keeps
   * its status. `claimed` false: a redelivery; `settled` false: no such call.
   */
  async settleByCallback(
    messageId: string,
    id: string,
    outcome: "succeeded" | "failed",
  ): Promise<{ claimed: boolean; settled: boolean }> {
    const rows = await this.db.execute<{ claimed: number; settled: number }>(sql`
      with claimed as (
        insert into routing.inbox (consumer, message_id) values (${CONSUMER}::text, ${messageId}::uuid)
        on conflict do nothing returning message_id
      ), u as (
        update routing.operation_calls set
          status = case when status in (${FINAL_LIST}) then status else ${outcome}::text end,
          next_query_at = null,
          updated_at = now(),
          completed_at = coalesce(completed_at, now())
        where id = ${id}::text and exists (select 1 from claimed)
        returning id
      )
      select (select count(*) from claimed)::int as claimed, (select count(*) from u)::int as settled`);
    return { claimed: (rows[0]?.claimed ?? 0) > 0, settled: (rows[0]?.settled ?? 0) > 0 };
  }

  async callsFor(paymentId: string) {
    return this.db
      .select()
      .from(routingOperationCalls)
      .where(eq(routingOperationCalls.paymentId, paymentId))
      .orderBy(asc(routingOperationCalls.createdAt), asc(routingOperationCalls.id));
  }
}
