/**
 * Why the ledger refused a movement: stable codes (the SQL functions raise them as SQLSTATE LG001 with the
 * code as message). A refused call changed nothing.
 */
export const LEDGER_ERROR_CODES = [
  "ledger.invalid_entry",
  "ledger.unbalanced_entry",
  "ledger.account_unknown",
  "ledger.account_frozen",
  "ledger.account_closed",
  "ledger.currency_mismatch",
  "ledger.kind_not_supported",
  "ledger.insufficient_funds",
  "ledger.credit_limit_exceeded",
  "ledger.limit_below_used",
  "ledger.idempotency_key_reused",
  "ledger.hold_not_found",
  "ledger.hold_not_pending",
  "ledger.hold_expired",
  "ledger.amount_exceeds_hold",
  "ledger.reason_required",
  "ledger.immutable",
] as const;
export type LedgerErrorCode = (typeof LEDGER_ERROR_CODES)[number];

export class LedgerError extends Error {
  override readonly name = "LedgerError";
  constructor(
    readonly code: LedgerErrorCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

const KNOWN = new Set<string>(LEDGER_ERROR_CODES);

/** The LedgerError a database error stands for, or the error itself when it is not the ledger's refusal. */
export function asLedgerError(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown; detail?: unknown; constraint_name?: unknown };
  if (e && e.code === "LG001" && typeof e.message === "string" && KNOWN.has(e.message)) {
    return new LedgerError(e.message as LedgerErrorCode, typeof e.detail === "string" ? e.detail : "");
  }
  // The floor constraint is the last line of defence behind the functions' own checks.
  if (e && e.code === "23514" && e.constraint_name === "accounts_floor_ck") {
    return new LedgerError("ledger.insufficient_funds", "the movement would take an account below its floor");
  }
  return err;
}
