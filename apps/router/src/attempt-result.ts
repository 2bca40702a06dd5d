import type { ChannelOutcome, QueryOutcome } from "@pps/channels";
import { type AttemptResult, channelEvents, type Envelope, makeEnvelope } from "@pps/messaging";

/** The attempt as the event describes it. */
export type AttemptRef = {
  id: string;
  paymentId: string;
  attemptNo: number;
  channel: string;
  amount: number;
  currency: string;
};

export type ResultFields = Pick<
  AttemptResult,
  | "outcome"
  | "channelTxnId"
  | "settlement"
  | "action"
  | "failureCode"
  | "failureMessage"
  | "authorizationExpiresAt"
  | "reportedAmount"
  | "reportedCurrency"
>;

/** The fields of a result that carries none of the channel's data (each outcome sets what it has). */
export const NO_RESULT_DATA = {
  channelTxnId: null,
  settlement: null,
  action: null,
  failureCode: null,
  failureMessage: null,
  authorizationExpiresAt: null,
  reportedAmount: null,
  reportedCurrency: null,
} as const satisfies Omit<ResultFields, "outcome">;

/**
 * What the channel reported it moved, as the events carry it: an amount that is not a positive integer or a
 * currency that is not a code would make the whole event invalid for its readers (they dead-letter it), so
 * it goes as "not reported" (null) instead.
 */
export function reportedMoney(amount: number, currency: string): { amount: number | null; currency: string | null } {
  return {
    amount: Number.isSafeInteger(amount) && amount > 0 ? amount : null,
    currency: /^[A-Z]{3}$/.test(currency) ? currency : null,
  };
}

/** The event fields for an adapter outcome (a pay answer or a definitive query answer). */
export function resultFields(o: Exclude<QueryOutcome, { status: "not_found" }> | ChannelOutcome): ResultFields {
  const none = NO_RESULT_DATA;
  switch (o.status) {
    case "succeeded": {
      // What the channel says it took goes along as reported: payment-api checks it against the payment.
      const reported = reportedMoney(o.amount, o.currency);
      return {
        ...none,
        outcome: "succeeded",
        channelTxnId: o.channelTxnId,
        settlement: o.settlement,
        reportedAmount: reported.amount,
        reportedCurrency: reported.currency,
      };
    }
    case "authorized": {
      const reported = reportedMoney(o.amount, o.currency);
      return {
        ...none,
        outcome: "authorized",
        channelTxnId: o.channelTxnId,
        authorizationExpiresAt: isoOrNull(o.expiresAt),
        reportedAmount: reported.amount,
        reportedCurrency: reported.currency,
      };
    }
    case "failed":
      return {
        ...none,
        outcome: "failed",
        channelTxnId: o.channelTxnId,
        failureCode: o.code,
        failureMessage: o.message,
      };
    case "requires_action":
      return { ...none, outcome: "requires_action", channelTxnId: o.channelTxnId, action: o.action };
    case "pending":
      return { ...none, outcome: "pending", channelTxnId: o.channelTxnId };
    case "unknown":
      // No failure code: nothing failed (yet); the message says why we cannot tell.
      return { ...none, outcome: "unknown", failureMessage: o.reason };
  }
}

/** An ISO timestamp with offset as the event schema wants it, or null for one an adapter could not give. */
function isoOrNull(value: string): string | null {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

export function attemptResultEnvelope(
  attempt: AttemptRef,
  fields: ResultFields,
  willRetry: boolean,
  now = new Date(),
): Envelope<AttemptResult> {
  const def = channelEvents.attemptResult;
  const payload: AttemptResult = {
    paymentId: attempt.paymentId,
    attemptId: attempt.id,
    attemptNo: attempt.attemptNo,
    channel: attempt.channel,
    amount: attempt.amount,
    currency: attempt.currency,
    ...fields,
    willRetry,
    occurredAt: now.toISOString(),
  };
  return makeEnvelope({
    type: def.type,
    version: def.version,
    aggregateId: attempt.paymentId,
    payload,
    occurredAt: now,
  });
}
