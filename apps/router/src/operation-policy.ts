import type { OperationOutcome, OperationQueryOutcome } from "@pps/channels";
import {
  finalAnswer,
  nextStuckQuery,
  nextUnknownQuery,
  type OutcomeUpdate,
  type QueryResolution,
  STUCK_QUERY_DELAYS_MS,
  UNKNOWN_GIVE_UP_MS,
  unansweredQuery,
} from "./resolution-policy.ts";

/**
 * Statuses of routing.operation_calls, as for attempts: `sending` (the call is in flight, or its answer was
 * lost in a crash), `pending` (accepted; the result comes by callback or query), `unknown` (resolved by
 * query with the same request number, never sent again under another).
 */
export const OPERATION_CALL_STATUSES = ["sending", "succeeded", "failed", "pending", "unknown"] as const;
export type OperationCallStatus = (typeof OPERATION_CALL_STATUSES)[number];
export const FINAL_OPERATION_CALL_STATUSES: readonly OperationCallStatus[] = ["succeeded", "failed"];

/** The code reported for an operation the channel has no record of long after we sent it: it never arrived. */
export const OPERATION_NO_RECORD_CODE = "channel_unavailable";

/** What one call's outcome does to its row: the new status, what to keep, and when to ask the channel again. */
export type OperationCallUpdate = OutcomeUpdate<OperationCallStatus> & { channelOpId: string | null };

/**
 * When to look at an operation that stays pending (its callback may be lost) next: the stuck-query schedule,
 * within the same window as unknown outcomes; null after it (reconciliation settles it).
 */
export function nextPendingOperationQuery(
  queriesDone: number,
  now: number,
  createdAt: number,
  delays: readonly number[] = STUCK_QUERY_DELAYS_MS,
): number | null {
  return nextStuckQuery(queriesDone, now, createdAt + UNKNOWN_GIVE_UP_MS, delays);
}

/** The row's update for the answer of the call itself. */
export function operationUpdateFor(
  outcome: OperationOutcome,
  now: number,
  stuckDelays?: readonly number[],
): OperationCallUpdate {
  const base = { channelOpId: null, failureCode: null, lastError: null, nextQueryAt: null, resetQueryCount: true };
  switch (outcome.status) {
    case "succeeded":
      return { ...base, status: "succeeded", channelOpId: outcome.channelOpId };
    case "failed":
      return { ...base, status: "failed", failureCode: outcome.code, lastError: outcome.message };
    case "pending":
      // The callback normally settles it; if it does not come, the resolver asks the channel.
      return {
        ...base,
        status: "pending",
        channelOpId: outcome.channelOpId,
        nextQueryAt: nextPendingOperationQuery(0, now, now, stuckDelays),
      };
    case "unknown":
      return { ...base, status: "unknown", lastError: outcome.reason, nextQueryAt: nextUnknownQuery(0, now, now) };
  }
}

export type ResolvingOperationCall = {
  status: OperationCallStatus;
  /** Queries done in the current status, this one included. */
  queryCount: number;
  createdAt: number;
};

/** A new operation_result goes out only when the status changes. */
export type OperationResolution = QueryResolution<OperationCallStatus>;

/** What a query answer means for an operation call we are resolving (sending / unknown) or watching (pending). */
export function resolveOperationQuery(
  call: ResolvingOperationCall,
  outcome: OperationQueryOutcome,
  now: number,
  stuckDelays: readonly number[] = STUCK_QUERY_DELAYS_MS,
): OperationResolution {
  switch (outcome.status) {
    case "succeeded":
      return finalAnswer(call.status, "succeeded");
    case "failed":
      return finalAnswer(call.status, "failed", { code: outcome.code, message: outcome.message });
    case "pending": {
      const publish = call.status !== "pending";
      const next = nextPendingOperationQuery(publish ? 0 : call.queryCount, now, call.createdAt, stuckDelays);
      return { status: "pending", publish, nextQueryAt: next, failure: null, gaveUp: next === null };
    }
    case "not_found":
    case "unknown": {
      if (call.status === "pending") {
        // The channel accepted it before; a failed look changes nothing.
        const next = nextPendingOperationQuery(call.queryCount, now, call.createdAt, stuckDelays);
        return { status: "pending", publish: false, nextQueryAt: next, failure: null, gaveUp: next === null };
      }
      // Long past any call still on its way, a channel with no record never got it, so nothing moved.
      return unansweredQuery(call, outcome.status, now, {
        code: OPERATION_NO_RECORD_CODE,
        message: "the channel has no record of this operation: it never arrived, nothing moved",
      });
    }
  }
}
