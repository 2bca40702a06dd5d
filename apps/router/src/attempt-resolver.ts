import type { ChannelAdapter, ChannelId, QueryOutcome } from "@pps/channels";
import type { Logger } from "@pps/logger";
import { PollingLoop } from "@pps/runtime";
import { attemptResultEnvelope, NO_RESULT_DATA, type ResultFields, resultFields } from "./attempt-result.ts";
import { guardedCall } from "./attempt-runner.ts";
import type { AttemptStore, DueAttempt } from "./attempt-store.ts";
import { CLAIM_MARGIN_MS, type Resolution, resolveQuery } from "./resolution-policy.ts";
import type { RouterMetrics } from "./router-metrics.ts";

export type AttemptResolverOptions = {
  store: AttemptStore;
  adapters: ReadonlyMap<ChannelId, ChannelAdapter>;
  notify: () => void;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** When to look at attempts that stay pending / requires_action (ROUTER_STUCK_QUERY_DELAYS_MS). */
  stuckQueryDelaysMs?: readonly number[];
  batchSize?: number;
  concurrency?: number;
  idlePollMs?: number;
};

function fieldsFor(r: Resolution, outcome: QueryOutcome): ResultFields {
  if (outcome.status !== "not_found" && outcome.status === r.status) return resultFields(outcome);
  const none = NO_RESULT_DATA;
  if (r.status === "failed")
    return {
      ...none,
      outcome: "failed",
      failureCode: r.failure?.code ?? null,
      failureMessage: r.failure?.message ?? null,
    };
  return {
    ...none,
    outcome: "unknown",
    failureMessage: outcome.status === "unknown" ? outcome.reason : "the channel has no record of this attempt yet",
  };
}

/**
 * Finds out what happened to attempts by asking the channel that has them: unknown outcomes (timeouts, 5xx,
 * calls cut off by a crash while `sending`) on a short backoff, and pending / requires_action attempts whose
 * callback is late on a longer one until the payment expires. Driven by routing.attempts.next_query_at, so
 * it survives restarts and replicas share the work (claims skip rows another replica holds).
 */
export class AttemptResolver {
  private readonly loop: PollingLoop;

  constructor(private readonly opts: AttemptResolverOptions) {
    const { logger, idlePollMs = 250, batchSize = 100 } = opts;
    this.loop = new PollingLoop({
      name: "attempt resolver",
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

  /** Queries every attempt that is due now (one claim batch); returns how many. Exposed for tests. */
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

  private async resolve(a: DueAttempt): Promise<void> {
    const { adapters, store, metrics, logger, timeoutMs } = this.opts;
    const log = {
      paymentId: a.paymentId,
      attemptId: a.id,
      channel: a.channel,
      status: a.status,
      queries: a.queryCount,
    };
    try {
      const adapter = adapters.get(a.channel as ChannelId);
      const started = performance.now();
      const outcome: QueryOutcome = adapter
        ? await guardedCall(
            () => adapter.query({ attemptId: a.id, channelTxnId: a.channelTxnId }, { timeoutMs }),
            timeoutMs,
          )
        : { status: "unknown", reason: `no adapter for channel ${a.channel}` };
      metrics.callDuration.observe({ channel: a.channel, operation: "query" }, (performance.now() - started) / 1000);
      metrics.resolutions.inc({ channel: a.channel, answer: outcome.status });

      const r = resolveQuery(a, outcome, Date.now(), this.opts.stuckQueryDelaysMs);
      const fields = fieldsFor(r, outcome);
      const event = r.publish ? attemptResultEnvelope(a, fields, false) : null;
      const recorded = await store.complete(
        a.id,
        { status: a.status, queryCount: a.queryCount },
        {
          status: r.status,
          channelTxnId: fields.channelTxnId,
          failureCode: r.failure?.code ?? null,
          lastError: r.failure?.message ?? (outcome.status === "unknown" ? outcome.reason : null),
          nextQueryAt: r.nextQueryAt,
          resetQueryCount: r.status !== a.status,
        },
        event,
      );
      if (!recorded) return;
      if (event) {
        this.opts.notify();
        logger.info({ ...log, outcome: r.status }, "attempt outcome resolved by query");
      }
      if (r.gaveUp) logger.error(log, "attempt outcome still unknown after the query window; left to reconciliation");
    } catch (err) {
      // The claim's lease runs out and the attempt is queried again.
      logger.error({ ...log, err }, "attempt query failed");
    }
  }
}
