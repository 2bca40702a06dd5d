import { asc, eq, sql } from "drizzle-orm";
import type { OperationRequest } from "@pps/channels";
import type { Database } from "@pps/db";
import { routingOperationCalls } from "@pps/db/schema";
import { channelEvents, type Envelope, type OperationResult } from "@pps/messaging";
import {
  FINAL_OPERATION_CALL_STATUSES,
  type OperationCallStatus,
  type OperationCallUpdate,
} from "./operation-policy.ts";
import type { OperationCallRef } from "./operation-result.ts";
import {
  claimDueStatement,
  inboxClaim,
  iso,
  outboxInsert,
  outcomeUpdate,
  queriedTable,
  settleByCallback,
} from "./routing-sql.ts";

const OUTBOX_TOPIC = channelEvents.operationResult.topic;
const CALLS = queriedTable("routing.operation_calls", "channel_op_id", FINAL_OPERATION_CALL_STATUSES);

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
      with claimed as (${inboxClaim(messageId)}), c as (
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
    const rows = await this.db.execute<{ n: number }>(sql`
      with u as (${outcomeUpdate(CALLS, id, from, u, u.channelOpId)})${
        event ? sql`, o as (${outboxInsert(OUTBOX_TOPIC, event)} from u returning id)` : sql``
      }
      select (select count(*) from u)::int as n`);
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Claims calls whose query is due, under a lease of `leaseMs` (claimDueStatement). */
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
    }>(
      claimDueStatement(
        CALLS,
        limit,
        leaseMs,
        "id, payment_id, kind, channel, status, amount, currency, request, query_count, created_at",
      ),
    );
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
   * A channel's callback settled this operation: the call takes its outcome unless final already, and is no
   * longer queried (settleByCallback). `claimed` false: a redelivery; `settled` false: no such call.
   */
  settleByCallback(
    messageId: string,
    id: string,
    outcome: "succeeded" | "failed",
  ): Promise<{ claimed: boolean; settled: boolean }> {
    return settleByCallback(this.db, CALLS, messageId, id, outcome);
  }

  async callsFor(paymentId: string) {
    return this.db
      .select()
      .from(routingOperationCalls)
      .where(eq(routingOperationCalls.paymentId, paymentId))
      .orderBy(asc(routingOperationCalls.createdAt), asc(routingOperationCalls.id));
  }
}
