/**
 * A finite state machine described by its allowed transitions. Used by every stateful aggregate
 * (payments now; refunds, mandates and payouts later) so illegal transitions are refused in one place.
 */
export type StateMachine<S extends string> = {
  readonly states: readonly S[];
  readonly terminal: ReadonlySet<S>;
  canTransition(from: S, to: S): boolean;
  /** States from which `to` may be reached: the WHERE clause of a conditional update. */
  sourcesOf(to: S): S[];
};

export class IllegalTransitionError extends Error {
  override readonly name = "IllegalTransitionError";
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    super(`illegal transition ${from} -> ${to}`);
  }
}

export function defineStateMachine<S extends string>(
  transitions: { readonly [K in S]: readonly S[] },
): StateMachine<S> {
  const states = Object.keys(transitions) as S[];
  const terminal = new Set(states.filter((s) => transitions[s].length === 0));
  return {
    states,
    terminal,
    canTransition: (from, to) => transitions[from]?.includes(to) ?? false,
    sourcesOf: (to) => states.filter((s) => transitions[s].includes(to)),
  };
}

export function assertTransition<S extends string>(machine: StateMachine<S>, from: S, to: S): void {
  if (!machine.canTransition(from, to)) throw new IllegalTransitionError(from, to);
}
