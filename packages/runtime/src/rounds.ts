import type { Settled } from "./coalescer.ts";

/**
 * Splits a batch into rounds in which no key appears twice, keeping each key's items in their order: an
 * item goes to the round after the last one holding any of its keys. A set-based statement given two rows
 * for one target applies only one of them (or refuses), so each round is one statement. Returns the items'
 * indexes, round by round.
 */
export function roundsByKey<T>(items: readonly T[], keysOf: (item: T) => string | readonly string[]): number[][] {
  const rounds: number[][] = [];
  const lastRound = new Map<string, number>();
  items.forEach((item, index) => {
    const k = keysOf(item);
    const keys = typeof k === "string" ? [k] : k;
    let round = 0;
    for (const key of keys) round = Math.max(round, (lastRound.get(key) ?? -1) + 1);
    for (const key of keys) lastRound.set(key, round);
    const members = rounds[round];
    if (members) members.push(index);
    else rounds[round] = [index];
  });
  return rounds;
}

/** roundsByKey, answering the items themselves. */
export function roundsBy<T>(items: readonly T[], keysOf: (item: T) => string | readonly string[]): T[][] {
  return roundsByKey(items, keysOf).map((round) => round.map((i) => items[i]!));
}

/**
 * Runs a batch round by round through `runRound` (one set-based statement, answering its items in order)
 * and settles every item. A round that fails is run again one item at a time, so an item that fails on
 * its own fails alone (a failed statement wrote nothing, so running its items again is safe).
 */
export async function settleInRounds<In, Out>(
  items: readonly In[],
  keysOf: (item: In) => string | readonly string[],
  runRound: (items: In[]) => Promise<Out[]>,
): Promise<Settled<Out>[]> {
  const settled: Settled<Out>[] = new Array(items.length);
  for (const round of roundsByKey(items, keysOf)) {
    try {
      const values = await runRound(round.map((i) => items[i]!));
      round.forEach((index, j) => {
        settled[index] = { ok: true, value: values[j]! };
      });
    } catch (error) {
      if (round.length === 1) {
        settled[round[0]!] = { ok: false, error };
        continue;
      }
      for (const index of round) {
        try {
          settled[index] = { ok: true, value: (await runRound([items[index]!]))[0]! };
        } catch (err) {
          settled[index] = { ok: false, error: err };
        }
      }
    }
  }
  return settled;
}
