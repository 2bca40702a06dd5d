import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { channelConfigFromEnv, createChannelAdapters } from "@pps/channels";
import { createLogger } from "@pps/logger";
import { createMetrics } from "@pps/runtime";
import { apiDocumentDrift, isolatedDatabase } from "@pps/test-support";
import { createApp } from "./app.ts";
import { AttemptStore } from "./attempt-store.ts";
import { ChannelState } from "./channel-state.ts";
import { ChannelStore } from "./channel-store.ts";
import { OperationCallStore } from "./operation-store.ts";
import { createRouterMetrics } from "./router-metrics.ts";

// The operator API in process, on a database of its own: every route it serves is in its OpenAPI document.

const ADMIN_TOKEN = "router-api-document-test-token";
const logger = createLogger({ service: "router-api-test", level: "silent" });
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let state: ChannelState;
let app: ReturnType<typeof createApp>;

const admin = (method: string, path: string, init: { body?: string; contentType?: string } = {}) =>
  app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(init.body !== undefined ? { "content-type": init.contentType ?? "application/json" } : {}),
    },
    body: init.body,
  });

beforeAll(async () => {
  isolated = await isolatedDatabase("router_api");
  const metrics = createMetrics("router-api-test");
  state = new ChannelState({
    store: new ChannelStore(isolated.db),
    adapters: createChannelAdapters(channelConfigFromEnv({})),
    circuit: { failureThreshold: 5, cooldownMs: 30_000, probeTimeoutMs: 30_000 },
    refreshMs: 60_000,
    logger,
    metrics: createRouterMetrics(metrics.registry),
  });
  await state.start();
  app = createApp({
    logger,
    metrics,
    readiness: [],
    adminToken: ADMIN_TOKEN,
    state,
    store: new AttemptStore(isolated.db),
    operations: new OperationCallStore(isolated.db),
  });
});

afterAll(async () => {
  await state?.stop();
  await isolated?.close();
});

describe("router's OpenAPI document", () => {
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
    // The check itself: a route served without a definition is found.
    expect(apiDocumentDrift([...app.routes, { method: "GET", path: "/v1/channels/:id" }], document)).toEqual([
      "GET /v1/channels/{id} is served but not documented",
    ]);
  });

  it("serves the reference at /docs with its assets", async () => {
    const docs = await app.request("/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("/docs/scalar.js");
    expect((await app.request("/docs/scalar.js")).status).toBe(200);
  });

  it("answers as before: token first, unknown channel before the body, strict queries", async () => {
    expect((await app.request("/v1/channels")).status).toBe(401);
    const list = await admin("GET", "/v1/channels");
    expect(list.status).toBe(200);
    expect(((await list.json()) as { data: { id: string }[] }).data.map((c) => c.id)).toContain("unionpay");
    const unknown = await admin("PUT", "/v1/channels/nope", { body: "{not json", contentType: "text/plain" });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("channel.unknown");
    const invalid = await admin("PUT", "/v1/channels/unionpay", { body: JSON.stringify({ feeRateBps: -1 }) });
    expect(invalid.status).toBe(400);
    expect(
      ((await invalid.json()) as { error: { code: string; details: { path: string }[] } }).error.details.map(
        (d) => d.path,
      ),
    ).toEqual(["feeRateBps"]);
    expect(
      (
        await admin("PUT", "/v1/channels/unionpay", {
          body: JSON.stringify({ enabled: true }),
          contentType: "text/plain",
        })
      ).status,
    ).toBe(415);
    expect((await admin("GET", "/v1/channels?surprise=1")).status).toBe(400);
    const circuit = await admin("POST", "/v1/channels/unionpay/circuit", { body: JSON.stringify({ state: "closed" }) });
    expect(circuit.status).toBe(200);
    expect(await circuit.json()).toMatchObject({ channel: "unionpay", circuit: { state: "closed", forced: false } });
    const none = await admin("GET", "/v1/routing/decisions/not-a-payment-id");
    expect(none.status).toBe(404);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("payment.not_found");
    const noOperations = await admin("GET", "/v1/routing/operations/pay_none");
    expect(noOperations.status).toBe(200);
    expect(await noOperations.json()).toEqual({ paymentId: "pay_none", operations: [] });
  });

  it("shows the limits and fixed fee in hundredths, and what they come to in each currency the channel takes", async () => {
    const res = await admin("PUT", "/v1/channels/paypal", {
      body: JSON.stringify({ minAmount: 150, maxAmount: 10_000_000, feeFixed: 30 }),
    });
    expect(res.status).toBe(200);
    const paypal = (await res.json()) as {
      minAmount: number;
      maxAmount: number;
      feeFixed: number;
      limits: { currency: string; minAmount: number; maxAmount: number; feeFixed: number }[];
      capabilities: { flows: { authorize?: unknown; refund?: { windowDays: number } } };
    };
    expect(paypal).toMatchObject({ minAmount: 150, maxAmount: 10_000_000, feeFixed: 30 });
    // 1.50 up to 100,000.00, fee 0.30: cents as they are, whole yen rounded (minimum up, fee half up).
    expect(paypal.limits.find((l) => l.currency === "USD")).toEqual({
      currency: "USD",
      minAmount: 150,
      maxAmount: 10_000_000,
      feeFixed: 30,
    });
    expect(paypal.limits.find((l) => l.currency === "JPY")).toEqual({
      currency: "JPY",
      minAmount: 2,
      maxAmount: 100_000,
      feeFixed: 0,
    });
    expect(paypal.capabilities.flows.authorize).toBeDefined();
    expect(paypal.capabilities.flows.refund?.windowDays).toBe(180);
  });
});
