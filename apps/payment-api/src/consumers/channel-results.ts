import { paymentInbox } from "@pps/db/schema";
import {
  type AttemptResult,
  type BatchEnvelopeHandler,
  claimMessages,
  type Envelope,
  type MessageContext,
} from "@pps/messaging";
import { roundsBy } from "@pps/runtime";
import type { TransactionSql } from "postgres";
import type { ApiDeps } from "../http/context.ts";
import { type TransitionRequest, transitionMany } from "../payments/transitions-batch.ts";

export const CHANNEL_CONSUMER = "payment-api.channel-results";

/**
 * Applies the router's attempt results, one message (the consumer's one-by-one fallback) as a batch of
 * one. payment-api stays the single writer of payment state: the router only reports.
 */
export function createChannelResultHandler(deps: Pick<ApiDeps, "db" | "relay">) {
  const batch = createChannelResultBatchHandler(deps);
  return (envelope: Envelope, ctx: MessageContext): Promise<void> => batch([{ envelope, ctx }]);
}

/**
 * The transition an attempt result asks for, or null for none: failures the router will retry elsewhere,
 * pending and unknown outcomes are only recorded on the attempt and leave the payment processing.
 */
function transitionFor(r: AttemptResult, envelopeId: string): TransitionRequest | null {
  const cause = {
    cause: "channel.attempt_result",
    causeRef: envelopeId,
    detail: { attemptId: r.attemptId, outcome: r.outcome },
  };
  switch (r.outcome) {
    case "succeeded":
      return {
        paymentId: r.paymentId,
        to: "succeeded",
        cause,
        patch: {
          channel: r.channel,
          channelTxnId: r.channelTxnId,
          settlement: r.settlement,
          failureCode: null,
          failureMessage: null,
        },
      };
    case "failed":
      if (r.willRetry) return null;
      return {
        paymentId: r.paymentId,
        to: "failed",
        cause,
        onlyFrom: ["processing", "requires_action"],
        patch: { channel: r.channel, failureCode: r.failureCode ?? "channel_failed", failureMessage: r.failureMessage },
      };
    case "requires_action":
      return {
        paymentId: r.paymentId,
        to: "requires_action",
        cause,
        onlyFrom: ["processing"],
        patch: { channel: r.channel, channelTxnId: r.channelTxnId, action: r.action },
      };
    case "pending":
    case "unknown":
      return null;
  }
}

/**
 * Records attempts as reported (each at most once per call) in one statement: inserted, or updated with the
 * new outcome; a channel transaction id once known is kept.
 */
export async function recordAttempts(sql: TransactionSql, rs: AttemptResult[]): Promise<void> {
  if (rs.length === 0) return;
  await sql`
    insert into payment.payment_attempts as a (attempt_id, payment_id, attempt_no, channel, outcome, channel_txn_id, failure_code, failure_message)
    select id, pid, no::smallint, ch, oc, txn, fc, fm
    from unnest(${rs.map((r) => r.attemptId)}::text[], ${rs.map((r) => r.paymentId)}::text[], ${rs.map((r) => String(r.attemptNo))}::text[],
      ${rs.map((r) => r.channel)}::text[], ${rs.map((r) => r.outcome)}::text[], ${rs.map((r) => r.channelTxnId)}::text[],
      ${rs.map((r) => r.failureCode)}::text[], ${rs.map((r) => r.failureMessage)}::text[]) as u(id, pid, no, ch, oc, txn, fc, fm)
    on conflict (attempt_id) do update set
      outcome = excluded.outcome,
      channel_txn_id = coalesce(excluded.channel_txn_id, a.channel_txn_id),
      failure_code = excluded.failure_code,
      failure_message = excluded.failure_message,
      updated_at = now()`;
}

/**
 * The batch path for a chunk of attempt results: one transaction; per round (a payment's results in
 * order, one per round) one attempts upsert, one conditional UPDATE and one audit+outbox statement.
 */
export function createChannelResultBatchHandler(deps: Pick<ApiDeps, "db" | "relay">): BatchEnvelopeHandler {
  return async (items) => {
    let applied = 0;
    await deps.db.$client.begin(async (sql) => {
      const claimed = await claimMessages(
        sql,
        paymentInbox,
        CHANNEL_CONSUMER,
        items.map((it) => it.envelope.id),
      );
      const fresh = items
        .filter((it) => claimed.delete(it.envelope.id))
        .map((it) => ({ id: it.envelope.id, r: it.envelope.payload as AttemptResult }));
      for (const round of roundsBy(fresh, (x) => x.r.paymentId)) {
        await recordAttempts(
          sql,
          round.map((x) => x.r),
        );
        const reqs = round.map((x) => transitionFor(x.r, x.id)).filter((t): t is TransitionRequest => t !== null);
        applied += (await transitionMany(sql, reqs)).filter(Boolean).length;
      }
    });
    if (applied > 0) deps.relay.notify();
  };
}
