/** A route as Hono lists it in `app.routes`. */
export type RegisteredRoute = { method: string; path: string };

type Operation = {
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
};

/** What every service serves beside its API, never in its document. */
export const UNDOCUMENTED_PATHS: readonly string[] = [
  "/healthz",
  "/readyz",
  "/metrics",
  "/openapi.json",
  "/docs",
  "/docs/scalar.js",
];

const BODY_METHODS = new Set(["post", "put", "patch"]);
const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);

/** `/v1/channels/:id` as OpenAPI spells it: `/v1/channels/{id}`. */
const openApiPath = (honoPath: string) => honoPath.replace(/:([^/]+)/g, "{$1}");

/**
 * Where an app and its OpenAPI document disagree; empty when they agree. Every route the app serves (but the
 * UNDOCUMENTED_PATHS and what `ignore` names) must be in the document with its method, and every documented
 * operation must be served; an operation taking a body (POST, PUT, PATCH, unless `bodyless` names it) needs a
 * request body schema; and every operation needs a 2xx response, each with a schema (but a 204, which has no body).
 */
export function apiDocumentDrift(
  routes: readonly RegisteredRoute[],
  document: unknown,
  opts: { ignore?: (route: RegisteredRoute) => boolean; bodyless?: readonly string[] } = {},
): string[] {
  const problems: string[] = [];
  const doc = document as { openapi?: unknown; paths?: Record<string, Record<string, Operation>> };
  if (typeof doc.openapi !== "string" || !doc.openapi.startsWith("3.1."))
    problems.push(`openapi is ${String(doc.openapi)}, not 3.1.x`);
  const paths = doc.paths ?? {};

  const served = new Set<string>();
  for (const route of routes) {
    const method = route.method.toLowerCase();
    // app.use() middleware is listed with method ALL; it is no operation of its own.
    if (!HTTP_METHODS.has(method) || UNDOCUMENTED_PATHS.includes(route.path) || opts.ignore?.(route)) continue;
    const key = `${method.toUpperCase()} ${openApiPath(route.path)}`;
    if (served.has(key)) continue;
    served.add(key);
    if (!paths[openApiPath(route.path)]?.[method]) problems.push(`${key} is served but not documented`);
  }

  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!HTTP_METHODS.has(method)) continue;
      const key = `${method.toUpperCase()} ${path}`;
      if (!served.has(key)) problems.push(`${key} is documented but not served`);
      const bodySchemas = Object.values(op.requestBody?.content ?? {}).filter((m) => m.schema !== undefined);
      if (BODY_METHODS.has(method) && !opts.bodyless?.includes(key) && bodySchemas.length === 0)
        problems.push(`${key} has no request body schema`);
      const successes = Object.entries(op.responses ?? {}).filter(([status]) => /^2\d\d$/.test(status));
      if (successes.length === 0) problems.push(`${key} has no 2xx response`);
      for (const [status, res] of successes) {
        if (status === "204") continue;
        if (!Object.values(res.content ?? {}).some((m) => m.schema !== undefined))
          problems.push(`${key} ${status} has no response schema`);
      }
    }
  }
  return problems;
}
