import type { ChannelAdapter, ChannelId, ChannelOutcome } from "@pps/channels";
import type { Logger } from "@pps/logger";
import { DEFAULT_CHANNEL_CONFIGS } from "./channel-defaults.ts";
import type { ChannelStore, ChannelUpdate } from "./channel-store.ts";
import {
  admission,
  CLOSED,
  type Circuit,
  type CircuitConfig,
  forceCircuit,
  recordCall,
  sameCircuit,
  startProbe,
} from "./circuit-breaker.ts";
import { callHealth } from "./failover-policy.ts";
import { type CallCounts, emptyCounts, HEALTH_WINDOW_MS, healthOf, PendingStats } from "./health-stats.ts";
import type { ChannelConfig, ChannelHealth, ChannelView } from "./ranking.ts";
import type { RouterMetrics } from "./router-metrics.ts";

export type ChannelStateOptions = {
  store: ChannelStore;
  adapters: ReadonlyMap<ChannelId, ChannelAdapter>;
  circuit: CircuitConfig;
  refreshMs: number;
  logger: Logger;
  metrics: RouterMetrics;
};

const STATS_RETENTION_MS = 24 * 3_600_000;
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Channel settings, circuits and health, cached in memory so routing a payment reads no table. Refreshed
 * from Postgres every `refreshMs` (changes by other replicas or operators show up within that), and updated
 * at once for changes made here.
 */
export class ChannelState {
  private configs = new Map<string, ChannelConfig>();
  private circuits = new Map<string, Circuit>();
  private counts = new Map<string, CallCounts>();
  private readonly pending = new PendingStats();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private lastPrune = 0;

  constructor(private readonly opts: ChannelStateOptions) {}

  get circuitConfig(): CircuitConfig {
    return this.opts.circuit;
  }

  async start(): Promise<void> {
    await this.opts.store.seed([...this.opts.adapters.keys()].map((id) => ({ id, ...DEFAULT_CHANNEL_CONFIGS[id] })));
    await this.refresh();
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.refreshing = this.refresh()
        .catch((err: unknown) =>
          this.opts.logger.error({ err }, "channel state refresh failed; using the last known state"),
        )
        .finally(() => {
          this.refreshing = undefined;
          if (this.timer) this.schedule();
        });
    }, this.opts.refreshMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.refreshing;
    await this.flush().catch((err: unknown) =>
      this.opts.logger.warn({ err }, "could not write the last health counts"),
    );
  }

  private async flush(): Promise<void> {
    const entries = this.pending.take();
    try {
      await this.opts.store.addCounts(entries);
    } catch (err) {
      this.pending.restore(entries);
      throw err;
    }
  }

  async refresh(): Promise<void> {
    const { store } = this.opts;
    const now = Date.now();
    await this.flush();
    const [configs, circuits, counts] = await Promise.all([
      store.configs(),
      store.circuits(),
      store.windowCounts(now - HEALTH_WINDOW_MS),
    ]);
    this.configs = new Map(configs.map((c) => [c.id, c]));
    this.circuits = circuits;
    this.counts = counts;
    if (now - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now;
      await store.pruneCounts(now - STATS_RETENTION_MS);
    }
  }

  private circuitOf(id: string): Circuit {
    return this.circuits.get(id) ?? CLOSED;
  }

  private healthOf(id: string): ChannelHealth {
    return healthOf(this.counts.get(id) ?? emptyCounts());
  }

  /** Everything ranking needs, from memory. */
  views(): ChannelView[] {
    return [...this.opts.adapters.values()].map((a) => ({
      id: a.id,
      capabilities: a.capabilities,
      config: this.configs.get(a.id),
      circuit: this.circuitOf(a.id),
      health: this.healthOf(a.id),
    }));
  }

  /** Counts the call for health and feeds the circuit breaker. */
  async recordCall(channel: ChannelId, outcome: ChannelOutcome, latencyMs: number): Promise<void> {
    this.pending.record(channel, outcome, latencyMs);
    const health = callHealth(outcome);
    const cached = this.circuitOf(channel);
    // The common case, a healthy call to a closed circuit with no failures counted, touches no table.
    if (cached.forced || (health === "healthy" && cached.state === "closed" && cached.consecutiveFailures === 0))
      return;
    if (health === "healthy" && cached.state === "closed")
      this.circuits.set(channel, { ...cached, consecutiveFailures: 0 });
    const now = Date.now();
    const { before, after } = await this.opts.store.transition(channel, (c) => {
      const next = recordCall(c, health, now, this.opts.circuit);
      return sameCircuit(next, c) ? c : next;
    });
    this.applyCircuit(channel, before, after, "call");
  }

  /**
   * Takes the half-open probe slot for this replica. If another call (here or elsewhere) has it, the call may
   * still go as part of the half-open share; false: it may not go at all.
   */
  async claimProbe(channel: ChannelId, sample: number = Math.random()): Promise<boolean> {
    const now = Date.now();
    const { before, after } = await this.opts.store.transition(channel, (c) =>
      admission(c, now, this.opts.circuit) === "probe" ? startProbe(c, now) : c,
    );
    this.applyCircuit(channel, before, after, "probe");
    return after !== before || admission(after, now, this.opts.circuit, sample) === "allow";
  }

  async forceCircuit(channel: ChannelId, state: "open" | "closed"): Promise<Circuit> {
    const forced = forceCircuit(state, Date.now());
    const { before, after } = await this.opts.store.transition(channel, () => forced);
    this.applyCircuit(channel, before, after, "operator");
    return after;
  }

  private applyCircuit(channel: string, before: Circuit, after: Circuit, cause: string): void {
    this.circuits.set(channel, after);
    if (before.state !== after.state) {
      this.opts.metrics.circuitTransitions.inc({ channel, state: after.state });
      const log =
        after.state === "open"
          ? this.opts.logger.warn.bind(this.opts.logger)
          : this.opts.logger.info.bind(this.opts.logger);
      log(
        { channel, from: before.state, to: after.state, cause, consecutiveFailures: after.consecutiveFailures },
        "channel circuit changed",
      );
    }
  }

  async updateConfig(id: ChannelId, change: ChannelUpdate): Promise<ChannelConfig | undefined> {
    const updated = await this.opts.store.updateConfig(id, change);
    if (updated) this.configs.set(id, updated);
    return updated;
  }

  config(id: ChannelId): ChannelConfig | undefined {
    return this.configs.get(id);
  }

  channelIds(): ChannelId[] {
    return [...this.opts.adapters.keys()];
  }

  capabilities(id: ChannelId) {
    return this.opts.adapters.get(id)?.capabilities;
  }

  circuit(id: ChannelId): Circuit {
    return this.circuitOf(id);
  }

  windowCounts(id: ChannelId): CallCounts {
    return this.counts.get(id) ?? emptyCounts();
  }

  health(id: ChannelId): ChannelHealth {
    return this.healthOf(id);
  }
}
