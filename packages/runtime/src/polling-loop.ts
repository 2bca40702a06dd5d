import type { Logger } from "@pps/logger";
import { type HealthRegistry, type HealthSource, processHealth } from "./health.ts";

export type PollingLoopOptions = {
  /** Names the loop in error logs. */
  name: string;
  logger: Logger;
  /** One round of work. Resolves true when more is probably waiting (a full batch): the next round starts at once. */
  round: () => Promise<boolean>;
  /** Pause between rounds when there was nothing more to do. */
  idleMs: number;
  /** Ceiling of the back-off after failed rounds (100 ms doubling). */
  maxBackoffMs?: number;
  onError?: (err: unknown, failures: number) => void;
  /** Where the loop reports its health while it runs [processHealth: the app's /readyz and /healthz]; null: nowhere. */
  health?: HealthRegistry | null;
  /** Consecutive failed rounds after which the loop reports not ready [3]. */
  notReadyAfterFailures?: number;
  /** A round running longer than this reports not ready [60 s]... */
  slowRoundMs?: number;
  /** ...and longer than this not alive: it hung, and only a restart of the process frees it [5 min]. */
  hungRoundMs?: number;
};

/**
 * The loop behind every component that works from a durable queue in Postgres (outbox relays, the router's
 * resolver, the notifier's dispatcher): rounds back to back while work remains, an idle pause otherwise,
 * exponential back-off while rounds fail. `wake()` ends an idle pause at once, or makes a round that is
 * running now be followed by another; it does not cut a failure back-off short. `stop()` always does,
 * and resolves when the current round has finished.
 */
export class PollingLoop {
  private running = false;
  private loop: Promise<void> | undefined;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private stopNow: (() => void) | undefined;
  private failures = 0;
  private lastError = "";
  private roundStartedAt: number | undefined;
  private readonly health: HealthSource;

  constructor(private readonly opts: PollingLoopOptions) {
    const { notReadyAfterFailures = 3, slowRoundMs = 60_000, hungRoundMs = 5 * 60_000 } = opts;
    const roundMs = () => (this.roundStartedAt === undefined ? 0 : Date.now() - this.roundStartedAt);
    this.health = {
      name: opts.name,
      ready: () => {
        if (!this.running) throw new Error(`${opts.name} is not running`);
        if (roundMs() > slowRoundMs) throw new Error(`${opts.name}: a round has been running for ${roundMs()} ms`);
        if (this.failures >= notReadyAfterFailures)
          throw new Error(`${opts.name}: ${this.failures} rounds failed in a row (last: ${this.lastError})`);
      },
      live: () => (roundMs() > hungRoundMs ? `${opts.name}: a round has been running for ${roundMs()} ms` : null),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    if (this.opts.health !== null) (this.opts.health ?? processHealth).add(this.health);
    this.loop = this.run();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopNow?.();
    await this.loop;
    if (this.opts.health !== null) (this.opts.health ?? processHealth).remove(this.health);
  }

  private async run(): Promise<void> {
    const { name, logger, round, idleMs, maxBackoffMs = 5_000, onError } = this.opts;
    while (this.running) {
      this.woken = false;
      let busy = false;
      this.roundStartedAt = Date.now();
      try {
        busy = await round();
        this.failures = 0;
      } catch (err) {
        this.failures++;
        this.lastError = err instanceof Error ? err.message : String(err);
        logger.error({ err, failures: this.failures }, `${name} failed; will retry`);
        onError?.(err, this.failures);
      }
      this.roundStartedAt = undefined;
      const failures = this.failures;
      if (!this.running) break;
      if (failures === 0 && (busy || this.woken)) continue;
      const delay = failures > 0 ? Math.min(maxBackoffMs, 100 * 2 ** failures) : idleMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        const cut = () => {
          clearTimeout(t);
          resolve();
        };
        this.wakeUp = failures === 0 ? cut : undefined;
        this.stopNow = cut;
      });
      this.wakeUp = undefined;
      this.stopNow = undefined;
    }
  }
}
