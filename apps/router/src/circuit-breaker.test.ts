import { describe, expect, it } from "vitest";
import { admission, CLOSED, type Circuit, forceCircuit, recordCall, startProbe } from "./circuit-breaker.ts";

const CFG = { failureThreshold: 3, cooldownMs: 30_000, probeTimeoutMs: 15_000 };
const T0 = 1_800_000_000_000;

function fail(c: Circuit, times: number, now = T0): Circuit {
  let out = c;
  for (let i = 0; i < times; i++) out = recordCall(out, "technical_failure", now, CFG);
  return out;
}

describe("circuit breaker", () => {
  it("stays closed below the threshold and opens at N consecutive technical failures", () => {
    const two = fail(CLOSED, 2);
    expect(two).toMatchObject({ state: "closed", consecutiveFailures: 2 });
    expect(admission(two, T0, CFG)).toBe("allow");
    const three = fail(two, 1);
    expect(three).toMatchObject({ state: "open", consecutiveFailures: 3, openedAt: T0 });
    expect(admission(three, T0 + 1, CFG)).toBe("reject");
  });

  it("a healthy call (success or decline) resets the count: only consecutive failures open it", () => {
    const c = recordCall(fail(CLOSED, 2), "healthy", T0, CFG);
    expect(c).toEqual(CLOSED);
    expect(fail(c, 2).state).toBe("closed");
  });

  it("open → half-open after the cooldown, letting exactly one probe through", () => {
    const open = fail(CLOSED, 3);
    expect(admission(open, T0 + 29_999, CFG)).toBe("reject");
    expect(admission(open, T0 + 30_000, CFG)).toBe("probe");
    const probing = startProbe(open, T0 + 30_000);
    expect(probing.state).toBe("half_open");
    expect(admission(probing, T0 + 30_001, CFG)).toBe("reject");
    // A probe whose replica died is presumed lost after the probe timeout.
    expect(admission(probing, T0 + 45_000, CFG)).toBe("probe");
  });

  it("half-open: a successful probe closes it, a failed one reopens it for a full cooldown", () => {
    const probing = startProbe(fail(CLOSED, 3), T0 + 30_000);
    expect(recordCall(probing, "healthy", T0 + 30_100, CFG)).toEqual(CLOSED);
    const reopened = recordCall(probing, "technical_failure", T0 + 30_100, CFG);
    expect(reopened).toMatchObject({ state: "open", openedAt: T0 + 30_100 });
    expect(admission(reopened, T0 + 50_000, CFG)).toBe("reject");
    expect(admission(reopened, T0 + 60_100, CFG)).toBe("probe");
  });

  it("half-open with a share: besides the probe, that share of calls goes through (sampled per call)", () => {
    const cfg = { ...CFG, halfOpenShare: 0.25 };
    const probing = startProbe(fail(CLOSED, 3), T0 + 30_000);
    expect(admission(probing, T0 + 30_001, cfg, 0)).toBe("allow");
    expect(admission(probing, T0 + 30_001, cfg, 0.2499)).toBe("allow");
    expect(admission(probing, T0 + 30_001, cfg, 0.25)).toBe("reject");
    // Over many draws the admitted share is the configured one.
    let admitted = 0;
    for (let i = 0; i < 1_000; i++) if (admission(probing, T0 + 30_001, cfg, i / 1_000) === "allow") admitted++;
    expect(admitted).toBe(250);
    // Still open means no share: the cooldown keeps every call away until the probe slot is claimed.
    expect(admission(fail(CLOSED, 3), T0 + 1, cfg, 0)).toBe("reject");
    // Without a share configured (or with the default draw) only the probe goes, as before.
    expect(admission(probing, T0 + 30_001, CFG, 0)).toBe("reject");
    expect(admission(probing, T0 + 30_001, cfg)).toBe("reject");
  });

  it("half-open: a call of the share closes the circuit on success and reopens it on failure, like the probe", () => {
    const probing = startProbe(fail(CLOSED, 3), T0 + 30_000);
    expect(recordCall(probing, "healthy", T0 + 30_050, { ...CFG, halfOpenShare: 0.5 })).toEqual(CLOSED);
    expect(recordCall(probing, "technical_failure", T0 + 30_050, { ...CFG, halfOpenShare: 0.5 })).toMatchObject({
      state: "open",
      openedAt: T0 + 30_050,
    });
  });

  it("a late success from before the circuit opened does not close it", () => {
    const open = fail(CLOSED, 3);
    expect(recordCall(open, "healthy", T0 + 10, CFG)).toBe(open);
  });

  it("an operator-opened circuit stays open (no probes) until an operator closes it", () => {
    const forced = forceCircuit("open", T0);
    expect(admission(forced, T0 + 10 * CFG.cooldownMs, CFG)).toBe("reject");
    expect(recordCall(forced, "healthy", T0, CFG)).toBe(forced);
    expect(forceCircuit("closed", T0)).toEqual(CLOSED);
  });
});
