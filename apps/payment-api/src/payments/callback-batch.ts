import type { CallbackResult, ChannelId, OperationCallbackResult } from "@pps/channels";
import type { Database } from "@pps/db";
import { parseAttemptId, type PaymentStatus } from "@pps/domain";
import type { Logger } from "@pps/logger";
import type { AttemptResult } from "@pps/messaging";
import { Coalescer, roundsBy, type Settled } from "@pps/runtime";
import type { TransactionSql } from "postgres";
import { recordAttempts } from "../consumers/channel-results.ts";
import { announceSettled, applyLateSuccessPolicy, operationSuccess, successTransition } from "./channel-outcomes.ts";
import { applyOperationResults, type OperationResultRequest } from "./operations.ts";
import { type TransitionRequest, transitionMany } from "./transitions-batch.ts";

export type CallbackOutcome = "applied" | "duplicate" | "stale" | "unknown_attempt" | "mismatch" | "held_for_review";
export type CallbackVerdict = { outcome: CallbackOutcome; detail?: string; paymentId?: string };
export type CallbackItem =
  | { channel: ChannelId; result: CallbackResult }
  | { channel: ChannelId; operation: OperationCallbackResult };

type AttemptItem = { channel: ChannelId; result: CallbackResult };
type OperationItem = { channel: ChannelId; operation: OperationCallbackResult };

type Found = {
  payment_id: string;
  amount: string;
  currency: string;
  status: PaymentStatus;
  attempt_id: string | null;
  attempt_no: number | null;
  attempt_channel: string | null;
  outcome: string | null;
  channel_txn_id: string | null;
  latest_no: number | null;
};

type Planned = { transition: TransitionRequest; attempt: AttemptResult; reviewed: boolean };

/**
 * What a verified attempt callback does, decided on the rows it was checked against (read under the
 * payment's lock). The attempt's id names its payment, so a callback that arrives before the router's
 * report is applied at once; a success is checked against the payment's amount and currency and held for
 * review, not applied, when they differ; a failure counts only for the payment's latest known attempt.
 */
function plan(item: AttemptItem, found: Found | undefined): CallbackVerdict | Planned {
  const { channel, result: r } = item;
  if (!found) return { outcome: "unknown_attempt" };
  const attemptNo = found.attempt_no ?? parseAttemptId(r.attemptId)?.attemptNo;
  const refused = [
    found.attempt_channel !== null &&
      found.attempt_channel !== channel &&
      `channel ${channel} is not the attempt's ${found.attempt_channel}`,
    found.channel_txn_id &&
      found.channel_txn_id !== r.channelTxnId &&
      "their transaction id differs from the one they gave us",
    attemptNo === undefined && "the attempt id names no attempt",
  ].filter(Boolean);
  if (refused.length > 0) return { outcome: "mismatch", detail: refused.join("; "), paymentId: found.payment_id };
  const cause = {
    cause: `callback:${channel}`,
    causeRef: r.channelTxnId,
    detail: { attemptId: r.attemptId, status: r.status },
  };
  const attempt = (outcome: "succeeded" | "failed" | "authorized"): AttemptResult => ({
    attemptId: r.attemptId,
    paymentId: found.payment_id,
    attemptNo: attemptNo!,
    channel,
    outcome,
    channelTxnId: r.channelTxnId,
    amount: Number(found.amount),
    currency: found.currency,
    settlement: null,
    action: null,
    failureCode: outcome === "failed" ? r.failureCode : null,
    failureMessage: outcome === "failed" ? r.failureMessage : null,
    willRetry: false,
    occurredAt: r.occurredAt,
    authorizationExpiresAt: r.authorizationExpiresAt ?? null,
    reportedAmount: r.amount,
    reportedCurrency: r.currency,
  });
  if (r.status === "succeeded" || r.status === "authorized") {
    const transition = successTransition(
      {
        paymentId: found.payment_id,
        attemptId: r.attemptId,
        channel,
        channelTxnId: r.channelTxnId,
        status: r.status,
        amount: r.amount,
        currency: r.currency,
        settlement: r.settlement,
        authorizationExpiresAt: r.authorizationExpiresAt ?? null,
      },
      { amount: Number(found.amount), currency: found.currency },
      cause,
    );
    return { transition, attempt: attempt(r.status), reviewed: transition.to === "requires_review" };
  }
  if (Number(found.amount) !== r.amount || found.currency !== r.currency)
    return { outcome: "mismatch", detail: `failure for ${r.amount} ${r.currency}`, paymentId: found.payment_id };
  // An older attempt's failure must not fail a payment the router has moved to another channel.
  if (found.latest_no !== null && attemptNo! < found.latest_no)
    return { outcome: "stale", paymentId: found.payment_id };
  return {
    attempt: attempt("failed"),
    reviewed: false,
    transition: {
      paymentId: found.payment_id,
      to: "failed",
      cause,
      onlyFrom: ["processing", "requires_action"],
      patch: { channel, failureCode: r.failureCode ?? "channel_failed", failureMessage: r.failureMessage },
    },
  };
}

/** The attempts' payments (by the payment their id names, or for older ids by our record of the attempt), locked in id order. */
async function findAttempts(sql: TransactionSql, ids: string[]): Promise<Map<string, Found>> {
  const named = ids.map((id) => parseAttemptId(id)?.paymentId ?? null);
  const rows = await sql<(Found & { ref: string })[]>`
    select u.ref, p.id as payment_id, p.amount::text as amount, p.currency, p.status,
      a.attempt_id, a.attempt_no, a.channel as attempt_channel, a.outcome, a.channel_txn_id,
      (select max(l.attempt_no) from payment.payment_attempts l where l.payment_id = p.id) as latest_no
    from unnest(${ids}::text[], ${named}::text[]) as u(ref, pid)
    left join payment.payment_attempts a on a.attempt_id = u.ref
    join payment.payments p on p.id = coalesce(u.pid, a.payment_id)
    order by p.id
    for update of p`;
  return new Map(rows.map((r) => [r.ref, r]));
}

/**
 * Applies many verified attempt callbacks in one transaction: one statement reads and locks their payments
 * (in payment id order), then per round the attempt updates and the transitions, the merchant's policy for
 * late successes, and the messages that stop the router querying. Callbacks of one payment go in
 * successive rounds so each sees the effect of the one before.
 */
async function applyAttempts(
  sql: TransactionSql,
  items: { item: AttemptItem; i: number }[],
  verdicts: CallbackVerdict[],
  logger?: Logger,
) {
  let pending = items;
  while (pending.length > 0) {
    const [round = [], ...later] = roundsBy(pending, (x) => x.item.result.attemptId);
    const byAttempt = await findAttempts(
      sql,
      round.map((x) => x.item.result.attemptId),
    );
    const payments = new Set<string>();
    const planned: (Planned & { i: number; found: Found; item: AttemptItem })[] = [];
    const deferred: typeof pending = [];
    for (const x of round) {
      const found = byAttempt.get(x.item.result.attemptId);
      if (found && payments.has(found.payment_id)) {
        deferred.push(x);
        continue;
      }
      if (found) payments.add(found.payment_id);
      const p = plan(x.item, found);
      if ("outcome" in p) verdicts[x.i] = p;
      else planned.push({ ...p, found: found!, item: x.item, i: x.i });
    }
    await recordAttempts(
      sql,
      planned.filter((p) => !p.reviewed).map((p) => p.attempt),
    );
    const moved = await transitionMany(
      sql,
      planned.map((p) => p.transition),
    );
    await applyLateSuccessPolicy(sql, moved, logger);
    const settled: Parameters<typeof announceSettled>[1] = [];
    planned.forEach((p, n) => {
      const target = p.transition.to;
      const outcome: CallbackOutcome = moved[n]
        ? p.reviewed
          ? "held_for_review"
          : "applied"
        : p.found.status === target
          ? "duplicate"
          : "stale";
      verdicts[p.i] = { outcome, paymentId: p.found.payment_id };
      if (outcome === "applied")
        settled.push({
          paymentId: p.found.payment_id,
          ref: p.item.result.attemptId,
          subject: "attempt",
          channel: p.item.channel,
          outcome: p.attempt.outcome as "succeeded" | "failed" | "authorized",
        });
    });
    await announceSettled(sql, settled);
    pending = [...deferred, ...later.flat()];
  }
}

/** Applies verified operation callbacks (refund results of async channels): checked against the operation, then applyOperationResults. */
async function applyOperations(
  sql: TransactionSql,
  items: { item: OperationItem; i: number }[],
  verdicts: CallbackVerdict[],
) {
  if (items.length === 0) return;
  const rows = await sql<
    {
      id: string;
      payment_id: string;
      kind: string;
      channel: string;
      amount: string;
      currency: string;
      status: string;
    }[]
  >`
    select id, payment_id, kind, channel, amount::text, currency, status from payment.payment_operations
    where id = any(${items.map((x) => x.item.operation.operationId)}::text[])`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const asks: { x: (typeof items)[number]; req: OperationResultRequest; paymentId: string }[] = [];
  for (const x of items) {
    const r = x.item.operation;
    const op = byId.get(r.operationId);
    if (!op) {
      verdicts[x.i] = { outcome: "unknown_attempt", detail: "no such operation" };
      continue;
    }
    const wrong = [
      op.channel !== x.item.channel && `channel ${x.item.channel} is not the operation's ${op.channel}`,
      op.kind !== r.kind && `kind ${r.kind} is not the operation's ${op.kind}`,
    ].filter(Boolean);
    if (wrong.length > 0) {
      verdicts[x.i] = { outcome: "mismatch", detail: wrong.join("; "), paymentId: op.payment_id };
      continue;
    }
    const cause = {
      cause: `callback:${x.item.channel}`,
      causeRef: r.channelOpId,
      detail: { operationId: r.operationId, status: r.status },
    };
    const req: OperationResultRequest =
      r.status === "succeeded"
        ? operationSuccess(
            { operationId: op.id, amount: Number(op.amount), currency: op.currency },
            { amount: r.amount, currency: r.currency, channelOpId: r.channelOpId },
            cause,
          )
        : {
            operationId: op.id,
            to: "failed",
            cause,
            patch: {
              channelOpId: r.channelOpId,
              failureCode: r.failureCode ?? "channel_failed",
              failureMessage: r.failureMessage,
            },
          };
    asks.push({ x, req, paymentId: op.payment_id });
  }
  const done = await applyOperationResults(
    sql,
    asks.map((a) => a.req),
  );
  const settled: Parameters<typeof announceSettled>[1] = [];
  asks.forEach((a, n) => {
    const d = done[n];
    const op = byId.get(a.req.operationId)!;
    const outcome: CallbackOutcome = d
      ? a.req.to === "requires_review"
        ? "held_for_review"
        : "applied"
      : op.status === a.req.to
        ? "duplicate"
        : "stale";
    verdicts[a.x.i] = { outcome, paymentId: a.paymentId };
    if (outcome === "applied")
      settled.push({
        paymentId: a.paymentId,
        ref: op.id,
        subject: "operation",
        channel: a.x.item.channel,
        outcome: a.req.to === "succeeded" ? "succeeded" : "failed",
      });
  });
  await announceSettled(sql, settled);
}

async function applyBatch(sql: TransactionSql, items: CallbackItem[], logger?: Logger): Promise<CallbackVerdict[]> {
  const verdicts: CallbackVerdict[] = new Array(items.length);
  const indexed = items.map((item, i) => ({ item, i }));
  await applyAttempts(
    sql,
    indexed.filter((x): x is { item: AttemptItem; i: number } => "result" in x.item),
    verdicts,
    logger,
  );
  await applyOperations(
    sql,
    indexed.filter((x): x is { item: OperationItem; i: number } => "operation" in x.item),
    verdicts,
  );
  const ref = (x: CallbackItem) => ("result" in x ? x.result.attemptId : x.operation.operationId);
  const txn = (x: CallbackItem) => ("result" in x ? x.result.channelTxnId : x.operation.channelOpId);
  const reported = (x: CallbackItem) => ("result" in x ? x.result.status : `${x.operation.kind}:${x.operation.status}`);
  await sql`
    insert into payment.channel_callbacks (channel, attempt_id, payment_id, channel_txn_id, reported_status, signature_valid, outcome, detail)
    select ch, att, pid, txn, st, true, oc, det
    from unnest(${items.map((x) => x.channel)}::text[], ${items.map(ref)}::text[], ${verdicts.map((v) => v.paymentId ?? null)}::text[],
      ${items.map(txn)}::text[], ${items.map(reported)}::text[], ${verdicts.map((v) => v.outcome)}::text[],
      ${verdicts.map((v) => v.detail ?? null)}::text[]) as u(ch, att, pid, txn, st, oc, det)`;
  return verdicts;
}

/** Group commit for verified channel callbacks (see applyAttempts and applyOperations). */
export function createCallbackApplier(
  db: Database,
  opts: { maxBatch?: number; maxInFlight?: number; logger?: Logger } = {},
) {
  return new Coalescer<CallbackItem, CallbackVerdict>({
    maxBatch: opts.maxBatch ?? 128,
    maxInFlight: opts.maxInFlight ?? 2,
    run: async (items) => {
      try {
        const verdicts = await db.$client.begin((sql) => applyBatch(sql, items, opts.logger));
        return verdicts.map((value): Settled<CallbackVerdict> => ({ ok: true, value }));
      } catch {
        // A deadlock with a concurrent batch, or a failing database: each callback alone, in its own
        // transaction, gets its verdict or its own error (and the channel retries it).
        return Promise.all(
          items.map(async (item): Promise<Settled<CallbackVerdict>> => {
            try {
              const [value] = await db.$client.begin((sql) => applyBatch(sql, [item], opts.logger));
              return { ok: true, value: value! };
            } catch (error) {
              return { ok: false, error };
            }
          }),
        );
      }
    },
  });
}

export type CallbackApplier = ReturnType<typeof createCallbackApplier>;
