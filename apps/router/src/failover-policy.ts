import type { ChannelOutcome } from "@pps/channels";
import type { CallHealth } from "./circuit-breaker.ts";

/**
 * The failure code adapters give when the channel definitively did not take the payment because it could
 * not (down, refusing connections, maintenance) rather than because it declined it.
 */
export const CHANNEL_UNAVAILABLE = "channel_unavailable";

/** At most this many channels are tried for one payment in a row (waiting for one to recover starts a new round). */
export const MAX_ATTEMPTS = 3;

/**
 * The highest attempt number a payment may reach, however often it waits for a channel: the attempt id
 * carries it in two digits (`attemptIdOf` / `parseAttemptId` in @pps/domain).
 */
export const MAX_ATTEMPT_NO = 99;

export type NextStep =
  /** Announce the outcome; nothing more happens for this payment here (apart from stuck queries). */
  | { kind: "publish"; willRetry: false }
  /** Announce the failure with willRetry=true and try the next candidate. */
  | { kind: "failover" }
  /** Announce `unknown` and find out by querying the same channel. Never another channel: it may have the money. */
  | { kind: "resolve" };

/** Only a failure that proves the channel did not take the money, and was not the payer's decline, may move on. */
export function isFailoverable(outcome: ChannelOutcome): boolean {
  return outcome.status === "failed" && outcome.code === CHANNEL_UNAVAILABLE;
}

export function nextStep(outcome: ChannelOutcome, attemptNo: number, hasNextCandidate: boolean): NextStep {
  if (outcome.status === "unknown") return { kind: "resolve" };
  if (isFailoverable(outcome) && hasNextCandidate && attemptNo < MAX_ATTEMPTS) return { kind: "failover" };
  return { kind: "publish", willRetry: false };
}

/** What the circuit breaker learns from a call: declines and payer-side outcomes mean the channel works. */
export function callHealth(outcome: ChannelOutcome): CallHealth {
  if (outcome.status === "unknown") return "technical_failure";
  if (outcome.status === "failed" && outcome.code === CHANNEL_UNAVAILABLE) return "technical_failure";
  return "healthy";
}
