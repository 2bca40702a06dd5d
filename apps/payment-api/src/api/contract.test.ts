import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { merchantRoutes, paymentApiRoutes } from "@pps/api-contract";
import { ERROR_CODES } from "@pps/domain";
import { PaymentsClient } from "@pps/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InProcessApi, inProcessApi } from "../payment-api-test-kit.ts";

/**
 * The contract's drift tests: the routes payment-api serves, the OpenAPI document it publishes and the SDK
 * merchants use are one and the same. In-process, as createApp(deps) builds the app.
 */
let api: InProcessApi;
beforeAll(async () => {
  api = await inProcessApi("contract");
});
afterAll(() => api.close());

type Operation = {
  operationId: string;
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  parameters?: { name: string; in: string }[];
};
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
  "x-error-codes": { code: string; status: number }[];
};

const INFRASTRUCTURE = new Set(["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/scalar.js"]);
const openApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z_]+)/g, "{$1}");

async function document(): Promise<Doc> {
  const res = await api.request("/openapi.json");
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

describe("the OpenAPI document is generated from the routes", () => {
  it("has every registered route, with its request and response schemas", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    const registered = api.app.routes.filter((r) => r.method !== "ALL" && !INFRASTRUCTURE.has(r.path));
    expect(registered.length).toBeGreaterThanOrEqual(Object.keys(paymentApiRoutes).length);
    for (const route of registered) {
      const op = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path} is in the document`).toBeDefined();
      const success = Object.entries(op!.responses).filter(([status]) => status.startsWith("2"));
      expect(success.length, `${op!.operationId} documents a success`).toBeGreaterThan(0);
      for (const [, r] of success)
        expect(Object.values(r.content ?? {})[0]?.schema, `${op!.operationId} has a response schema`).toBeDefined();
      const errors = Object.keys(op!.responses).filter((s) => /^[45]/.test(s));
      expect(errors.length, `${op!.operationId} documents its errors`).toBeGreaterThan(0);
      if (route.method === "POST" || route.method === "PUT" || route.method === "PATCH") {
        const takesBody = op!.requestBody !== undefined;
        const declared =
          (paymentApiRoutes as Record<string, { request: { body?: unknown } }>)[op!.operationId]?.request.body !==
          undefined;
        expect(takesBody).toBe(declared);
        if (takesBody)
          expect(
            Object.values(op!.requestBody!.content)[0]?.schema,
            `${op!.operationId} has a request schema`,
          ).toBeDefined();
      }
    }
  });

  it("documents exactly the contract's operations, each once", async () => {
    const doc = await document();
    const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(ids.sort()).toEqual(
      Object.values(paymentApiRoutes)
        .map((r) => r.operationId)
        .sort(),
    );
  });

  it("lists every error code once, and a body schema's fields as the validator has them", async () => {
    const doc = await document();
    expect(doc["x-error-codes"].map((e) => e.code)).toEqual([...ERROR_CODES]);
    const schema = doc.components.schemas.CreatePaymentRequest as {
      properties: Record<string, { type?: string }>;
      required: string[];
      additionalProperties?: boolean;
    };
    expect(schema.properties.amount?.type).toBe("integer");
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(
      expect.arrayContaining([
        "merchant_order_no",
        "product",
        "amount",
        "currency",
        "subject",
        "payer",
        "notify_url",
        "return_url",
      ]),
    );
  });

  it("serves the reference page and its assets itself", async () => {
    const page = await api.request("/docs");
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('src="/docs/scalar.js"');
    expect(html).not.toMatch(/https?:\/\/(cdn|fonts)\./);
    const asset = await api.request("/docs/scalar.js");
    expect(asset.status).toBe(200);
    expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100_000);
  });
});

describe("the SDK is the contract's client", () => {
  it("has a method for every merchant operation, calling its method and path", async () => {
    const calls: { method: string; path: string }[] = [];
    const fakeFetch = (async (input: URL | string, init?: RequestInit) => {
      const url = new URL(String(input));
      calls.push({ method: init?.method ?? "GET", path: url.pathname });
      return new Response(JSON.stringify({ error: { code: "request.not_found", message: "stub", requestId: "r" } }), {
        status: 404,
        headers: { "content-type": "application/json" },
      });
    }) as typeof fetch;
    const client = new PaymentsClient({
      baseUrl: "http://sdk.test",
      credentials: { merchantId: "m_1", scheme: "HMAC_SHA256", secretKey: "k" },
      fetch: fakeFetch,
    });
    const id = "pay_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX";
    const ntf = "ntf_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX";
    const params: Record<string, string> = { id, token: "t" };
    for (const [name, route] of Object.entries(merchantRoutes)) {
      const method = (client as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[route.operationId];
      expect(method, `the SDK has ${route.operationId}`).toBeTypeOf("function");
      calls.length = 0;
      const args = route.path.includes("{id}")
        ? [name === "resendNotification" ? ntf : id, "1".repeat(6), { idempotencyKey: "k1" }]
        : [{}, { idempotencyKey: "k1" }];
      await method!.apply(client, args).catch(() => undefined);
      const expectedPath = route.path.replace(/\{(\w+)\}/g, (_, p: string) =>
        p === "id" && name === "resendNotification" ? ntf : (params[p] ?? p),
      );
      expect(calls[0], route.operationId).toEqual({ method: route.method.toUpperCase(), path: expectedPath });
    }
  });

  it("compiles against the contract", () => {
    const root = fileURLToPath(new URL("../../../../", import.meta.url));
    // Type errors print to stdout and make tsc exit non-zero, which throws here with the output attached.
    execFileSync(
      process.execPath,
      [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}packages/sdk`, "--noEmit"],
      { stdio: "pipe" },
    );
  }, 60_000);
});
