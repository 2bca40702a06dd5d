export type Release = () => void;

/**
 * Bounds the channel calls running in the background. A caller takes a slot before it commits an attempt
 * (so a consumer fed from Kafka slows down when channels are slow, and a committed attempt is called at
 * once rather than after a wait that could outlast its lease), then hands the slot to the background task.
 */
export class InFlightLimiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly limit: number) {}

  get inFlight(): number {
    return this.active;
  }

  /** Waits for a free slot; the returned release may be called more than once. */
  async acquire(): Promise<Release> {
    if (this.active < this.limit) this.active++;
    // A releasing holder hands its slot over directly, so `active` stays counted.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
  }

  /** Runs `task` in the background; the slot is released when it settles. `task` should not throw. */
  background(task: () => Promise<void>, release: Release, onError: (err: unknown) => void): void {
    const run = (async () => {
      try {
        await task();
      } catch (err) {
        onError(err);
      } finally {
        release();
      }
    })();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Resolves when every background task has finished. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
