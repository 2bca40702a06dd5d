import type { ChannelId, OperationRequest } from "@pps/channels";
import type { Logger } from "@pps/logger";
import type { EnvelopeHandler, OperationRequestPayload } from "@pps/messaging";
import type { InFlightLimiter } from "./in-flight-limiter.ts";
import type { OperationRunner } from "./operation-runner.ts";
import type { NewOperationCall, OperationCallStore } from "./operation-store.ts";
import { CLAIM_MARGIN_MS } from "./resolution-policy.ts";
import type { RouterMetrics } from "./router-metrics.ts";

export type OperationRequestedDeps = {
  store: OperationCallStore;
  runner: OperationRunner;
  limiter: InFlightLimiter;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** payment-api's callback endpoint for a channel (async operation results come there). */
  callbackUrl: (channel: ChannelId) => string;
};

/** The request the channel is sent, from payment-api's message: the payment's references at the channel. */
export function operationRequestOf(r: OperationRequestPayload, callbackUrl: string): OperationRequest {
  return {
    kind: r.kind,
    operationId: r.operationId,
    paymentId: r.paymentId,
    attemptId: r.attemptId,
    channelTxnId: r.channelTxnId,
    amount: r.amount,
    currency: r.currency,
    paymentAmount: r.paymentAmount,
    reason: r.reason,
    callbackUrl,
  };
}

/**
 * payment.internal.operation_requested → record the call (`sending`) with the inbox claim in one statement,
 * then call the payment's channel in the background. The handler returns once the call is durable: from
 * then on the runner, or after a crash the resolver, owns it. A request for an operation that already has
 * its call (a redelivery, or a repeat under another message id) does nothing more.
 */
export function createOperationRequestedHandler(deps: OperationRequestedDeps): EnvelopeHandler {
  const { store, runner, limiter, metrics, logger } = deps;
  return async (envelope) => {
    const r = envelope.payload as OperationRequestPayload;
    // Taking the slot first bounds the calls in flight, and the call's lease starts when it can go.
    const release = await limiter.acquire();
    let handedOver = false;
    try {
      const call: NewOperationCall = {
        id: r.operationId,
        paymentId: r.paymentId,
        kind: r.kind,
        channel: r.channel,
        amount: r.amount,
        currency: r.currency,
        request: operationRequestOf(r, deps.callbackUrl(r.channel as ChannelId)),
        nextQueryAt: Date.now() + deps.timeoutMs + CLAIM_MARGIN_MS,
      };
      const log = { paymentId: r.paymentId, operationId: r.operationId, kind: r.kind, channel: r.channel };
      const { claimed, started } = await store.begin(envelope.id, call);
      metrics.operationRequests.inc({ result: started ? "started" : "duplicate" });
      if (!started) {
        logger.info(
          { ...log, eventId: envelope.id, redelivered: !claimed },
          "operation already has its call; skipping",
        );
        return;
      }
      limiter.background(
        () => runner.run(call),
        release,
        (err) => logger.error({ ...log, err }, "operation runner failed"),
      );
      handedOver = true;
    } finally {
      if (!handedOver) release();
    }
  };
}
