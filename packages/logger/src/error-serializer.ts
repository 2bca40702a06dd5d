import {
  drizzleQueryMessage,
  isDrizzleQueryError,
  isPostgresError,
  postgresMessage,
  statementOf,
} from "./database-error.ts";

/** Fields that hold a failed query's bound values or echo them; no error in a log line keeps them. */
const VALUE_FIELDS = new Set([
  "detail",
  "where",
  "hint",
  "internal_query",
  "query",
  "parameters",
  "params",
  "args",
  "types",
]);
/** Written apart, or already in `type`. */
const OWN_FIELDS = new Set(["name", "message", "stack", "cause", "code", "errors"]);

export type SerializedError = { type: string; message: string; stack?: string; [field: string]: unknown };

/**
 * An error as a log line shows it: type, message, stack, its own fields, its cause (nested, not folded
 * into the message as pino's standard serializer does), with bound query values left out. The error's
 * own `code` goes out as `errorCode` because `code` is a redacted key (one-time codes), which would hide
 * every SQLSTATE and errno.
 */
export function serializeError(err: Error, seen: WeakSet<Error> = new WeakSet()): SerializedError {
  const type = err.constructor?.name || err.name || "Error";
  if (seen.has(err)) return { type, message: "[circular]" };
  seen.add(err);

  const message = safeErrorMessage(err);
  const out: SerializedError = { type, message };
  if (typeof err.stack === "string")
    out.stack = message === err.message ? err.stack : withMessage(err.stack, err, message);
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.errorCode = code;
  // A bare driver error (a query through postgres.js directly) is the only place its statement shows.
  if (isPostgresError(err)) {
    const statement = statementOf(err);
    if (statement !== undefined) out.sql = statement;
  }
  for (const [field, value] of Object.entries(err)) {
    if (VALUE_FIELDS.has(field) || OWN_FIELDS.has(field)) continue;
    out[field] = value instanceof Error ? serializeError(value, seen) : value;
  }
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors))
    out.errors = errors.map((e: unknown) => (e instanceof Error ? serializeError(e, seen) : e));
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined) {
    out.cause = cause instanceof Error ? serializeError(cause, seen) : cause;
    // The wrapper already shows the statement its cause ran.
    if (isDrizzleQueryError(err) && typeof out.cause === "object" && out.cause !== null)
      delete (out.cause as SerializedError).sql;
  }
  return out;
}

/** The error's message with bound values left out: what a log line may use as its `msg`. */
export function safeErrorMessage(err: Error): string {
  if (isDrizzleQueryError(err)) return drizzleQueryMessage(err);
  if (isPostgresError(err)) return postgresMessage(err);
  return err.message;
}

/**
 * The stack with its header (`<name>: <message>`, captured when the error was made) showing the safe
 * message. The frames name code, not data.
 */
function withMessage(stack: string, err: Error, message: string): string {
  if (err.message && stack.includes(err.message)) return stack.split(err.message).join(message);
  const frames = stack.search(/\n\s+at /);
  return `${err.name}: ${message}${frames === -1 ? "" : stack.slice(frames)}`;
}
