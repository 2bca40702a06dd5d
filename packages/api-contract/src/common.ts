import { z } from "@hono/zod-openapi";
import { ERROR_CODES, type ErrorCode, httpStatusFor } from "@pps/domain";
import { isCurrencyCode } from "@pps/money";

/**
 * Building blocks of the wire format (snake_case, strict objects: unknown fields are refused). Every schema
 * the merchant API validates or returns is built from these, once, and both payment-api and the SDK use them.
 */

/** Free text: no control characters (they break downstream formats and logs). */
export const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");

export const httpUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "http:" || u.protocol === "https:") && u.hostname.length > 0 && !u.username && !u.password;
    } catch {
      return false;
    }
  }, "must be an absolute http(s) URL without credentials")
  .openapi({ format: "uri", example: "https://shop.example/pay/return" });

export const currencySchema = z
  .string()
  .refine((c) => /^[A-Z]{3}$/.test(c) && isCurrencyCode(c), "must be a supported ISO 4217 code")
  .openapi({ description: "ISO 4217 alphabetic code, upper case.", example: "CNY" });

export const amountSchema = z
  .number()
  .int("must be an integer of minor units")
  .positive()
  .max(Number.MAX_SAFE_INTEGER)
  .openapi({ description: "Integer of minor units of the currency (fen, cents; yen have none).", example: 1999 });

export const merchantIdSchema = z
  .string()
  .regex(/^m_[A-Za-z0-9_]{1,60}$/, "m_ followed by 1 to 60 of [A-Za-z0-9_]")
  .openapi({ example: "m_shop_1" });

export const paymentIdSchema = z
  .string()
  .regex(/^pay_[0-9A-Z]{26}$/, "a payment id (pay_ and 26 characters)")
  .openapi({ example: "pay_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX" });

export const notificationIdSchema = z
  .string()
  .regex(/^ntf_[0-9A-Z]{26}$/, "a notification id (ntf_ and 26 characters)")
  .openapi({ example: "ntf_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX" });

export const payerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,64}$/, "1 to 64 of [A-Za-z0-9_.:@-]")
  .openapi({ example: "user_42" });

export const merchantOrderNoSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of [A-Za-z0-9_-]")
  .openapi({ description: "Your own order number, unique per merchant.", example: "ORDER-2026-0001" });

export const timestampSchema = z.string().openapi({ format: "date-time" });

/** A query with no parameters: anything sent is refused, so no value can sit where the route does not read it. */
export const noQuery = z.strictObject({});

export const errorCodeSchema = z
  .enum(ERROR_CODES)
  .openapi("ErrorCode", { description: "Stable error codes; new ones may be added, none is ever renamed." });

export const errorBodySchema = z
  .object({
    error: z.object({
      code: errorCodeSchema,
      message: z.string().openapi({ description: "For people; never parse it." }),
      requestId: z.string(),
      details: z
        .unknown()
        .optional()
        .openapi({ description: "Field problems (`[{ path, message }]`) or code-specific data." }),
    }),
  })
  .openapi("Error");
export type ApiErrorBody = z.infer<typeof errorBodySchema>;

const jsonContent = <S extends z.ZodType>(schema: S) => ({ "application/json": { schema } });

/**
 * The error responses of a route, grouped by HTTP status, each naming the codes it can carry. The codes a
 * route lists are the ones a client should handle; `internal.*` ones are added to every route.
 */
export function errorResponses(codes: readonly ErrorCode[]) {
  const all = [...new Set<ErrorCode>([...codes, "internal.error", "internal.unavailable"])];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of all) {
    const status = httpStatusFor(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => [
        status,
        { description: `Error: ${list.map((c) => `\`${c}\``).join(", ")}`, content: jsonContent(errorBodySchema) },
      ]),
  );
}

export const json = jsonContent;

/** Codes every signed merchant call can answer with before it reaches its own logic. */
export const AUTH_ERRORS = [
  "auth.signature_missing",
  "auth.signature_invalid",
  "auth.timestamp_out_of_window",
  "request.invalid_characters",
  "request.body_too_large",
  "request.validation_failed",
  "request.parameter_ambiguous",
] as const satisfies readonly ErrorCode[];

/** Codes every signed mutating call can add: body parsing, replay protection, idempotency, account status. */
export const MUTATION_ERRORS = [
  ...AUTH_ERRORS,
  "auth.nonce_replayed",
  "request.invalid_json",
  "request.json_too_deep",
  "request.unsupported_media_type",
  "request.idempotency_key_missing",
  "request.idempotency_key_reused",
  "request.idempotency_in_progress",
  "merchant.inactive",
] as const satisfies readonly ErrorCode[];
