import type { ChannelAdapter, ChannelId } from "@pps/channels";
import type { Logger } from "@pps/logger";
import { PollingLoop } from "@pps/runtime";
import { guardedCall } from "./attempt-runner.ts";
import { CLAIM_MARGIN_MS, type OutcomeUpdate, type QueryResolution } from "./resolution-policy.ts";
import type { RouterMetrics } from "./router-metrics.ts";

/** A channel's answer to a query (QueryOutcome, OperationQueryOutcome): an unknown one says why. */
type QueryAnswer = { status: string; reason?: string };
/** What the resolver makes of a query that got no answer (or of a channel without an adapter). */
type NoAnswer = { status: "unknown"; reason: string };

/** A row whose query is due, as its store's claimDue returns it. */
export type DueRow = { id: string; channel: string; status: string; queryCount: number };

/** What the resolver needs of a store: the claims, and the conditional write of an outcome with its event. */
export type ResolvableStore<Row extends DueRow, U, E> = {
  claimDue(limit: number, leaseMs: number): Promise<Row[]>;
  complete(id: string, from: { status: Row["status"]; queryCount?: number }, u: U, event: E | null): Promise<boolean>;
};

export type QueryResolverOptions<Store> = {
  store: Store;
  adapters: ReadonlyMap<ChannelId, ChannelAdapter>;
  notify: () => void;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** When to look at rows that stay pending (/ requires_action) (ROUTER_STUCK_QUERY_DELAYS_MS). */
  stuckQueryDelaysMs?: readonly number[];
  batchSize?: number;
  concurrency?: number;
  idlePollMs?: number;
};

/** What one kind of row (attempts, operation calls) brings to the resolver: how to query, judge and record. */
export type QueryResolverKind<Row extends DueRow, O extends QueryAnswer, U, E> = {
  /** "attempt" / "operation": names the loop and its log lines. */
  noun: string;
  /** Logged when the query window closes without an answer. */
  gaveUpMessage: string;
  /** What names the row in the log lines (before its channel, status and query count). */
  logRef: (row: Row) => Record<string, unknown>;
  /** Asks the channel about the row. */
  query: (adapter: ChannelAdapter, row: Row, opts: { timeoutMs: number }) => Promise<O>;
  /** The query's duration and answer in the metrics. */
  observe: (metrics: RouterMetrics, row: Row, answer: string, seconds: number) => void;
  /** What the answer means (the kind's policy). */
  policy: (
    row: Row,
    outcome: O | NoAnswer,
    now: number,
    stuckDelays?: readonly number[],
  ) => QueryResolution<Row["status"]>;
  /** The row's whole update and its event (null: nothing to publish). */
  record: (
    row: Row,
    r: QueryResolution<Row["status"]>,
    outcome: O | NoAnswer,
    update: OutcomeUpdate<Row["status"]>,
  ) => { update: U; event: E | null };
};

/**
 * Finds out what happened to rows by asking the channel that has them, driven by the rows' next_query_at,
 * so it survives restarts and replicas share the work (claims skip rows another replica holds). Each round
 * claims a batch, queries it with bounded concurrency, and records each answer only if the row is still as
 * claimed (status and query count); the kind says how to ask, what the answer means and what to write.
 */
export class QueryResolver<Row extends DueRow, O extends QueryAnswer, U, E> {
  private readonly loop: PollingLoop;

  constructor(
    private readonly opts: QueryResolverOptions<ResolvableStore<Row, U, E>>,
    private readonly kind: QueryResolverKind<Row, O, U, E>,
  ) {
    const { logger, idlePollMs = 250, batchSize = 100 } = opts;
    this.loop = new PollingLoop({
      name: `${kind.noun} resolver`,
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

  /** Queries every row that is due now (one claim batch); returns how many. Exposed for tests. */
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

  private async resolve(row: Row): Promise<void> {
    const { adapters, store, metrics, logger, timeoutMs } = this.opts;
    const { kind } = this;
    const log = { ...kind.logRef(row), channel: row.channel, status: row.status, queries: row.queryCount };
    try {
      const adapter = adapters.get(row.channel as ChannelId);
      const started = performance.now();
      const outcome: O | NoAnswer = adapter
        ? await guardedCall(() => kind.query(adapter, row, { timeoutMs }), timeoutMs)
        : { status: "unknown", reason: `no adapter for channel ${row.channel}` };
      kind.observe(metrics, row, outcome.status, (performance.now() - started) / 1000);

      const r = kind.policy(row, outcome, Date.now(), this.opts.stuckQueryDelaysMs);
      const { update, event } = kind.record(row, r, outcome, {
        status: r.status,
        failureCode: r.failure?.code ?? null,
        lastError: r.failure?.message ?? (outcome.status === "unknown" ? (outcome.reason ?? null) : null),
        nextQueryAt: r.nextQueryAt,
        resetQueryCount: r.status !== row.status,
      });
      const recorded = await store.complete(row.id, { status: row.status, queryCount: row.queryCount }, update, event);
      if (!recorded) return;
      if (event) {
        this.opts.notify();
        logger.info({ ...log, outcome: r.status }, `${kind.noun} outcome resolved by query`);
      }
      if (r.gaveUp) logger.error(log, kind.gaveUpMessage);
    } catch (err) {
      // The claim's lease runs out and the row is queried again.
      logger.error({ ...log, err }, `${kind.noun} query failed`);
    }
  }
}
