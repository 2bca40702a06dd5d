import { paymentInbox } from "@pps/db/schema";
import {
  type AttemptResult,
  type BatchEnvelopeHandler,
  channelEvents,
  claimMessages,
  type Envelope,
  type MessageContext,
  type OperationResult,
} from "@pps/messaging";
import { roundsBy } from "@pps/runtime";
import type { TransactionSql } from "postgres";
import type { ApiDeps } from "../http/context.ts";
import { applyLateSuccessPolicy, operationSuccess, successTransition } from "../payments/channel-outcomes.ts";
import { applyOperationResults, type OperationResultRequest } from "../payments/operations.ts";
import { type TransitionRequest, transitionMany } from "../payments/transitions-batch.ts";

export const CHANNEL_CONSUMER = "payment-api.channel-results";

/**
 * Applies the router's attempt and operation results, one message (the consumer's one-by-one fallback) as a
 * batch of one. payment-api stays the single writer of payment and operation state: the router only reports.
 */
export function createChannelResultHandler(deps: Pick<ApiDeps, "db" | "relay" | "logger">) {
  const batch = createChannelResultBatchHandler(deps);
  return (envelope: Envelope, ctx: MessageContext): Promise<void> => batch([{ envelope, ctx }]);
}

type PaymentFacts = { amount: number; currency: string };

/** An attempt result read at v1 (retired) or v2: v1 has no authorized outcome and no reported amount. */
function asV2(envelope: Envelope): AttemptResult {
  const p = envelope.payload as AttemptResult;
  if (envelope.version >= 2) return p;
  return { ...p, authorizationExpiresAt: null, reportedAmount: null, reportedCurrency: null };
}

/**
 * The transition an attempt result asks for, or null for none: failures the router will retry elsewhere,
 * pending and unknown outcomes are only recorded on the attempt and leave the payment processing.
 */
function transitionFor(
  r: AttemptResult,
  envelopeId: string,
  payment: PaymentFacts | undefined,
): TransitionRequest | null {
  const cause = {
    cause: "channel.attempt_result",
    causeRef: envelopeId,
    detail: { attemptId: r.attemptId, outcome: r.outcome },
  };
  switch (r.outcome) {
    case "succeeded":
    case "authorized":
      if (!payment) return null;
      return successTransition(
        {
          paymentId: r.paymentId,
          attemptId: r.attemptId,
          channel: r.channel,
          channelTxnId: r.channelTxnId,
          status: r.outcome,
          amount: r.reportedAmount,
          currency: r.reportedCurrency,
          settlement: r.settlement,
          authorizationExpiresAt: r.authorizationExpiresAt,
        },
        payment,
        cause,
      );
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

/** The change an operation result asks for, or null (pending and unknown: the router keeps asking). */
function operationChangeFor(r: OperationResult, envelopeId: string): OperationResultRequest | null {
  const cause = { cause: "channel.operation_result", causeRef: envelopeId, detail: { outcome: r.outcome } };
  switch (r.outcome) {
    case "succeeded":
      return operationSuccess(
        r,
        { amount: r.reportedAmount, currency: r.reportedCurrency, channelOpId: r.channelOpId },
        cause,
      );
    case "failed":
      return {
        operationId: r.operationId,
        to: "failed",
        cause,
        patch: {
          channelOpId: r.channelOpId,
          failureCode: r.failureCode ?? "channel_failed",
          failureMessage: r.failureMessage,
        },
      };
    case "pending":
    case "unknown":
      return null;
  }
}

/**
 * Records attempts as reported (each at most once per call) in one statement: inserted, or updated with the
 * new outcome; a channel transaction id once known is kept. A final outcome (succeeded, authorized, failed)
 * is never taken back by a later non-final report (a callback may have come first), and only a success
 * replaces a failure (a late success).
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
      outcome = case when a.outcome in ('succeeded', 'authorized', 'failed') and excluded.outcome not in ('succeeded', 'authorized')
        then a.outcome else excluded.outcome end,
      channel_txn_id = coalesce(excluded.channel_txn_id, a.channel_txn_id),
      failure_code = case when a.outcome in ('succeeded', 'authorized') then a.failure_code else excluded.failure_code end,
      failure_message = case when a.outcome in ('succeeded', 'authorized') then a.failure_message else excluded.failure_message end,
      updated_at = now()`;
}

/** Amount and currency of payments, for checking what a channel says it took. They never change. */
export async function paymentFacts(sql: TransactionSql, ids: string[]): Promise<Map<string, PaymentFacts>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<{ id: string; amount: string; currency: string }[]>`
    select id, amount::text, currency from payment.payments where id = any(${ids}::text[])`;
  return new Map(rows.map((r) => [r.id, { amount: Number(r.amount), currency: r.currency }]));
}

/**
 * The batch path for a chunk of results: one transaction; per round (a payment's results in order, one per
 * round) one attempts upsert, one conditional UPDATE and one audit+outbox statement; operation results
 * through applyOperationResults.
 */
export function createChannelResultBatchHandler(deps: Pick<ApiDeps, "db" | "relay" | "logger">): BatchEnvelopeHandler {
  return async (items) => {
    let applied = 0;
    await deps.db.$client.begin(async (sql) => {
      const claimed = await claimMessages(
        sql,
        paymentInbox,
        CHANNEL_CONSUMER,
        items.map((it) => it.envelope.id),
      );
      const fresh = items.filter((it) => claimed.delete(it.envelope.id)).map((it) => it.envelope);
      const attempts = fresh
        .filter((e) => e.type === channelEvents.attemptResult.type)
        .map((e) => ({ id: e.id, r: asV2(e) }));
      const operations = fresh
        .filter((e) => e.type === channelEvents.operationResult.type)
        .map((e) => ({ id: e.id, r: e.payload as OperationResult }));
      const facts = await paymentFacts(sql, [...new Set(attempts.map((a) => a.r.paymentId))]);
      for (const round of roundsBy(attempts, (x) => x.r.paymentId)) {
        await recordAttempts(
          sql,
          round.map((x) => x.r),
        );
        const reqs = round
          .map((x) => transitionFor(x.r, x.id, facts.get(x.r.paymentId)))
          .filter((t): t is TransitionRequest => t !== null);
        const done = await transitionMany(sql, reqs);
        applied += done.filter(Boolean).length;
        await applyLateSuccessPolicy(sql, done, deps.logger);
      }
      const changes = operations
        .map((x) => operationChangeFor(x.r, x.id))
        .filter((c): c is OperationResultRequest => c !== null);
      applied += (await applyOperationResults(sql, changes)).filter(Boolean).length;
    });
    if (applied > 0) deps.relay.notify();
  };
}
