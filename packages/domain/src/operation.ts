import { defineStateMachine } from "./state-machine.ts";

/**
 * Operations on a payment after it was paid or authorized: each a record of its own (id, the merchant's
 * own number, idempotency key, state machine, events, notifications), always run on the channel that took
 * the money, never re-routed.
 * - capture (预授权完成): takes up to the authorized amount, once; the rest is released.
 * - void (预授权撤销): releases an authorization in full, before it is captured.
 * - cancel (撤销): same-day reversal of a captured payment, before the channel's daily cut-off, in full.
 * - refund (退款): returns part or all of what was captured, any number of times up to that amount.
 */
export const OPERATION_KINDS = ["capture", "void", "cancel", "refund"] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

/** Id prefix per kind: `re_…` for a refund and so on. */
export const OPERATION_ID_PREFIX: Record<OperationKind, string> = {
  capture: "cap",
  void: "void",
  cancel: "cxl",
  refund: "re",
};

/**
 * - pending: recorded (and, for a refund or cancel, its amount reserved on the payment); the channel is
 *   being asked, or its answer is awaited (callback or query).
 * - succeeded / failed: what the channel did. A failure releases the reservation.
 * - requires_review: the channel reported a result that does not match the operation (amount, currency);
 *   held for an operator with its reservation kept, nothing applied.
 */
export const OPERATION_STATUSES = ["pending", "succeeded", "failed", "requires_review"] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export const operationStateMachine = defineStateMachine<OperationStatus>({
  pending: ["succeeded", "failed", "requires_review"],
  succeeded: [],
  // A channel that reports success after a failure wins (the money moved), as for payments.
  failed: ["succeeded", "requires_review"],
  requires_review: ["succeeded", "failed"],
});

/** What the merchant wants done when a channel reports a success for a payment we had failed or expired. */
export const LATE_SUCCESS_POLICIES = ["apply", "refund"] as const;
export type LateSuccessPolicy = (typeof LATE_SUCCESS_POLICIES)[number];

/**
 * An attempt's id names its payment and number (`at<n>_<the payment id's ULID>`), so a callback can be tied
 * to its payment whenever it arrives, even before the router's report of the attempt. Alphanumerics and one
 * underscore, 31 characters: within every channel's reference limit.
 */
export function attemptIdOf(paymentId: string, attemptNo: number): string {
  const ulid = paymentId.startsWith("pay_") ? paymentId.slice(4) : paymentId;
  return `at${attemptNo}_${ulid}`;
}

/** The payment and number an attempt id names, or null for an id not made by attemptIdOf. */
export function parseAttemptId(attemptId: string): { paymentId: string; attemptNo: number } | null {
  const m = /^at([1-9][0-9]?)_([0-9A-HJKMNP-TV-Z]{26})$/.exec(attemptId);
  return m ? { paymentId: `pay_${m[2]}`, attemptNo: Number(m[1]) } : null;
}
