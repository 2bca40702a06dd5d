import { describe, expect, it } from "vitest";
import { roundsBy, roundsByKey } from "./rounds.ts";

describe("rounds", () => {
  it("keeps each key once per round and each key's items in order", () => {
    expect(roundsBy(["a1", "b1", "a2", "c1", "a3", "b2"], (s) => s[0]!)).toEqual([["a1", "b1", "c1"], ["a2", "b2"], ["a3"]]);
  });

  it("places an item with several keys after the last round holding any of them", () => {
    // x:a,b must follow a1 (round 0); y:b must follow x (round 1); z:c has no predecessor.
    const items = [{ n: "a1", k: ["a"] }, { n: "x", k: ["a", "b"] }, { n: "y", k: ["b"] }, { n: "z", k: ["c"] }];
    expect(roundsByKey(items, (i) => i.k)).toEqual([[0, 3], [1], [2]]);
  });
});
