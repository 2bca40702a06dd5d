import type { LogFn, Logger } from "pino";
import { safeErrorMessage, serializeError, type SerializedError } from "./error-serializer.ts";

/** Deep enough for `{ kafka: { error } }` (kafkajs through our log creator) and `{ checks: [{ error }] }`. */
const MAX_DEPTH = 3;

/**
 * pino's `formatters.log`: every Error in the logged object, under whatever key (`err`, `error`, `cause`,
 * `kafka.error`), is serialized by `serializeError`, not only the one under `err`. Only plain objects and
 * arrays are walked (never a request or a client), and nothing is copied unless an error is found.
 */
export function serializeLoggedErrors(obj: Record<string, unknown>): Record<string, unknown> {
  return walk(obj, 0) as Record<string, unknown>;
}

/** pino's `serializers.err`: the formatter has serialized it already, unless it was given as something else. */
export function serializeErrValue(value: unknown): unknown {
  return value instanceof Error ? serializeError(value) : value;
}

/**
 * pino's `hooks.logMethod`. Logged with no message, an error lends pino its raw message as `msg`
 * (`logger.error(err)`, `logger.error({ err })`): give it the safe one instead.
 */
export function safeMessageHook(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  if (args.length === 1) {
    const [first] = args as unknown[];
    const err =
      first instanceof Error
        ? first
        : isPlainObject(first) && first.msg === undefined && first.err instanceof Error
          ? first.err
          : undefined;
    if (err) {
      method.call(this, first as object, safeErrorMessage(err));
      return;
    }
  }
  method.apply(this, args);
}

function walk(value: unknown, depth: number): unknown {
  if (value instanceof Error) return serializeError(value);
  if (depth >= MAX_DEPTH || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const walked = value.map((item) => walk(item, depth + 1));
    return walked.some((item, i) => item !== value[i]) ? walked : value;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  // kafkajs logs a failed handler as `{ stack: e.stack, error: e }`: the raw stack beside the error repeats
  // its message, so it is swapped for the serialized one.
  const replaced = new Map<string, string>();
  for (const [key, item] of Object.entries(value)) {
    const walked = walk(item, depth + 1);
    if (walked === item) continue;
    copy ??= { ...value };
    copy[key] = walked;
    if (item instanceof Error) remember(replaced, item, walked as SerializedError);
  }
  if (copy && replaced.size) {
    for (const [key, item] of Object.entries(copy))
      if (typeof item === "string" && replaced.has(item)) copy[key] = replaced.get(item);
  }
  return copy ?? value;
}

function remember(replaced: Map<string, string>, raw: Error, serialized: SerializedError): void {
  if (raw.message !== serialized.message) replaced.set(raw.message, serialized.message);
  if (typeof raw.stack === "string" && raw.stack !== serialized.stack)
    replaced.set(raw.stack, serialized.stack ?? serialized.message);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
