import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import type { Logger } from "@pps/logger";
import { errorResponse, toErrorResponse } from "./errors.ts";
import type { Metrics } from "./metrics.ts";

export type ReadinessCheck = { name: string; check: () => Promise<void> };

export type AppVariables = { requestId: string; logger: Logger };
export type AppEnv = { Variables: AppVariables };

export type CreateServiceAppOptions = {
  logger: Logger;
  metrics: Metrics;
  readiness?: ReadinessCheck[];
  /** Per-check time limit for /readyz. */
  readinessTimeoutMs?: number;
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

/**
 * The base Hono app every service extends: request ids, access metrics, /healthz, /readyz, /metrics,
 * one error shape, JSON 404.
 */
export function createServiceApp({ logger, metrics, readiness = [], readinessTimeoutMs = 2_000 }: CreateServiceAppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set("requestId", requestId);
    c.set("logger", logger.child({ requestId }));
    c.header("x-request-id", requestId);
    const started = performance.now();
    await next();
    const route = c.req.routePath || "unmatched";
    const seconds = (performance.now() - started) / 1000;
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    const results = await Promise.all(
      readiness.map(async ({ name, check }) => {
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
