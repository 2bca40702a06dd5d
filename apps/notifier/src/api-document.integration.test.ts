import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@pps/domain";
import { createLogger } from "@pps/logger";
import { createMetrics } from "@pps/runtime";
import { apiDocumentDrift, isolatedDatabase } from "@pps/test-support";
import { createApp } from "./app.ts";
import { notificationListSchema, notificationSchema } from "@pps/api-contract";
import { NotificationStore } from "./notification-store.ts";

// The operator and internal API in process, on a database of its own: every route it serves is in its
// OpenAPI document, and what it answers has the contract's shape.

const ADMIN_TOKEN = "notifier-api-document-admin-token";
const INTERNAL_TOKEN = "notifier-api-document-internal-token";
const defaults = { schedule: [0, 15, 60], merchantConcurrency: 4 };
const logger = createLogger({ service: "notifier-api-test", level: "silent" });
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let store: NotificationStore;
let app: ReturnType<typeof createApp>;

type ErrorBody = { error: { code: string } };

const call = (token: string, method: string, path: string, body?: unknown) =>
  app.request(path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  isolated = await isolatedDatabase("notifier_api");
  store = new NotificationStore(isolated.db, { ...defaults, jitterRatio: 0, leaseMs: 10_000 });
  app = createApp({
    logger,
    metrics: createMetrics("notifier-api-test"),
    readiness: [],
    adminToken: ADMIN_TOKEN,
    internalToken: INTERNAL_TOKEN,
    store,
    defaults,
    onResent: () => {},
  });
});

afterAll(async () => {
  await isolated?.close();
});

describe("notifier's OpenAPI document", () => {
  it("is OpenAPI 3.1 and documents every route the app serves, with schemas", async () => {
    const res = await app.request("/openapi.json");
    expect(res.status).toBe(200);
    const document = (await res.json()) as {
      openapi: string;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(document.openapi).toBe("3.1.0");
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(["AdminToken", "InternalToken"]);
    expect(apiDocumentDrift(app.routes, document)).toEqual([]);
    expect((await app.request("/docs")).status).toBe(200);
  });

  it("answers with the contract's notification shapes and the codes it always had", async () => {
    const merchantId = `m_api_${randomUUID().slice(0, 8)}`;
    const paymentId = newId("pay");
    await store.create({
      eventId: randomUUID(),
      eventType: "payment.succeeded",
      merchantId,
      paymentId,
      objectVersion: 3,
      url: "https://shop.example/notify",
      body: "{}",
      occurredAt: new Date().toISOString(),
    });
    const list = await call(
      INTERNAL_TOKEN,
      "GET",
      `/internal/v1/notifications?merchant_id=${merchantId}&payment_id=${paymentId}`,
    );
    expect(list.status).toBe(200);
    const page = notificationListSchema.parse(await list.json());
    expect(page.data.map((n) => [n.payment_id, n.status])).toEqual([[paymentId, "pending"]]);
    expect((await call(INTERNAL_TOKEN, "GET", "/internal/v1/notifications")).status).toBe(400);
    expect(
      (await call(INTERNAL_TOKEN, "GET", `/internal/v1/notifications?merchant_id=${merchantId}&surprise=1`)).status,
    ).toBe(400);
    expect((await call(ADMIN_TOKEN, "GET", `/internal/v1/notifications?merchant_id=${merchantId}`)).status).toBe(401);

    const id = page.data[0]!.id;
    const resent = await call(INTERNAL_TOKEN, "POST", `/internal/v1/notifications/${id}/resend`, {
      merchant_id: merchantId,
    });
    expect(resent.status).toBe(200);
    expect(notificationSchema.parse(await resent.json()).series).toBe(2);
    const malformed = await call(INTERNAL_TOKEN, "POST", "/internal/v1/notifications/ntf_nope/resend", {
      merchant_id: merchantId,
    });
    expect(malformed.status).toBe(404);
    expect(((await malformed.json()) as ErrorBody).error.code).toBe("request.not_found");
    expect(
      ((await (await call(INTERNAL_TOKEN, "POST", `/internal/v1/notifications/${id}/resend`, {})).json()) as ErrorBody)
        .error.code,
    ).toBe("request.validation_failed");

    const settings = `/v1/merchants/${merchantId}/notification-settings`;
    expect(await (await call(ADMIN_TOKEN, "GET", settings)).json()).toMatchObject({
      schedule_seconds: null,
      effective: { schedule_seconds: [0, 15, 60], max_concurrency: 4 },
    });
    expect((await call(ADMIN_TOKEN, "PUT", settings, { schedule_seconds: [0, 0] })).status).toBe(400);
    const put = await call(ADMIN_TOKEN, "PUT", settings, { schedule_seconds: [0, 5], max_concurrency: 2 });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({
      schedule_seconds: [0, 5],
      max_concurrency: 2,
      effective: { schedule_seconds: [0, 5], max_concurrency: 2 },
    });
    expect((await call(ADMIN_TOKEN, "GET", "/v1/merchants/bad%20id/notification-settings")).status).toBe(400);
  });
});
