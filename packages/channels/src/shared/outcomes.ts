import type { ChannelOutcome, OperationFailureCode, OperationOutcome } from "../types.ts";

/**
 * Our failure codes for definitive failures (the channel's own code and message stay in the message).
 * Every one of them means the channel did not take the money.
 */
export const FAILURE_CODES = [
  "card_declined",
  "insufficient_funds",
  "payer_canceled",
  "verification_failed",
  "expired",
  "channel_unavailable",
  "amount_limit_exceeded",
  "currency_not_supported",
  "bank_not_supported",
  "payer_phone_missing",
  "channel_rejected",
] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];

export function failed(code: FailureCode, message: string, channelTxnId: string | null = null): ChannelOutcome {
  return { status: "failed", channelTxnId, code, message };
}

export function unavailable(detail: string): ChannelOutcome {
  return failed("channel_unavailable", detail);
}

export function unknown(reason: string): ChannelOutcome {
  return { status: "unknown", reason };
}

/** Compile-time exhaustiveness: a new channel status that nobody maps fails the build here. */
export function assertNever(value: never, what: string): never {
  throw new Error(`unmapped ${what}: ${JSON.stringify(value)}`);
}

/** A definitive "not done" for an operation (nothing moved). */
export function operationFailed(code: OperationFailureCode, message: string): OperationOutcome {
  return { status: "failed", code, message };
}

/** The answer of an adapter asked for a flow its channel does not offer: refused without a call. */
export function flowNotOffered(channel: string, kind: string): OperationOutcome {
  return operationFailed("flow_not_supported", `${channel} does not offer ${kind}`);
}

export function operationUnknown(reason: string): OperationOutcome {
  return { status: "unknown", reason };
}
