/**
 * What a long-running component says about itself. `ready` resolves when it does its job now and throws with
 * the reason otherwise (a dependency down, a consumer not in its group, a loop failing); `live` answers null
 * while it can still get well by itself and a reason once only a restart of the process will help (a round
 * hung past its bound, a consumer still stalled after the app restarted it).
 */
export type HealthSource = {
  name: string;
  ready: () => Promise<void> | void;
  live: () => string | null;
};

export type HealthResult = { name: string; ok: boolean; error?: string };

/**
 * The components running in this process that report their health. They add themselves when they start and
 * remove themselves when they stop, so every app's /readyz and /healthz cover each consumer, relay and
 * polling loop it runs without the composition root listing them (see `processHealth`).
 */
export class HealthRegistry {
  private readonly sources = new Set<HealthSource>();

  add(source: HealthSource): void {
    this.sources.add(source);
  }

  remove(source: HealthSource): void {
    this.sources.delete(source);
  }

  /** The current sources as readiness checks (evaluated by /readyz with its per-check time limit). */
  readinessChecks(): { name: string; check: () => Promise<void> }[] {
    return [...this.sources].map((s) => ({ name: s.name, check: async () => s.ready() }));
  }

  /** Every source's liveness; cheap and synchronous, as a liveness probe must be. */
  liveness(): HealthResult[] {
    return [...this.sources].map((s) => {
      try {
        const error = s.live();
        return error === null ? { name: s.name, ok: true } : { name: s.name, ok: false, error };
      } catch (err) {
        return { name: s.name, ok: false, error: err instanceof Error ? err.message : "failed" };
      }
    });
  }
}

/**
 * One registry per process: an app is one process, and its probes answer for everything it runs. The service
 * app (`createServiceApp`) reads it by default.
 */
export const processHealth = new HealthRegistry();
