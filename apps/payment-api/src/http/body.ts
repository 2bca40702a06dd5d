import { createMiddleware } from "hono/factory";
import { AppError } from "@pps/domain";
import type { PaymentApiEnv } from "./auth.ts";

/**
 * Reads a JSON request body once, with a size limit, before authentication (the signature covers its fields).
 * Refuses other media types and bodies that are not a JSON object.
 */
export function jsonBody({ maxBytes }: { maxBytes: number }) {
  return createMiddleware<PaymentApiEnv>(async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") {
      c.set("body", {});
      c.set("rawBody", "");
      return next();
    }
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\b/i.test(type)) throw new AppError("request.unsupported_media_type", "Content-Type must be application/json");
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > maxBytes) throw new AppError("request.body_too_large", `body exceeds ${maxBytes} bytes`);
    const raw = await c.req.text();
    if (Buffer.byteLength(raw, "utf8") > maxBytes) throw new AppError("request.body_too_large", `body exceeds ${maxBytes} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new AppError("request.invalid_json", "request body is not valid JSON");
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new AppError("request.validation_failed", "request body must be a JSON object");
    c.set("rawBody", raw);
    c.set("body", body);
    await next();
  });
}
