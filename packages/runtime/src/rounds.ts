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
