import { describe, expect, it } from "vitest";
import { InFlightLimiter } from "./in-flight-limiter.ts";

describe("in-flight limiter", () => {
  it("bounds concurrent background tasks and hands slots over in order", async () => {
    const limiter = new InFlightLimiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const task = (i: number) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      order.push(i);
      running--;
    };
    for (let i = 0; i < 6; i++) {
      const release = await limiter.acquire();
      limiter.background(task(i), release, () => {});
    }
    await limiter.drain();
    expect(peak).toBe(2);
    expect(order).toHaveLength(6);
    expect(limiter.inFlight).toBe(0);
  });

  it("releases the slot when a task throws", async () => {
    const limiter = new InFlightLimiter(1);
    const errors: unknown[] = [];
    const release = await limiter.acquire();
    limiter.background(
      async () => {
        throw new Error("boom");
      },
      release,
      (e) => errors.push(e),
    );
    const again = await limiter.acquire();
    again();
    again(); // idempotent
    await limiter.drain();
    expect(errors).toHaveLength(1);
    expect(limiter.inFlight).toBe(0);
  });
});
