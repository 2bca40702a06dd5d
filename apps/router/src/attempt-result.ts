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
  "outcome" | "channelTxnId" | "settlement" | "action" | "failureCode" | "failureMessage"
>;

/** The event fields for an adapter outcome (a pay answer or a definitive query answer). */
export function resultFields(o: Exclude<QueryOutcome, { status: "not_found" }> | ChannelOutcome): ResultFields {
  const none = { channelTxnId: null, settlement: null, action: null, failureCode: null, failureMessage: null };
  switch (o.status) {
    case "succeeded":
      return { ...none, outcome: "succeeded", channelTxnId: o.channelTxnId, settlement: o.settlement };
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
