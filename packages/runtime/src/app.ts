import { randomUUID } from "node:crypto";
import { OpenAPIHono } from "@hono/zod-openapi";
import { AppError } from "@pps/domain";
import type { Logger } from "@pps/logger";
import { errorResponse, toErrorResponse } from "./errors.ts";
import { type HealthRegistry, processHealth } from "./health.ts";
import { validationDetails } from "./json-body.ts";
import type { Metrics } from "./metrics.ts";
import { assertCleanUrl } from "./request-text.ts";

export type ReadinessCheck = { name: string; check: () => Promise<void> };

export type AppVariables = { requestId: string; logger: Logger };
export type AppEnv = { Variables: AppVariables };

export type CreateServiceAppOptions = {
  logger: Logger;
  metrics: Metrics;
  readiness?: ReadinessCheck[];
  /** Per-check time limit for /readyz. */
  readinessTimeoutMs?: number;
  /**
   * The running components' own health (consumers, relays, polling loops): each is a /readyz check, and
   * /healthz fails while any of them says only a restart will help [processHealth].
   */
  health?: HealthRegistry;
};

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

const TARGET_NAMES: Record<string, string> = {
  json: "request fields",
  query: "query parameters",
  param: "path parameters",
  header: "headers",
};

/**
 * What a route's schemas refuse becomes one error: 400 request.validation_failed with the problems (where and
 * what, never the rejected value). Routes whose path names a resource may pass `notFound` so a malformed id
 * answers like an unknown one.
 */
export function validationHook(
  opts: { notFound?: { code: ConstructorParameters<typeof AppError>[0]; message: string } } = {},
) {
  return (result: { success: boolean; target: string; error?: unknown }): undefined => {
    if (result.success) return undefined;
    if (result.target === "param" && opts.notFound) throw new AppError(opts.notFound.code, opts.notFound.message);
    const details = validationDetails(result.error as Parameters<typeof validationDetails>[0]);
    throw new AppError(
      "request.validation_failed",
      `${TARGET_NAMES[result.target] ?? result.target} are invalid`,
      details,
    );
  };
}

/**
 * The base app every service extends: request ids, access metrics, /healthz, /readyz, /metrics, one error
 * shape, JSON 404, and a refusal of paths and queries that carry NUL, lone surrogates or broken
 * percent-encoding. It is an OpenAPIHono: routes registered with `app.openapi(route, handler)` validate with
 * their schemas and appear in the app's OpenAPI document (see api-docs.ts).
 */
export function createServiceApp<E extends AppEnv = AppEnv>({
  logger,
  metrics,
  readiness = [],
  readinessTimeoutMs = 2_000,
  health = processHealth,
}: CreateServiceAppOptions): OpenAPIHono<E> {
  const app = new OpenAPIHono<E>({ defaultHook: validationHook() });

  app.use(async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set("requestId", requestId);
    c.set("logger", logger.child({ requestId }));
    c.header("x-request-id", requestId);
    const started = performance.now();
    try {
      assertCleanUrl(c.req.url);
      await next();
    } catch (err) {
      c.res = toErrorResponse(c, err, logger);
    }
    const route = c.req.routePath || "unmatched";
    const seconds = (performance.now() - started) / 1000;
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
  });

  // Alive unless a component reports that it cannot recover by itself (then the orchestrator restarts us).
  app.get("/healthz", (c) => {
    const failing = health.liveness().filter((r) => !r.ok);
    if (failing.length === 0) return c.json({ status: "ok" });
    logger.error({ checks: failing }, "not alive");
    return c.json({ status: "unhealthy", checks: failing }, 503);
  });

  app.get("/readyz", async (c) => {
    const results = await Promise.all(
      [...readiness, ...health.readinessChecks()].map(async ({ name, check }) => {
        try {
          await withTimeout(check(), readinessTimeoutMs, name);
          return { name, ok: true as const };
        } catch (err) {
          return { name, ok: false as const, error: err instanceof Error ? err.message : "failed" };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    if (!ready) logger.warn({ checks: results }, "not ready");
    return c.json({ status: ready ? "ready" : "not_ready", checks: results }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    c.header("content-type", metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  app.notFound((c) => errorResponse(c, "request.not_found", `no route for ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => toErrorResponse(c, err, logger));
  return app;
}
