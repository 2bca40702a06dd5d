import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { AppError } from "@pps/domain";
import { readLimitedBody } from "./request-body.ts";
import { parseJsonSafely } from "./request-text.ts";

/** Validation problems as clients see them: where, and what is wrong (never the rejected value). */
export function validationDetails(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads a JSON request body as it streams (refused at the size limit), parses it behind the depth bound and
 * the text checks, and validates it; every failure is a 4xx AppError with a stable code.
 */
export async function readJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type))
    throw new AppError("request.unsupported_media_type", "the request body must be application/json");
  const { text } = await readLimitedBody(c.req.raw, maxBytes);
  return parseOrThrow(schema, parseJsonSafely(text), "request body is invalid");
}

/**
 * The same as route middleware for `app.openapi()` routes with a JSON body: the route's own validator then
 * reads the parsed value instead of parsing the body again without bounds.
 */
export function boundedJson(maxBytes = DEFAULT_MAX_BODY_BYTES): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\b/i.test(type))
      throw new AppError("request.unsupported_media_type", "the request body must be application/json");
    const { text } = await readLimitedBody(c.req.raw, maxBytes);
    c.req.bodyCache.json = Promise.resolve(parseJsonSafely(text));
    await next();
  };
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, message: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError("request.validation_failed", message, validationDetails(parsed.error));
  return parsed.data;
}
