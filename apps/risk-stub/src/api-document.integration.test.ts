import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@pps/logger";
import { createMetrics } from "@pps/runtime";
import { apiDocumentDrift, isolatedDatabase } from "@pps/test-support";
import { createApp } from "./app.ts";
import { createRiskMetrics } from "./metrics.ts";
import { RiskConfigCache } from "./risk-config.ts";

// The operator API in process, on a database of its own: every route it serves is in its OpenAPI document.

const ADMIN_TOKEN = "risk-api-document-test-token";
const logger = createLogger({ service: "risk-api-test", level: "silent" });
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let config: RiskConfigCache;
let app: ReturnType<typeof createApp>;

type ErrorBody = { error: { code: string; details?: { path: string }[] } };

const admin = (method: string, path: string, body?: unknown) =>
  app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  isolated = await isolatedDatabase("risk_api");
  const metrics = createMetrics("risk-api-test");
  config = new RiskConfigCache({
    db: isolated.db,
    logger,
    refreshMs: 60_000,
    metrics: createRiskMetrics(metrics.registry),
  });
  await config.start();
  app = createApp({ logger, metrics, readiness: [], db: isolated.db, config, adminToken: ADMIN_TOKEN });
});

afterAll(async () => {
  config?.stop();
  await isolated?.close();
});

describe("risk-stub's OpenAPI document", () => {
  it("is OpenAPI 3.1 and documents every route the app serves, with schemas", async () => {
    const res = await app.request("/openapi.json");
    expect(res.status).toBe(200);
    const document = (await res.json()) as {
      openapi: string;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.components.securitySchemes)).toEqual(["AdminToken"]);
    expect(apiDocumentDrift(app.routes, document)).toEqual([]);
    expect((await app.request("/docs")).status).toBe(200);
  });

  it("answers as before through the route definitions", async () => {
    const rules = await admin("GET", "/v1/risk/rules");
    expect(rules.status).toBe(200);
    const current = (await rules.json()) as { version: number; config: Record<string, unknown> };
    expect(current.version).toBe(1);
    expect((await admin("GET", "/v1/risk/rules?version=99")).status).toBe(404);
    expect((await admin("GET", "/v1/risk/rules?surprise=1")).status).toBe(400);
    const bad = await admin("PUT", "/v1/risk/rules", {
      ...current.config,
      amountLimits: { CNY: { softLimit: 10, hardLimit: 9 } },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.details?.map((d) => d.path)).toContain("amountLimits.CNY.softLimit");

    const value = `payer_${randomUUID()}`;
    expect((await admin("POST", "/v1/risk/blocklist", { kind: "payer", value, reason: "test" })).status).toBe(201);
    expect((await admin("POST", "/v1/risk/blocklist", { kind: "payer", value, reason: "test again" })).status).toBe(
      200,
    );
    const listed = (await (await admin("GET", "/v1/risk/blocklist?kind=payer")).json()) as {
      entries: { value: string; reason: string }[];
      limit: number;
    };
    expect(listed.limit).toBe(100);
    expect(listed.entries).toContainEqual(expect.objectContaining({ value, reason: "test again" }));
    expect((await admin("DELETE", `/v1/risk/blocklist/email/${value}`)).status).toBe(400);
    expect((await admin("DELETE", `/v1/risk/blocklist/payer/${value}`)).status).toBe(204);
    expect((await admin("DELETE", `/v1/risk/blocklist/payer/${value}`)).status).toBe(404);
    const none = await admin("GET", `/v1/risk/decisions/pay_${randomUUID()}`);
    expect(none.status).toBe(404);
    expect(((await none.json()) as ErrorBody).error.code).toBe("request.not_found");
  });
});
