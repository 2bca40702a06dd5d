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

const JSON_MEDIA_TYPE = /^application\/json\b/i;

/** The request's Content-Type is JSON (parameters such as charset allowed), or a 415. */
export function assertJsonMediaType(c: Context): void {
  if (!JSON_MEDIA_TYPE.test(c.req.header("content-type") ?? ""))
    throw new AppError("request.unsupported_media_type", "Content-Type must be application/json");
}

/** parseJsonSafely, for bodies that must be a JSON object. */
export function parseJsonObject(text: string): Record<string, unknown> {
  const body = parseJsonSafely(text);
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new AppError("request.validation_failed", "request body must be a JSON object");
  return body as Record<string, unknown>;
}

/** A JSON body read as it streams (refused at the size limit) and parsed behind the depth bound and text checks. */
async function readBoundedJson(c: Context, maxBytes: number, opts: { object?: boolean }): Promise<unknown> {
  assertJsonMediaType(c);
  const { text } = await readLimitedBody(c.req.raw, maxBytes);
  return opts.object ? parseJsonObject(text) : parseJsonSafely(text);
}

/** Reads a JSON request body (see readBoundedJson) and validates it; every failure is a 4xx AppError with a stable code. */
export async function readJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<z.infer<S>> {
  return parseOrThrow(schema, await readBoundedJson(c, maxBytes, {}), "request body is invalid");
}

/**
 * The same as route middleware for `app.openapi()` routes with a JSON body: the route's own validator then
 * reads the parsed value instead of parsing the body again without bounds. `object` refuses anything but a
 * JSON object before the route's schema sees it.
 */
export function boundedJson(maxBytes = DEFAULT_MAX_BODY_BYTES, opts: { object?: boolean } = {}): MiddlewareHandler {
  return async (c, next) => {
    c.req.bodyCache.json = Promise.resolve(await readBoundedJson(c, maxBytes, opts));
    await next();
  };
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, message: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError("request.validation_failed", message, validationDetails(parsed.error));
  return parsed.data;
}
