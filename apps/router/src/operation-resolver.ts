import type { OperationQueryOutcome } from "@pps/channels";
import type { Envelope, OperationResult } from "@pps/messaging";
import { type OperationCallUpdate, type OperationResolution, resolveOperationQuery } from "./operation-policy.ts";
import {
  concludedFailure,
  type OperationResultFields,
  operationResultEnvelope,
  operationResultFields,
} from "./operation-result.ts";
import type { DueOperationCall, OperationCallStore } from "./operation-store.ts";
import { QueryResolver, type QueryResolverOptions } from "./query-resolver.ts";

export type OperationResolverOptions = QueryResolverOptions<OperationCallStore>;

/** The event fields of a resolution: the channel's own answer when it gave the new status, else ours. */
function fieldsFor(r: OperationResolution, outcome: OperationQueryOutcome): OperationResultFields {
  if (outcome.status !== "not_found" && outcome.status === r.status) return operationResultFields(outcome);
  if (r.status === "failed" && r.failure) return concludedFailure(r.failure.code, r.failure.message);
  return operationResultFields({
    status: "unknown",
    reason: outcome.status === "unknown" ? outcome.reason : "the channel has no record of this operation yet",
  });
}

/**
 * Finds out what became of operations by asking the channel that has them, with the same request number:
 * unknown outcomes (timeouts, 5xx, calls cut off by a crash while `sending`) on the short backoff, and
 * pending ones whose callback is late on the stuck-query schedule, both within a bounded window (then an
 * error is logged and reconciliation settles it). Driven by routing.operation_calls.next_query_at, so it
 * survives restarts and replicas share the work (claims skip rows another replica holds).
 */
export class OperationResolver extends QueryResolver<
  DueOperationCall,
  OperationQueryOutcome,
  OperationCallUpdate,
  Envelope<OperationResult>
> {
  constructor(opts: OperationResolverOptions) {
    super(opts, {
      noun: "operation",
      gaveUpMessage: "operation outcome still open after the query window; left to reconciliation",
      logRef: (call) => ({ paymentId: call.paymentId, operationId: call.id, kind: call.kind }),
      query: (adapter, call, o) => adapter.queryOperation(call.request, o),
      observe: (metrics, call, answer, seconds) => {
        metrics.callDuration.observe({ channel: call.channel, operation: `${call.kind}_query` }, seconds);
        metrics.operationResolutions.inc({ channel: call.channel, kind: call.kind, answer });
      },
      policy: resolveOperationQuery,
      record: (call, r, outcome, update) => {
        const fields = fieldsFor(r, outcome);
        return {
          update: { ...update, channelOpId: fields.channelOpId },
          event: r.publish ? operationResultEnvelope(call, fields) : null,
        };
      },
    });
  }
}
