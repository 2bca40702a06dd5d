import type { QueryOutcome } from "@pps/channels";
import type { AttemptResult, Envelope } from "@pps/messaging";
import { attemptResultEnvelope, NO_RESULT_DATA, type ResultFields, resultFields } from "./attempt-result.ts";
import type { AttemptStore, AttemptUpdate, DueAttempt } from "./attempt-store.ts";
import { QueryResolver, type QueryResolverOptions } from "./query-resolver.ts";
import { type Resolution, resolveQuery } from "./resolution-policy.ts";

export type AttemptResolverOptions = QueryResolverOptions<AttemptStore>;

/** The event fields of a resolution: the channel's own answer when it gave the new status, else ours. */
function fieldsFor(r: Resolution, outcome: QueryOutcome): ResultFields {
  if (outcome.status !== "not_found" && outcome.status === r.status) return resultFields(outcome);
  if (r.status === "failed")
    return {
      ...NO_RESULT_DATA,
      outcome: "failed",
      failureCode: r.failure?.code ?? null,
      failureMessage: r.failure?.message ?? null,
    };
  return resultFields({
    status: "unknown",
    reason: outcome.status === "unknown" ? outcome.reason : "the channel has no record of this attempt yet",
  });
}

/**
 * Finds out what happened to attempts by asking the channel that has them: unknown outcomes (timeouts, 5xx,
 * calls cut off by a crash while `sending`) on a short backoff, and pending / requires_action attempts whose
 * callback is late on a longer one until the payment expires. Driven by routing.attempts.next_query_at, so
 * it survives restarts and replicas share the work (claims skip rows another replica holds).
 */
export class AttemptResolver extends QueryResolver<DueAttempt, QueryOutcome, AttemptUpdate, Envelope<AttemptResult>> {
  constructor(opts: AttemptResolverOptions) {
    super(opts, {
      noun: "attempt",
      gaveUpMessage: "attempt outcome still unknown after the query window; left to reconciliation",
      logRef: (a) => ({ paymentId: a.paymentId, attemptId: a.id }),
      query: (adapter, a, o) => adapter.query({ attemptId: a.id, channelTxnId: a.channelTxnId }, o),
      observe: (metrics, a, answer, seconds) => {
        metrics.callDuration.observe({ channel: a.channel, operation: "query" }, seconds);
        metrics.resolutions.inc({ channel: a.channel, answer });
      },
      policy: resolveQuery,
      record: (a, r, outcome, update) => {
        const fields = fieldsFor(r, outcome);
        return {
          update: { ...update, channelTxnId: fields.channelTxnId },
          event: r.publish ? attemptResultEnvelope(a, fields, false) : null,
        };
      },
    });
  }
}
