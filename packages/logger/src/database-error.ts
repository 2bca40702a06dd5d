/**
 * What a failed query's error may show in a log line. drizzle-orm wraps a driver error in DrizzleQueryError
 * (message `Failed query: <sql>\nparams: <values>`, cause the driver's error), and the PostgreSQL error
 * itself echoes values: `detail` ("Key (id)=(…) already exists"), `where` ("parameter $1 = '…'") and
 * messages such as `invalid input syntax for type integer: "…"`. Merchant keys, payer ids, phones and IPs
 * reached logs that way. Both are recognised by shape, so this package needs neither drizzle nor a driver.
 */

export type DrizzleQueryErrorLike = Error & { query: string; params: unknown };

/**
 * SQLSTATEs whose server messages name schema objects only, never values: unique, foreign key, not-null
 * and check violations, undefined table and column. (No function of ours raises its own messages.)
 */
const IDENTIFIER_ONLY_MESSAGES = new Set(["23505", "23503", "23502", "23514", "42P01", "42703"]);

const QUOTED = /"[\s\S]*"|"[\s\S]*$/;
const HEX_BYTES = /0x[0-9a-fA-F]{2}(?: 0x[0-9a-fA-F]{2})*/g;

export function isDrizzleQueryError(err: Error): err is DrizzleQueryErrorLike {
  const e = err as Partial<DrizzleQueryErrorLike>;
  return typeof e.query === "string" && "params" in err && err.message.startsWith("Failed query: ");
}

/** postgres.js's PostgresError and pg's DatabaseError both carry the protocol's severity and SQLSTATE. */
export function isPostgresError(err: Error): boolean {
  const e = err as { severity?: unknown; code?: unknown };
  return (
    err.name === "PostgresError" ||
    (typeof e.severity === "string" && typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code))
  );
}

/** The statement postgres.js keeps (not enumerable) on its error: placeholders only, values are apart. */
export function statementOf(err: Error): string | undefined {
  const query = (err as { query?: unknown }).query;
  return typeof query === "string" ? query : undefined;
}

export function drizzleQueryMessage(err: DrizzleQueryErrorLike): string {
  return `Failed query: ${err.query}`;
}

/**
 * The server's message without the values it quotes (`invalid input syntax for type integer: "…"`).
 * Values are quoted without escaping (`"ab"c"`), so everything from the first quote to the last goes;
 * the objects a message names are in the error's own fields (constraint_name, table_name, column_name).
 * Bytes the server could not decode are a piece of a value too, save a lone NUL.
 */
export function postgresMessage(err: Error): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && IDENTIFIER_ONLY_MESSAGES.has(code)) return err.message;
  return err.message.replace(QUOTED, '"[redacted]"').replace(HEX_BYTES, (bytes) => (bytes === "0x00" ? bytes : "0x…"));
}
