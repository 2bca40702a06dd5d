import type { ChannelAdapter, ChannelId, OperationQueryOutcome } from "@pps/channels";
import type { Logger } from "@pps/logger";
import { PollingLoop } from "@pps/runtime";
import { guardedCall } from "./attempt-runner.ts";
import { type OperationResolution, resolveOperationQuery } from "./operation-policy.ts";
import {
  concludedFailure,
  type OperationResultFields,
  operationResultEnvelope,
  operationResultFields,
} from "./operation-result.ts";
import type { DueOperationCall, OperationCallStore } from "./operation-store.ts";
import { CLAIM_MARGIN_MS } from "./resolution-policy.ts";
import type { RouterMetrics } from "./router-metrics.ts";

export type OperationResolverOptions = {
  store: OperationCallStore;
  adapters: ReadonlyMap<ChannelId, ChannelAdapter>;
  notify: () => void;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** When to look at operations that stay pending (ROUTER_STUCK_QUERY_DELAYS_MS). */
  stuckQueryDelaysMs?: readonly number[];
  batchSize?: number;
  concurrency?: number;
  idlePollMs?: number;
};

/** The event fields of a resolution: the channel's own answer when it gave the new status, else ours. */
function fieldsFor(r: OperationResolution, outcome: OperationQueryOutcome): OperationResultFields {
  if (outcome.status !== "not_found" && outcome.status === r.status) return operationResultFields(outcome);
  if (r.status === "failed" && r.failure) return concludedFailure(r.failure.code, r.failure.message);
  return operationResultFields({
    status: "unknown",
    reason: outcome.status === "unknown" ? outcome.reason : "the channel has no record of this operation yet",
  });
}

/**
 * Finds out what became of operations by asking the channel that has them, with the same request number:
 * unknown outcomes (timeouts, 5xx, calls cut off by a crash while `sending`) on the short backoff, and
 * pending ones whose callback is late on the stuck-query schedule, both within a bounded window (then an
 * error is logged and reconciliation settles it). Driven by routing.operation_calls.next_query_at, so it
 * survives restarts and replicas share the work (claims skip rows another replica holds).
 */
export class OperationResolver {
  private readonly loop: PollingLoop;

  constructor(private readonly opts: OperationResolverOptions) {
    const { logger, idlePollMs = 250, batchSize = 100 } = opts;
    this.loop = new PollingLoop({
      name: "operation resolver",
      logger,
      idleMs: idlePollMs,
      round: async () => (await this.resolveOnce()) >= batchSize,
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Queries every operation call that is due now (one claim batch); returns how many. Exposed for tests. */
  async resolveOnce(): Promise<number> {
    const { store, timeoutMs, batchSize = 100, concurrency = 16 } = this.opts;
    const due = await store.claimDue(batchSize, timeoutMs + CLAIM_MARGIN_MS);
    let next = 0;
    const worker = async () => {
      while (next < due.length) await this.resolve(due[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
    return due.length;
  }

  private async resolve(call: DueOperationCall): Promise<void> {
    const { adapters, store, metrics, logger, timeoutMs } = this.opts;
    const log = {
      paymentId: call.paymentId,
      operationId: call.id,
      kind: call.kind,
      channel: call.channel,
      status: call.status,
      queries: call.queryCount,
    };
    try {
      const adapter = adapters.get(call.channel as ChannelId);
      const started = performance.now();
      const outcome: OperationQueryOutcome = adapter
        ? await guardedCall(() => adapter.queryOperation(call.request, { timeoutMs }), timeoutMs)
        : { status: "unknown", reason: `no adapter for channel ${call.channel}` };
      metrics.callDuration.observe(
        { channel: call.channel, operation: `${call.kind}_query` },
        (performance.now() - started) / 1000,
      );
      metrics.operationResolutions.inc({ channel: call.channel, kind: call.kind, answer: outcome.status });

      const r = resolveOperationQuery(call, outcome, Date.now(), this.opts.stuckQueryDelaysMs);
      const fields = fieldsFor(r, outcome);
      const event = r.publish ? operationResultEnvelope(call, fields) : null;
      const recorded = await store.complete(
        call.id,
        { status: call.status, queryCount: call.queryCount },
        {
          status: r.status,
          channelOpId: fields.channelOpId,
          failureCode: r.failure?.code ?? null,
          lastError: r.failure?.message ?? (outcome.status === "unknown" ? outcome.reason : null),
          nextQueryAt: r.nextQueryAt,
          resetQueryCount: r.status !== call.status,
        },
        event,
      );
      if (!recorded) return;
      if (event) {
        this.opts.notify();
        logger.info({ ...log, outcome: r.status }, "operation outcome resolved by query");
      }
      if (r.gaveUp) logger.error(log, "operation outcome still open after the query window; left to reconciliation");
    } catch (err) {
      // The claim's lease runs out and the call is queried again.
      logger.error({ ...log, err }, "operation query failed");
    }
  }
}
