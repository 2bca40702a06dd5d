import { describe, expect, it } from "vitest";
import { createLogger } from "@pps/logger";
import { HealthRegistry } from "./health.ts";
import { PollingLoop } from "./polling-loop.ts";

const logger = createLogger({ service: "t", level: "silent" });
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("PollingLoop", () => {
  it("runs rounds back to back while busy, pauses when idle, and a wake ends the pause", async () => {
    const work = [true, true, false];
    const rounds: number[] = [];
    const loop = new PollingLoop({
      name: "t",
      logger,
      idleMs: 10_000,
      round: async () => {
        rounds.push(Date.now());
        return work.shift() ?? false;
      },
    });
    loop.start();
    await tick(50);
    expect(rounds).toHaveLength(3); // two busy rounds, then the idle one, then a 10 s pause
    loop.wake();
    await tick(50);
    expect(rounds).toHaveLength(4);
    await loop.stop();
  });

  it("a wake during a round is not lost: another round follows at once", async () => {
    let n = 0;
    const loop: PollingLoop = new PollingLoop({
      name: "t",
      logger,
      idleMs: 10_000,
      round: async () => {
        n++;
        if (n === 1) loop.wake();
        return false;
      },
    });
    loop.start();
    await tick(50);
    expect(n).toBe(2);
    await loop.stop();
  });

  it("backs off while rounds fail, wake does not cut the back-off short, stop does", async () => {
    let n = 0;
    const errors: number[] = [];
    const loop = new PollingLoop({
      name: "t",
      logger,
      idleMs: 1,
      maxBackoffMs: 10_000,
      onError: (_e, failures) => errors.push(failures),
      round: async () => {
        n++;
        throw new Error("database down");
      },
    });
    loop.start();
    await tick(450); // back-offs of 200 ms, 400 ms: about three rounds
    loop.wake();
    await tick(20);
    expect(n).toBeLessThanOrEqual(3);
    expect(errors).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const started = Date.now();
    await loop.stop();
    expect(Date.now() - started).toBeLessThan(100);
  });

  it("reports not ready after failed rounds or a slow round, not alive once a round hangs, and leaves on stop", async () => {
    const health = new HealthRegistry();
    const failing = (() => {
      let fail = true;
      return { set: (v: boolean) => (fail = v), get: () => fail };
    })();
    let release: (() => void) | undefined;
    const loop = new PollingLoop({
      name: "relay",
      logger,
      idleMs: 5,
      maxBackoffMs: 20,
      health,
      slowRoundMs: 50,
      hungRoundMs: 150,
      round: async () => {
        if (failing.get()) throw new Error("kafka down");
        await new Promise<void>((r) => (release = r));
        return false;
      },
    });
    const ready = async () => {
      const [check] = health.readinessChecks();
      return check!.check().then(
        () => "ok",
        (e: Error) => e.message,
      );
    };
    loop.start();
    await tick(150);
    expect(await ready()).toMatch(/relay: \d+ rounds failed in a row \(last: kafka down\)/);
    expect(health.liveness()).toEqual([{ name: "relay", ok: true }]);
    failing.set(false);
    await tick(100);
    expect(await ready()).toMatch(/a round has been running/);
    await tick(150);
    expect(health.liveness()[0]).toMatchObject({ name: "relay", ok: false });
    release?.();
    await tick(5);
    release?.();
    const stopped = loop.stop();
    release?.();
    await stopped;
    expect(health.readinessChecks()).toEqual([]);
  });
});
