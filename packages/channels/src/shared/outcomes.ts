import type {
  CallbackResult,
  ChannelOutcome,
  OperationCallbackResult,
  OperationFailureCode,
  OperationOutcome,
  ParsedCallback,
} from "../types.ts";

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

/** A payment waiting for the payer: the QR code to scan (and app hand-off) when the channel gave one, else pending. */
export function qrCodeOrPending(
  channelTxnId: string,
  qrCode: string | undefined,
  deeplink: string | undefined,
): ChannelOutcome {
  return qrCode
    ? {
        status: "requires_action",
        channelTxnId,
        action: { type: "qr_code", payload: qrCode, deeplink: deeplink ?? null },
      }
    : { status: "pending", channelTxnId };
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

/**
 * A done operation, with what the channel says it moved; a success without a readable amount cannot be
 * applied, so it is unknown (`unreadable` says why).
 */
export function operationSucceeded(
  channelOpId: string | null,
  moved: { amount: number; currency: string } | null,
  unreadable: string,
): OperationOutcome {
  return moved
    ? { status: "succeeded", channelOpId, amount: moved.amount, currency: moved.currency }
    : operationUnknown(unreadable);
}

/** What a payment callback tells beside its result. */
export type PaymentCallbackBase = Omit<CallbackResult, "status" | "failureCode" | "failureMessage">;

/** A callback that tells the payment taken. */
export function paymentSucceededCallback(base: PaymentCallbackBase): ParsedCallback {
  return { ok: true, result: { ...base, status: "succeeded", failureCode: null, failureMessage: null } };
}

/** A callback that tells the payment held until `expiresAt` (a manual capture's authorization). */
export function paymentAuthorizedCallback(base: PaymentCallbackBase, expiresAt: string): ParsedCallback {
  return {
    ok: true,
    result: {
      ...base,
      status: "authorized",
      authorizationExpiresAt: expiresAt,
      failureCode: null,
      failureMessage: null,
    },
  };
}

/** A callback that tells the payment failed, or ended with nothing kept. */
export function paymentFailedCallback(base: PaymentCallbackBase, code: string, message: string): ParsedCallback {
  return { ok: true, result: { ...base, status: "failed", failureCode: code, failureMessage: message } };
}

/**
 * A channel's refusal of an operation read as ours: a code we know says it was refused (nothing moved); any
 * other may mean it was done under this request number, so it is unknown (resolved by query), never failed.
 */
export function refusalOutcome(
  code: OperationFailureCode | null,
  message: string,
  unknownReason: string,
): OperationOutcome {
  return code ? operationFailed(code, message) : operationUnknown(unknownReason);
}

/** What an operation callback tells beside its result. */
export type OperationCallbackBase = Omit<OperationCallbackResult, "status" | "failureCode" | "failureMessage">;

/** A callback that tells an operation done. */
export function operationSucceededCallback(base: OperationCallbackBase): ParsedCallback {
  return { ok: true, operation: { ...base, status: "succeeded", failureCode: null, failureMessage: null } };
}

/** A callback that tells an operation refused, or ended with nothing moved. */
export function operationFailedCallback(
  base: OperationCallbackBase,
  code: OperationFailureCode,
  message: string,
): ParsedCallback {
  return { ok: true, operation: { ...base, status: "failed", failureCode: code, failureMessage: message } };
}
