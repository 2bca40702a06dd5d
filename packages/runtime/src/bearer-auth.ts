import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { AppError } from "@pps/domain";
import type { AppEnv } from "./app.ts";

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Admits requests carrying `Authorization: Bearer <token>`. Digests are compared in constant time, so neither
 * the token's content nor its length leaks through timing. `who` names the token in the error message.
 */
export function requireBearerToken(token: string, who: "admin" | "service"): MiddlewareHandler<AppEnv> {
  const expected = digest(token);
  return async (c, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new AppError("auth.admin_token_invalid", `a valid ${who} bearer token is required`);
    }
    await next();
  };
}
