import { describe, expect, it } from "vitest";
import { createLogger } from "@pps/logger";
import { createMetrics } from "@pps/runtime";
import { apiDocumentDrift } from "@pps/test-support";
import { createApp } from "./app.ts";

// The app in process (it needs no database to be built): every route it serves is in its OpenAPI document.

const app = createApp({
  logger: createLogger({ service: "reconciler-api-test", level: "silent" }),
  metrics: createMetrics("reconciler-api-test"),
  readiness: [],
});

describe("reconciler's OpenAPI document", () => {
  it("is OpenAPI 3.1 and documents every route the app serves", async () => {
    const res = await app.request("/openapi.json");
    expect(res.status).toBe(200);
    const document = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toBe("3.1.0");
    expect(apiDocumentDrift(app.routes, document)).toEqual([]);
    expect((await app.request("/docs")).status).toBe(200);
  });
});
