import { describe, expect, it } from "vitest";
import { Coalescer } from "./coalescer.ts";

const tick = () => new Promise((r) => setImmediate(r));

describe("Coalescer", () => {
  it("runs a lone item at once, in a batch of one", async () => {
    const batches: number[][] = [];
    const c = new Coalescer<number, number>({
      run: async (items) => {
        batches.push(items);
        return items.map((i) => ({ ok: true as const, value: i * 2 }));
      },
    });
    await expect(c.submit(21)).resolves.toBe(42);
    expect(batches).toEqual([[21]]);
  });

  it("gathers the items that arrive while batches run into the next batch, up to maxBatch", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const c = new Coalescer<number, number>({
      maxInFlight: 1,
      maxBatch: 3,
      run: async (items) => {
        batches.push(items);
        await gate;
        return items.map((i) => ({ ok: true as const, value: i }));
      },
    });
    const results = [1, 2, 3, 4, 5, 6].map((i) => c.submit(i));
    await tick();
    expect(c.pending).toEqual({ queued: 5, inFlight: 1 });
    release();
    expect(await Promise.all(results)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(batches).toEqual([[1], [2, 3, 4], [5, 6]]);
  });

  it("fails only the items the batch failed, and every item when the batch throws", async () => {
    const c = new Coalescer<number, number>({
      maxInFlight: 1,
      run: async (items) => {
        if (items.includes(99)) throw new Error("database down");
        return items.map((i) =>
          i % 2 ? { ok: true as const, value: i } : { ok: false as const, error: new Error(`even ${i}`) },
        );
      },
    });
    const [a, b] = await Promise.allSettled([c.submit(1), c.submit(2)]);
    expect(a).toEqual({ status: "fulfilled", value: 1 });
    expect(b.status === "rejected" && (b.reason as Error).message).toBe("even 2");
    await expect(c.submit(99)).rejects.toThrow("database down");
    await expect(c.submit(3)).resolves.toBe(3);
  });

  it("never runs more than maxInFlight batches at once", async () => {
    let running = 0;
    let peak = 0;
    const c = new Coalescer<number, number>({
      maxInFlight: 2,
      maxBatch: 1,
      run: async (items) => {
        running++;
        peak = Math.max(peak, running);
        await tick();
        running--;
        return items.map((i) => ({ ok: true as const, value: i }));
      },
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => c.submit(i)));
    expect(peak).toBe(2);
  });
});
