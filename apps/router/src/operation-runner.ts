import type { ChannelAdapter, ChannelId, OperationOutcome } from "@pps/channels";
import type { Logger } from "@pps/logger";
import { guardedCall } from "./attempt-runner.ts";
import { operationUpdateFor } from "./operation-policy.ts";
import { operationResultEnvelope, operationResultFields } from "./operation-result.ts";
import type { NewOperationCall, OperationCallStore } from "./operation-store.ts";
import type { RouterMetrics } from "./router-metrics.ts";

export type OperationRunnerDeps = {
  adapters: ReadonlyMap<ChannelId, ChannelAdapter>;
  store: OperationCallStore;
  /** Nudges the outbox relay after a commit so the event goes out at once. */
  notify: () => void;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** When to look at operations that stay pending (ROUTER_STUCK_QUERY_DELAYS_MS). */
  stuckQueryDelaysMs?: readonly number[];
};

/**
 * Runs one operation on the channel that took the money: one call outside any transaction, then its outcome
 * and its channel.operation_result in one statement. Never another channel and never another request
 * number: an unknown outcome is the resolver's, which asks the same channel about the same request.
 *
 * Operations do not feed the circuit breaker or the health that ranks channels for payments: they cannot
 * go elsewhere, so a breaker would only delay a definitive answer, and a channel's refund service failing
 * says little about its payment service.
 */
export class OperationRunner {
  constructor(private readonly deps: OperationRunnerDeps) {}

  /** Never throws: if the commit fails, the call stays `sending` and the resolver queries it later. */
  async run(call: NewOperationCall): Promise<void> {
    const { deps } = this;
    const adapter = deps.adapters.get(call.channel as ChannelId);
    const started = performance.now();
    deps.metrics.inFlight.inc();
    const outcome: OperationOutcome = adapter
      ? await guardedCall(() => adapter.operate(call.request, { timeoutMs: deps.timeoutMs }), deps.timeoutMs)
      : { status: "failed", code: "channel_unavailable", message: `no adapter for channel ${call.channel}` };
    deps.metrics.inFlight.dec();
    deps.metrics.callDuration.observe(
      { channel: call.channel, operation: call.kind },
      (performance.now() - started) / 1000,
    );
    deps.metrics.operationCalls.inc({ channel: call.channel, kind: call.kind, outcome: outcome.status });

    const update = operationUpdateFor(outcome, Date.now(), deps.stuckQueryDelaysMs);
    const event = operationResultEnvelope(call, operationResultFields(outcome));
    const log = {
      paymentId: call.paymentId,
      operationId: call.id,
      kind: call.kind,
      channel: call.channel,
      outcome: outcome.status,
    };
    try {
      if (!(await deps.store.complete(call.id, { status: "sending" }, update, event))) {
        deps.logger.warn(log, "operation call was settled elsewhere; outcome not recorded twice");
        return;
      }
      deps.notify();
      if (outcome.status === "unknown")
        deps.logger.warn({ ...log, reason: outcome.reason }, "operation outcome unknown; resolving by query");
      else if (outcome.status === "failed")
        deps.logger.info({ ...log, failureCode: outcome.code, failureMessage: outcome.message }, "operation refused");
    } catch (err) {
      deps.logger.error({ ...log, err }, "could not record the operation outcome; the resolver will query the channel");
    }
  }
}
