/**
 * The circuit breaker of one channel, as pure transitions. The state itself lives in Postgres
 * (routing.circuits) so every replica agrees; circuit-store.ts applies these functions under a row lock.
 *
 * closed ──N consecutive technical failures──▶ open ──cooldown──▶ half_open (one probe + a share)
 *    ▲                                           ▲                     │
 *    └────────── a half-open call succeeds ──────┼─ a half-open call fails
 *
 * Half-open admits the one tracked probe and, beside it, `halfOpenShare` of the other traffic: with a single
 * probe a recovered channel stayed unused for everyone but one payment per probe round trip, and every other
 * payment meanwhile found no channel. The share is sampled per call, so it needs no shared counter.
 *
 * Only technical failures count (channel unavailable, unknown/timeout). A decline is the channel working.
 */

export const CIRCUIT_STATES = ["closed", "open", "half_open"] as const;
export type CircuitStateName = (typeof CIRCUIT_STATES)[number];

export type Circuit = {
  state: CircuitStateName;
  consecutiveFailures: number;
  /** Epoch ms when it last opened. */
  openedAt: number | null;
  /** Epoch ms when the current half-open probe started. */
  probeStartedAt: number | null;
  /** Opened by an operator: no probes until an operator closes it. */
  forced: boolean;
};

export type CircuitConfig = {
  failureThreshold: number;
  cooldownMs: number;
  /** A probe older than this is presumed lost (its replica died) and another may go. */
  probeTimeoutMs: number;
  /** Share (0..1) of the calls that arrive while a probe is out that go to the channel too; 0: the probe only. */
  halfOpenShare?: number;
};

export type CallHealth = "healthy" | "technical_failure";

export const CLOSED: Circuit = {
  state: "closed",
  consecutiveFailures: 0,
  openedAt: null,
  probeStartedAt: null,
  forced: false,
};

/**
 * Whether a call may go to the channel now: allow (closed, or half-open within the share), probe (it may, but
 * must first win the probe slot in the database, see channel-store.ts) or reject. `sample` is a uniform draw
 * in [0, 1) that decides the half-open share; the default 1 never falls within it.
 */
export function admission(c: Circuit, now: number, cfg: CircuitConfig, sample = 1): "allow" | "probe" | "reject" {
  switch (c.state) {
    case "closed":
      return "allow";
    case "open":
      if (c.forced) return "reject";
      return c.openedAt !== null && now - c.openedAt >= cfg.cooldownMs ? "probe" : "reject";
    case "half_open":
      if (c.probeStartedAt === null || now - c.probeStartedAt >= cfg.probeTimeoutMs) return "probe";
      return sample < (cfg.halfOpenShare ?? 0) ? "allow" : "reject";
  }
}

/** Takes the one probe slot. Callers check `admission(...) === "probe"` first, under the row lock. */
export function startProbe(c: Circuit, now: number): Circuit {
  return { ...c, state: "half_open", probeStartedAt: now };
}

export function recordCall(c: Circuit, health: CallHealth, now: number, cfg: CircuitConfig): Circuit {
  // An operator decision outranks what calls observe.
  if (c.forced) return c;
  if (health === "healthy") {
    switch (c.state) {
      case "closed":
        return c.consecutiveFailures === 0 ? c : { ...c, consecutiveFailures: 0 };
      case "half_open":
        return CLOSED;
      case "open":
        // A call that started before the circuit opened says nothing about the channel now: stay open.
        return c;
    }
  }
  const failures = c.consecutiveFailures + 1;
  switch (c.state) {
    case "closed":
      return failures >= cfg.failureThreshold
        ? { state: "open", consecutiveFailures: failures, openedAt: now, probeStartedAt: null, forced: false }
        : { ...c, consecutiveFailures: failures };
    case "half_open":
      // The probe (or a call of the share) failed: a full cooldown again.
      return { state: "open", consecutiveFailures: failures, openedAt: now, probeStartedAt: null, forced: false };
    case "open":
      return { ...c, consecutiveFailures: failures };
  }
}

/** Operator override: open stays open until an operator closes it; closed starts afresh. */
export function forceCircuit(state: "open" | "closed", now: number): Circuit {
  return state === "open"
    ? { state: "open", consecutiveFailures: 0, openedAt: now, probeStartedAt: null, forced: true }
    : CLOSED;
}

export function sameCircuit(a: Circuit, b: Circuit): boolean {
  return (
    a.state === b.state &&
    a.consecutiveFailures === b.consecutiveFailures &&
    a.openedAt === b.openedAt &&
    a.probeStartedAt === b.probeStartedAt &&
    a.forced === b.forced
  );
}
