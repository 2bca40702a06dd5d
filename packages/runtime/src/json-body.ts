import type { Context } from "hono";
import type { z } from "zod";
import { AppError } from "@pps/domain";

/** Validation problems as clients see them: where, and what is wrong (never the rejected value). */
export function validationDetails(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

/** Reads a JSON request body and validates it; every failure is a 4xx AppError with a stable code. */
export async function readJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new AppError("request.unsupported_media_type", "the request body must be application/json");
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch {
    throw new AppError("request.invalid_json", "request body is not valid JSON");
  }
  return parseOrThrow(schema, raw, "request body is invalid");
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, message: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError("request.validation_failed", message, validationDetails(parsed.error));
  return parsed.data;
}
