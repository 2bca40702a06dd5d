import type { QueryOutcome } from "@pps/channels";

/**
 * Attempt statuses in routing.attempts. `sending`: the call is in flight, or its answer was lost in a crash.
 * `authorized`: a manual-capture payment held at the channel; final for the attempt like `succeeded` (the
 * capture or void that follows is an operation of its own).
 */
export const ATTEMPT_STATUSES = [
  "sending",
  "succeeded",
  "authorized",
  "failed",
  "requires_action",
  "pending",
  "unknown",
] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

/** Statuses after which nothing more is asked or reported about an attempt. */
export const FINAL_ATTEMPT_STATUSES: readonly AttemptStatus[] = ["succeeded", "authorized", "failed"];

/** Querying an attempt whose outcome is unknown: soon at first, then less often. The last delay repeats. */
export const UNKNOWN_QUERY_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000] as const;
/**
 * Querying an attempt that stays pending / requires_action (the callback may be lost). The first look waits
 * a minute: most payers finish, and most callbacks arrive, well before that, and we do not learn about
 * callbacks (payment-api receives them), so an earlier look would mostly re-ask about settled payments.
 */
export const STUCK_QUERY_DELAYS_MS = [60_000, 120_000, 300_000, 600_000] as const;
/**
 * A channel that still has no record of an attempt this long after we sent it never received it: the
 * attempt failed (without failover: unknown never fails over).
 */
export const NOT_FOUND_GIVE_UP_MS = 120_000;
/** After this, an unresolved attempt is left to reconciliation (and an error is logged). */
export const UNKNOWN_GIVE_UP_MS = 24 * 3_600_000;
/** Lease on a claimed attempt beyond the call timeout, so no other replica queries it meanwhile. */
export const CLAIM_MARGIN_MS = 10_000;

export const NO_RECORD_CODE = "channel_no_record";

const delayAt = (delays: readonly number[], n: number) => delays[Math.min(n, delays.length - 1)]!;

/**
 * When to query an attempt that is pending / requires_action next; null once the payment has expired. The
 * same schedule watches pending operation calls, with the end of their query window as `expiresAt`.
 */
export function nextStuckQuery(
  queriesDone: number,
  now: number,
  expiresAt: number,
  delays: readonly number[] = STUCK_QUERY_DELAYS_MS,
): number | null {
  if (now >= expiresAt) return null;
  // One last look at the expiry itself: a payer who paid in the last minute should not see an expired payment.
  return Math.min(now + delayAt(delays, queriesDone), expiresAt);
}

export function nextUnknownQuery(queriesDone: number, now: number, createdAt: number): number | null {
  if (now - createdAt >= UNKNOWN_GIVE_UP_MS) return null;
  return now + delayAt(UNKNOWN_QUERY_DELAYS_MS, queriesDone);
}

/**
 * What an outcome does to a row that is queried on a schedule (an attempt, an operation call), besides the
 * channel's own reference, which each kind names its own way.
 */
export type OutcomeUpdate<S extends string> = {
  status: S;
  failureCode: string | null;
  lastError: string | null;
  nextQueryAt: number | null;
  /** Start the query schedule of the new status from the beginning. */
  resetQueryCount: boolean;
};

export type ResolvingAttempt = {
  status: AttemptStatus;
  /** Queries done in the current status, this one included. */
  queryCount: number;
  createdAt: number;
  expiresAt: number;
};

/** What a query answer means for a row being resolved (an attempt or an operation call). */
export type QueryResolution<S extends string> = {
  status: S;
  /** A new result event goes out only when the status changes. */
  publish: boolean;
  nextQueryAt: number | null;
  failure: { code: string; message: string } | null;
  /** No more queries and no answer: reconciliation has to settle it. */
  gaveUp: boolean;
};

export type Resolution = QueryResolution<AttemptStatus>;

/** A definitive answer (the channel's own): nothing more to ask. */
export function finalAnswer<S extends string>(
  from: string,
  status: S,
  failure: { code: string; message: string } | null = null,
): QueryResolution<S> {
  return { status, publish: status !== from, nextQueryAt: null, failure, gaveUp: false };
}

/**
 * No answer (unknown, or not_found) about a row the channel never acknowledged (sending / unknown): failed
 * with `noRecord` once the channel still has no record of it long after we sent it, else unknown on the
 * backoff until the query window closes. While the answer is not_found, the next query is due no later than
 * NOT_FOUND_GIVE_UP_MS after sending, so a request that never arrived fails then (at 2 minutes, not at the
 * next backoff step, which would be 168 s).
 */
export function unansweredQuery(
  row: { status: string; queryCount: number; createdAt: number },
  answer: "not_found" | "unknown",
  now: number,
  noRecord: { code: string; message: string },
): QueryResolution<"failed" | "unknown"> {
  if (answer === "not_found" && now - row.createdAt >= NOT_FOUND_GIVE_UP_MS) {
    return { status: "failed", publish: true, nextQueryAt: null, failure: noRecord, gaveUp: false };
  }
  let next = nextUnknownQuery(row.status === "sending" ? 0 : row.queryCount, now, row.createdAt);
  // Still no record: look again no later than the moment it may be given up, not a backoff step past it.
  if (answer === "not_found" && next !== null) next = Math.min(next, row.createdAt + NOT_FOUND_GIVE_UP_MS);
  return {
    status: "unknown",
    publish: row.status !== "unknown",
    nextQueryAt: next,
    failure: null,
    gaveUp: next === null,
  };
}

/** What a query answer means for an attempt we are resolving (unknown / sending) or watching (pending / requires_action). */
export function resolveQuery(
  a: ResolvingAttempt,
  outcome: QueryOutcome,
  now: number,
  stuckDelays: readonly number[] = STUCK_QUERY_DELAYS_MS,
): Resolution {
  switch (outcome.status) {
    case "succeeded":
    case "authorized":
      // Both final: the money is taken, or held until a capture or void (operations, not queries of this attempt).
      return finalAnswer(a.status, outcome.status);
    case "failed":
      return finalAnswer(a.status, "failed", { code: outcome.code, message: outcome.message });
    case "pending":
    case "requires_action": {
      const publish = outcome.status !== a.status;
      // A new status starts its own schedule.
      const next = nextStuckQuery(publish ? 0 : a.queryCount, now, a.expiresAt, stuckDelays);
      return { status: outcome.status, publish, nextQueryAt: next, failure: null, gaveUp: false };
    }
    case "not_found":
    case "unknown": {
      if (a.status === "pending" || a.status === "requires_action") {
        // The channel acknowledged the attempt before; a failed look changes nothing.
        return {
          status: a.status,
          publish: false,
          nextQueryAt: nextStuckQuery(a.queryCount, now, a.expiresAt, stuckDelays),
          failure: null,
          gaveUp: false,
        };
      }
      return unansweredQuery(a, outcome.status, now, {
        code: NO_RECORD_CODE,
        message: "the channel has no record of this attempt",
      });
    }
  }
}
