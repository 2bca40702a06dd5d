import type { Logger } from "@pps/logger";

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

  constructor(private readonly opts: PollingLoopOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
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
  }

  private async run(): Promise<void> {
    const { name, logger, round, idleMs, maxBackoffMs = 5_000, onError } = this.opts;
    let failures = 0;
    while (this.running) {
      this.woken = false;
      let busy = false;
      try {
        busy = await round();
        failures = 0;
      } catch (err) {
        failures++;
        logger.error({ err, failures }, `${name} failed; will retry`);
        onError?.(err, failures);
      }
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
