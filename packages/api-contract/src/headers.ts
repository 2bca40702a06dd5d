import { z } from "@hono/zod-openapi";
import { SIGN_SCHEMES } from "@pps/signing";
import { merchantIdSchema } from "./common.ts";

/**
 * The headers of a signed merchant call, documented here and checked by payment-api's authentication before
 * anything else runs (so by the time these schemas validate, they hold). Names are lower case because HTTP
 * header names are case-insensitive and that is how servers see them.
 */
const signatureHeaders = {
  "x-merchant-id": merchantIdSchema,
  "x-timestamp": z
    .string()
    .regex(/^\d{1,12}$/)
    .openapi({ description: "Unix seconds; must be within the signature window of our clock.", example: "1764576000" }),
  "x-signature": z.string().openapi({ description: "The signature of the canonical request (docs/signing.md)." }),
  "x-sign-type": z
    .enum(SIGN_SCHEMES)
    .optional()
    .openapi({ description: "Optional; must be your configured scheme when sent." }),
};

export const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export const signedReadHeaders = z.object({
  ...signatureHeaders,
  "x-nonce": z
    .string()
    .regex(NONCE_PATTERN)
    .optional()
    .openapi({ description: "Optional on reads; signed when sent." }),
});

export const signedMutationHeaders = z.object({
  ...signatureHeaders,
  "x-nonce": z
    .string()
    .regex(NONCE_PATTERN)
    .openapi({ description: "16 to 64 of [A-Za-z0-9_-], never reused: replays are refused." }),
  "idempotency-key": z
    .string()
    .regex(IDEMPOTENCY_KEY_PATTERN)
    .openapi({ description: "Same key and body: the first response again. Same key, other body: 409. Kept 48 hours." }),
});

export const adminHeaders = z.object({
  authorization: z.string().openapi({ description: "Bearer <ADMIN_TOKEN>", example: "Bearer …" }),
});
