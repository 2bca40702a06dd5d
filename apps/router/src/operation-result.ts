import type { OperationOutcome, OperationRequest } from "@pps/channels";
import { channelEvents, type Envelope, makeEnvelope, type OperationResult } from "@pps/messaging";
import { reportedMoney } from "./attempt-result.ts";

/** The operation call as its event describes it. */
export type OperationCallRef = {
  id: string;
  paymentId: string;
  kind: OperationRequest["kind"];
  channel: string;
  amount: number;
  currency: string;
};

export type OperationResultFields = Pick<
  OperationResult,
  "outcome" | "channelOpId" | "reportedAmount" | "reportedCurrency" | "failureCode" | "failureMessage"
>;

const NONE = {
  channelOpId: null,
  reportedAmount: null,
  reportedCurrency: null,
  failureCode: null,
  failureMessage: null,
} as const satisfies Omit<OperationResultFields, "outcome">;

/** The event fields for an operation outcome (the call's answer or a definitive query answer). */
export function operationResultFields(o: OperationOutcome): OperationResultFields {
  switch (o.status) {
    case "succeeded": {
      // What the channel says it moved: payment-api checks it against the operation before applying it.
      const reported = reportedMoney(o.amount, o.currency);
      return {
        ...NONE,
        outcome: "succeeded",
        channelOpId: o.channelOpId,
        reportedAmount: reported.amount,
        reportedCurrency: reported.currency,
      };
    }
    case "failed":
      return { ...NONE, outcome: "failed", failureCode: o.code, failureMessage: o.message };
    case "pending":
      return { ...NONE, outcome: "pending", channelOpId: o.channelOpId };
    case "unknown":
      // No failure code: nothing failed (yet); the message says why we cannot tell.
      return { ...NONE, outcome: "unknown", failureMessage: o.reason };
  }
}

/** A failure the router concludes itself (the channel never got the request), not one the channel answered. */
export function concludedFailure(code: string, message: string): OperationResultFields {
  return { ...NONE, outcome: "failed", failureCode: code, failureMessage: message };
}

export function operationResultEnvelope(
  call: OperationCallRef,
  fields: OperationResultFields,
  now = new Date(),
): Envelope<OperationResult> {
  const def = channelEvents.operationResult;
  const payload: OperationResult = {
    paymentId: call.paymentId,
    operationId: call.id,
    kind: call.kind,
    channel: call.channel,
    amount: call.amount,
    currency: call.currency,
    ...fields,
    occurredAt: now.toISOString(),
  };
  // Keyed by the payment, like its attempt results, so payment-api sees one payment's results in order.
  return makeEnvelope({ type: def.type, version: def.version, aggregateId: call.paymentId, payload, occurredAt: now });
}
