import type { AttemptResult, Envelope } from "@pps/messaging";
import { type AttemptRef, attemptResultEnvelope, NO_RESULT_DATA } from "./attempt-result.ts";
import type { NewAttempt } from "./attempt-store.ts";
import type { Candidate } from "./ranking.ts";

/** The channel name on the failed attempt recorded when no channel could take a payment. */
export const NO_CHANNEL = "none";
export const NO_CHANNEL_CODE = "no_channel_available";
export const PAYMENT_EXPIRED_CODE = "payment_expired";

export function whyNoRoute(candidates: readonly Candidate[]): string {
  if (candidates.length === 0) return "no channel is configured";
  return `no channel can take this payment: ${candidates.map((c) => `${c.channel} ${c.excludedReason ?? "unusable"}`).join(", ")}`;
}

/** The failed attempt on channel `none` and its event, for a payment that no channel took and that cannot wait. */
export function noRouteFailure(
  ref: AttemptRef,
  expiresAt: number,
  expired: boolean,
  candidates: readonly Candidate[],
): { attempt: NewAttempt; event: Envelope<AttemptResult>; failureCode: string; failureMessage: string } {
  const failureCode = expired ? PAYMENT_EXPIRED_CODE : NO_CHANNEL_CODE;
  const failureMessage = expired ? "the payment expired before it could be sent to a channel" : whyNoRoute(candidates);
  const attempt: NewAttempt = {
    ...ref,
    status: "failed",
    expiresAt,
    nextQueryAt: null,
    failureCode,
    lastError: failureMessage,
  };
  const event = attemptResultEnvelope(
    ref,
    { ...NO_RESULT_DATA, outcome: "failed", failureCode, failureMessage },
    false,
  );
  return { attempt, event, failureCode, failureMessage };
}

/**
 * Whether a payment that no channel can take now may wait for one: until ROUTE_WAIT_MAX_MS after it began
 * waiting and never past its own expiry. Null: it cannot wait, so it fails now.
 */
export function waitDeadline(now: number, expiresAt: number, waitMaxMs: number, since = now): number | null {
  const until = Math.min(since + waitMaxMs, expiresAt);
  return until > now ? until : null;
}
