import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ErrorCode } from "@pps/domain";
import type { Env } from "hono";
import { type AppEnv, validationHook } from "./app.ts";

/**
 * What an app needs to declare its routes for its OpenAPI document (see api-docs.ts), so apps do not each
 * depend on @hono/zod-openapi: routes are `createRoute(...)` definitions registered with `app.openapi()`.
 */
export { createRoute } from "@hono/zod-openapi";
/** zod with `.openapi()` (component names, examples): a module that calls it imports z from here, so it is there. */
export { z };
export type { RouteHandler } from "@hono/zod-openapi";

/** The app createServiceApp returns: routes registered with `app.openapi()` appear in its document. */
export type ServiceApp<E extends Env = AppEnv> = OpenAPIHono<E>;

/**
 * A group of routes mounted with `app.route(prefix, group)`: its documented routes join the parent's document
 * under the prefix, and what their schemas refuse answers like the service app's own routes.
 */
export function createRouteGroup<E extends Env = AppEnv>(): ServiceApp<E> {
  return new OpenAPIHono<E>({ defaultHook: validationHook() });
}

/** The security scheme of an API guarded by requireBearerToken, naming the variable that holds the token. */
export function bearerTokenScheme(variable: string) {
  return { type: "http", scheme: "bearer", description: `\`Authorization: Bearer <${variable}>\`` } as const;
}

/** What any route of a service app can answer before its own logic: a URL it refuses, schemas the request fails. */
export const REQUEST_ERRORS = [
  "request.invalid_characters",
  "request.validation_failed",
] as const satisfies readonly ErrorCode[];

/** A route behind requireBearerToken: REQUEST_ERRORS and a missing or wrong token. */
export const BEARER_ERRORS = [...REQUEST_ERRORS, "auth.admin_token_invalid"] as const satisfies readonly ErrorCode[];

/** What boundedJson adds to a route with a JSON body. */
export const JSON_BODY_ERRORS = [
  "request.unsupported_media_type",
  "request.body_too_large",
  "request.aborted",
  "request.invalid_json",
  "request.json_too_deep",
] as const satisfies readonly ErrorCode[];

// The one error shape and its helpers, as the merchant API's contract defines them: every app documents its
// errors the same way.
export { errorBodySchema, errorCodeSchema, errorResponses, json, noQuery } from "@pps/api-contract";
