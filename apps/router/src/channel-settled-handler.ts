import type { Logger } from "@pps/logger";
import type { ChannelSettledPayload, EnvelopeHandler } from "@pps/messaging";
import type { AttemptStore } from "./attempt-store.ts";
import type { OperationCallStore } from "./operation-store.ts";
import type { RouterMetrics } from "./router-metrics.ts";

export type ChannelSettledDeps = {
  attempts: AttemptStore;
  operations: OperationCallStore;
  metrics: RouterMetrics;
  logger: Logger;
};

/**
 * payment.internal.channel_settled: a channel's callback (which goes to payment-api, not here) settled an
 * attempt or an operation, so the router stops asking the channel about it. The row takes the callback's
 * outcome if it had none yet: a call still in flight then finds it moved and reports nothing, and the
 * resolver's conditional update refuses too. Idempotent through the inbox, like the other handlers.
 */
export function createChannelSettledHandler(deps: ChannelSettledDeps): EnvelopeHandler {
  const { attempts, operations, metrics, logger } = deps;
  return async (envelope) => {
    const s = envelope.payload as ChannelSettledPayload;
    const log = { paymentId: s.paymentId, ref: s.ref, subject: s.subject, channel: s.channel, outcome: s.outcome };
    let result: { claimed: boolean; settled: boolean };
    if (s.subject === "attempt") result = await attempts.settleByCallback(envelope.id, s.ref, s.outcome);
    else if (s.outcome === "authorized") {
      // No operation ends authorized: a message we cannot apply, and nothing to stop.
      logger.warn(log, "channel_settled for an operation with outcome authorized; ignored");
      return;
    } else result = await operations.settleByCallback(envelope.id, s.ref, s.outcome);
    const outcome = !result.claimed ? "duplicate" : result.settled ? "settled" : "not_found";
    metrics.callbackSettlements.inc({ subject: s.subject, result: outcome });
    if (outcome === "not_found") logger.warn(log, "channel_settled names no call of this router; nothing to stop");
    else if (outcome === "settled") logger.info(log, "settled by the channel's callback; no more queries");
  };
}
