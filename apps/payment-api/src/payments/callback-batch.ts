import type { CallbackResult, ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import type { PaymentStatus } from "@pps/domain";
import type { AttemptResult } from "@pps/messaging";
import { Coalescer, roundsBy, type Settled } from "@pps/runtime";
import type { TransactionSql } from "postgres";
import { recordAttempts } from "../consumers/channel-results.ts";
import { type TransitionRequest, transitionMany } from "./transitions-batch.ts";

export type CallbackOutcome = "applied" | "duplicate" | "stale" | "unknown_attempt" | "mismatch";
export type CallbackVerdict = { outcome: CallbackOutcome; detail?: string; paymentId?: string };
export type CallbackItem = { channel: ChannelId; result: CallbackResult };

type Found = {
  attempt_id: string;
  payment_id: string;
  attempt_no: number;
  channel: string;
  outcome: string;
  channel_txn_id: string | null;
  amount: string;
  currency: string;
  status: PaymentStatus;
  latest: string;
};

type Planned = { item: CallbackItem; found: Found; transition: TransitionRequest; attempt: AttemptResult | null };

/**
 * What a verified callback does, decided on the rows it was checked against (read under the payment's
 * lock): a verdict now (unknown attempt, mismatch, stale), or an attempt update and a transition to try.
 */
function plan(item: CallbackItem, found: Found | undefined): CallbackVerdict | Omit<Planned, "item" | "found"> {
  const { channel, result: r } = item;
  if (!found) return { outcome: "unknown_attempt" };
  const mismatch = [
    found.channel !== channel && `channel ${channel} is not the attempt's ${found.channel}`,
    Number(found.amount) !== r.amount && `amount ${r.amount} is not ${found.amount}`,
    found.currency !== r.currency && `currency ${r.currency} is not ${found.currency}`,
    found.channel_txn_id &&
      found.channel_txn_id !== r.channelTxnId &&
      "their transaction id differs from the one they gave us",
  ].filter(Boolean);
  if (mismatch.length > 0) return { outcome: "mismatch", detail: mismatch.join("; "), paymentId: found.payment_id };
  const cause = {
    cause: `callback:${channel}`,
    causeRef: r.channelTxnId,
    detail: { attemptId: r.attemptId, status: r.status },
  };
  const attempt = (outcome: "succeeded" | "failed"): AttemptResult => ({
    attemptId: found.attempt_id,
    paymentId: found.payment_id,
    attemptNo: found.attempt_no,
    channel: found.channel,
    outcome,
    channelTxnId: r.channelTxnId,
    amount: r.amount,
    currency: r.currency,
    settlement: null,
    action: null,
    failureCode: outcome === "failed" ? r.failureCode : null,
    failureMessage: outcome === "failed" ? r.failureMessage : null,
    willRetry: false,
    occurredAt: r.occurredAt,
  });
  if (r.status === "succeeded") {
    return {
      attempt: attempt("succeeded"),
      transition: {
        paymentId: found.payment_id,
        to: "succeeded",
        cause,
        patch: {
          channel,
          channelTxnId: r.channelTxnId,
          settlement: r.settlement,
          failureCode: null,
          failureMessage: null,
        },
      },
    };
  }
  // A failure only counts for the payment's latest attempt: an older attempt's failure must not fail a
  // payment the router has moved to another channel.
  if (found.latest !== found.attempt_id) return { outcome: "stale", paymentId: found.payment_id };
  return {
    attempt: found.outcome === "succeeded" ? null : attempt("failed"),
    transition: {
      paymentId: found.payment_id,
      to: "failed",
      cause,
      onlyFrom: ["processing", "requires_action"],
      patch: { channel, failureCode: r.failureCode ?? "channel_failed", failureMessage: r.failureMessage },
    },
  };
}

/**
 * Applies many verified callbacks in one transaction: one statement reads and locks their attempts and
 * payments (in payment id order), then per round the attempt updates, the transitions, and finally one
 * statement records every callback with its verdict. The verdicts are those the one-by-one path gives:
 * duplicated, stale and out-of-order callbacks change nothing. Callbacks of one attempt, or of two attempts
 * of one payment, go in successive rounds so each sees the effect of the one before.
 */
async function applyBatch(sql: TransactionSql, items: CallbackItem[]): Promise<CallbackVerdict[]> {
  const verdicts: CallbackVerdict[] = new Array(items.length);
  const indexed = items.map((item, i) => ({ item, i }));
  let pending = indexed;
  while (pending.length > 0) {
    const [round = [], ...later] = roundsBy(pending, (x) => x.item.result.attemptId);
    const ids = round.map((x) => x.item.result.attemptId);
    const rows = await sql<Found[]>`
      select a.attempt_id, a.payment_id, a.attempt_no, a.channel, a.outcome, a.channel_txn_id, p.amount::text as amount, p.currency, p.status,
        (select l.attempt_id from payment.payment_attempts l where l.payment_id = a.payment_id order by l.attempt_no desc limit 1) as latest
      from payment.payment_attempts a join payment.payments p on p.id = a.payment_id
      where a.attempt_id = any(${ids}::text[])
      order by p.id
      for update of p`;
    const byAttempt = new Map(rows.map((r) => [r.attempt_id, r]));
    const payments = new Set<string>();
    const planned: (Planned & { i: number })[] = [];
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
      else planned.push({ ...p, item: x.item, found: found!, i: x.i });
    }
    await recordAttempts(
      sql,
      planned.flatMap((p) => (p.attempt ? [p.attempt] : [])),
    );
    const moved = await transitionMany(
      sql,
      planned.map((p) => p.transition),
    );
    planned.forEach((p, n) => {
      const target = p.transition.to;
      verdicts[p.i] = {
        outcome: moved[n] ? "applied" : p.found.status === target ? "duplicate" : "stale",
        paymentId: p.found.payment_id,
      };
    });
    pending = [...deferred, ...later.flat()];
  }
  await sql`
    insert into payment.channel_callbacks (channel, attempt_id, payment_id, channel_txn_id, reported_status, signature_valid, outcome, detail)
    select ch, att, pid, txn, st, true, oc, det
    from unnest(${items.map((x) => x.channel)}::text[], ${items.map((x) => x.result.attemptId)}::text[], ${verdicts.map((v) => v.paymentId ?? null)}::text[],
      ${items.map((x) => x.result.channelTxnId)}::text[], ${items.map((x) => x.result.status)}::text[], ${verdicts.map((v) => v.outcome)}::text[],
      ${verdicts.map((v) => v.detail ?? null)}::text[]) as u(ch, att, pid, txn, st, oc, det)`;
  return verdicts;
}

/** Group commit for verified channel callbacks (see applyBatch). */
export function createCallbackApplier(db: Database, opts: { maxBatch?: number; maxInFlight?: number } = {}) {
  return new Coalescer<CallbackItem, CallbackVerdict>({
    maxBatch: opts.maxBatch ?? 128,
    maxInFlight: opts.maxInFlight ?? 2,
    run: async (items) => {
      try {
        const verdicts = await db.$client.begin((sql) => applyBatch(sql, items));
        return verdicts.map((value): Settled<CallbackVerdict> => ({ ok: true, value }));
      } catch {
        // A deadlock with a concurrent batch, or a failing database: each callback alone, in its own
        // transaction, gets its verdict or its own error (and the channel retries it).
        return Promise.all(
          items.map(async (item): Promise<Settled<CallbackVerdict>> => {
            try {
              const [value] = await db.$client.begin((sql) => applyBatch(sql, [item]));
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
