import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { AppError, httpStatusFor, type ErrorCode } from "@pps/domain";
import type { Logger } from "@pps/logger";

export type ErrorBody = { error: { code: ErrorCode; message: string; requestId: string; details?: unknown } };

export function errorBody(code: ErrorCode, message: string, requestId: string, details?: unknown): ErrorBody {
  return { error: { code, message, requestId, ...(details === undefined ? {} : { details }) } };
}

export function errorResponse(c: Context, code: ErrorCode, message: string, details?: unknown): Response {
  const requestId = (c.get("requestId" as never) as string | undefined) ?? "unknown";
  return c.json(errorBody(code, message, requestId, details), httpStatusFor(code) as 400);
}

/** Turns anything thrown into the one error shape. Unknown errors become a 500 that leaks nothing. */
export function toErrorResponse(c: Context, err: unknown, logger: Logger): Response {
  if (err instanceof AppError) return errorResponse(c, err.code, err.message, err.details);
  if (err instanceof SyntaxError && /JSON/i.test(err.message))
    return errorResponse(c, "request.invalid_json", "request body is not valid JSON");
  // Hono's own refusals (media type gates, malformed bodies) in our shape.
  if (err instanceof HTTPException && err.status < 500) {
    if (err.status === 415) return errorResponse(c, "request.unsupported_media_type", "unsupported media type");
    if (err.status === 413) return errorResponse(c, "request.body_too_large", "body too large");
    return errorResponse(c, "request.validation_failed", "the request is malformed");
  }
  logger.error({ err, requestId: c.get("requestId" as never) }, "unhandled error");
  return errorResponse(c, "internal.error", "internal error");
}
