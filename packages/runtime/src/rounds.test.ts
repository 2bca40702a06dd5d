import { describe, expect, it } from "vitest";
import { roundsBy, roundsByKey, settleInRounds } from "./rounds.ts";

describe("rounds", () => {
  it("keeps each key once per round and each key's items in order", () => {
    expect(roundsBy(["a1", "b1", "a2", "c1", "a3", "b2"], (s) => s[0]!)).toEqual([
      ["a1", "b1", "c1"],
      ["a2", "b2"],
      ["a3"],
    ]);
  });

  it("places an item with several keys after the last round holding any of them", () => {
    // x:a,b must follow a1 (round 0); y:b must follow x (round 1); z:c has no predecessor.
    const items = [
      { n: "a1", k: ["a"] },
      { n: "x", k: ["a", "b"] },
      { n: "y", k: ["b"] },
      { n: "z", k: ["c"] },
    ];
    expect(roundsByKey(items, (i) => i.k)).toEqual([[0, 3], [1], [2]]);
  });

  it("runs a batch without repeated keys as one round", async () => {
    const rounds: number[][] = [];
    const settled = await settleInRounds(
      [1, 2, 3],
      (i) => [String(i)],
      async (round) => {
        rounds.push(round);
        return round.map((i) => i * 10);
      },
    );
    expect(rounds).toEqual([[1, 2, 3]]);
    expect(settled).toEqual([10, 20, 30].map((value) => ({ ok: true, value })));
  });

  it("runs a failed round again item by item, so only the bad item fails", async () => {
    const rounds: number[][] = [];
    const settled = await settleInRounds(
      [1, 2, 3, 2],
      (i) => [String(i)],
      async (round) => {
        rounds.push(round);
        if (round.includes(2)) throw new Error("bad item");
        return round.map((i) => i * 10);
      },
    );
    expect(rounds).toEqual([[1, 2, 3], [1], [2], [3], [2]]);
    expect(settled).toEqual([
      { ok: true, value: 10 },
      { ok: false, error: new Error("bad item") },
      { ok: true, value: 30 },
      { ok: false, error: new Error("bad item") },
    ]);
  });
});
