import { type SQL, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import type { Envelope } from "@pps/messaging";
import type { OutcomeUpdate } from "./resolution-policy.ts";

// Statement parts the routing stores share: the inbox claim, the outbox row, and what every table of rows
// queried on a schedule (routing.attempts, routing.operation_calls) does the same way.

/** The consumer name in routing.inbox. */
export const CONSUMER = "router";

/** An epoch-ms timestamp as the statements bind it. */
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Claims a consumed message in routing.inbox (a CTE's body): its id once, nothing for a redelivery. */
export function inboxClaim(messageId: string): SQL {
  return sql`insert into routing.inbox (consumer, message_id) values (${CONSUMER}::text, ${messageId}::uuid)
        on conflict do nothing returning message_id`;
}

/** An event's routing.outbox row, to be followed by the `from` that makes it conditional. */
export function outboxInsert<P>(topic: string, e: Envelope<P>): SQL {
  return sql`insert into routing.outbox (event_id, topic, key, envelope)
    select ${e.id}::uuid, ${topic}::text, ${e.aggregateId}::text, ${JSON.stringify(e)}::jsonb`;
}

/** A table of rows that are queried on a schedule: next_query_at, query_count, a final status list. */
export type QueriedTable = {
  name: SQL;
  /** The column of the channel's own reference (channel_txn_id, channel_op_id). */
  refColumn: SQL;
  finals: readonly string[];
  finalList: SQL;
};

export function queriedTable(
  name: "routing.attempts" | "routing.operation_calls",
  refColumn: "channel_txn_id" | "channel_op_id",
  finals: readonly string[],
): QueriedTable {
  return {
    name: sql.raw(name),
    refColumn: sql.raw(refColumn),
    finals,
    finalList: sql.join(
      finals.map((s) => sql`${s}::text`),
      sql`, `,
    ),
  };
}

/**
 * Claims rows whose query is due, pushing their next_query_at out by `leaseMs` so no other replica takes
 * them meanwhile (rows another replica holds are skipped), and counting the query.
 */
export function claimDueStatement(t: QueriedTable, limit: number, leaseMs: number, returning: string): SQL {
  return sql`
      update ${t.name} set next_query_at = now() + make_interval(secs => ${leaseMs / 1000}::float8), query_count = query_count + 1
      where id in (
        select id from ${t.name} where next_query_at <= now() order by next_query_at limit ${limit}::int for update skip locked
      )
      returning ${sql.raw(returning)}`;
}

/**
 * A row's outcome, only if the row is still in the status we saw (and, when given, at the query count of our
 * claim); returns its id when it applied.
 */
export function outcomeUpdate(
  t: QueriedTable,
  id: string,
  from: { status: string; queryCount?: number },
  u: OutcomeUpdate<string>,
  ref: string | null,
): SQL {
  return sql`update ${t.name} set
          status = ${u.status}::text,
          ${t.refColumn} = coalesce(${ref}::text, ${t.refColumn}),
          failure_code = ${u.failureCode}::text,
          last_error = coalesce(${u.lastError}::text, last_error),
          next_query_at = ${iso(u.nextQueryAt)}::timestamptz,
          query_count = ${u.resetQueryCount ? sql`0` : sql`query_count`},
          updated_at = now(),
          completed_at = ${t.finals.includes(u.status) ? sql`now()` : sql`completed_at`}
        where id = ${id}::text and status = ${from.status}::text
          ${from.queryCount === undefined ? sql`` : sql`and query_count = ${from.queryCount}::int`}
        returning id`;
}

/**
 * A channel's callback settled this row (payment.internal.channel_settled): claims the message and stops the
 * row being queried, in one statement. A row not final yet takes the callback's outcome, so a call still in
 * flight or a query under way finds it moved and reports nothing; one already final keeps its status.
 * `claimed` false: a redelivery; `settled` false: no such row.
 */
export async function settleByCallback(
  db: Database,
  t: QueriedTable,
  messageId: string,
  id: string,
  outcome: string,
): Promise<{ claimed: boolean; settled: boolean }> {
  const rows = await db.execute<{ claimed: number; settled: number }>(sql`
      with claimed as (${inboxClaim(messageId)}), u as (
        update ${t.name} set
          status = case when status in (${t.finalList}) then status else ${outcome}::text end,
          next_query_at = null,
          updated_at = now(),
          completed_at = coalesce(completed_at, now())
        where id = ${id}::text and exists (select 1 from claimed)
        returning id
      )
      select (select count(*) from claimed)::int as claimed, (select count(*) from u)::int as settled`);
  return { claimed: (rows[0]?.claimed ?? 0) > 0, settled: (rows[0]?.settled ?? 0) > 0 };
}
