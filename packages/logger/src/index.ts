import { pino, type DestinationStream, type Logger } from "pino";
import { safeMessageHook, serializeErrValue, serializeLoggedErrors } from "./logged-errors.ts";

export type { Logger } from "pino";
export { safeErrorMessage, serializeError, type SerializedError } from "./error-serializer.ts";

/** Field names whose values never reach a log line, wherever they sit (two levels deep). */
export const REDACTED_KEYS = [
  "password",
  "secret",
  "key",
  "apiKey",
  "api_key",
  "merchantKey",
  "privateKey",
  "signingKey",
  "token",
  "otp",
  "code",
  "cardNumber",
  "card_number",
  "idNumber",
  "authorization",
  "cookie",
  "sign",
  "signature",
] as const;

const redactPaths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]).concat([
  'req.headers["authorization"]',
  'req.headers["x-signature"]',
  'req.headers["cookie"]',
]);

export type CreateLoggerOptions = {
  service: string;
  level?: string;
  destination?: DestinationStream;
};

export function createLogger({ service, level = "info", destination }: CreateLoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: "[redacted]" },
      // Errors anywhere in a line are serialized without the values of a failed query (error-serializer.ts).
      serializers: { err: serializeErrValue },
      hooks: { logMethod: safeMessageHook },
      formatters: { level: (label) => ({ level: label }), log: serializeLoggedErrors },
    },
    destination,
  );
}
