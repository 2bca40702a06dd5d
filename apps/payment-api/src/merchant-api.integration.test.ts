import { randomUUID } from "node:crypto";
import { and, count, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payments } from "@pps/db/schema";
import type { Payment, PaymentsClient } from "@pps/sdk";
import { type InProcessApi, type InProcessMerchant, inProcessApi, paymentParams } from "./payment-api-test-kit.ts";

/**
 * The merchant API's own behaviour, in-process (createApp on a real database of its own, no port, no Kafka):
 * signatures in every scheme, idempotency, pre-orders and pay links, the events feed, load shedding. What needs
 * the pipeline (risk decisions, channel results, the expiry sweep) is in payments.integration.test.ts.
 */
let api: InProcessApi;
let merchant: InProcessMerchant;
let client: PaymentsClient;
/** How far the app's clock is ahead of the real one (pay-link intervals without sleeping). */
let clockAheadMs = 0;

const params = paymentParams;

const errorCode = (body: unknown) => (body as { error?: { code?: string } }).error?.code;

beforeAll(async () => {
  api = await inProcessApi("merchantapi", { env: { PAY_LINK_TTL_SECONDS: "2" }, now: () => Date.now() + clockAheadMs });
  merchant = await api.createMerchant();
  client = api.client(merchant);
});
afterAll(async () => {
  await api?.close();
});

describe("creating and following a payment", () => {
  it.each(["HMAC_SHA256", "MD5", "RSA_SHA256"] as const)(
    "accepts a %s-signed payment, answers signed, and finds it by id and order no",
    async (scheme) => {
      const m = await api.createMerchant({ scheme });
      const c = api.client(m);
      const req = params();
      const created = await c.createPayment(req, { idempotencyKey: randomUUID() });
      expect(created).toMatchObject({
        status: "risk_review",
        amount: 12_345,
        currency: "CNY",
        merchant_order_no: req.merchant_order_no,
        version: 1,
      });
      expect(created.id).toMatch(/^pay_/);
      const byId = await c.getPayment(created.id);
      const byNo = await c.getPaymentByOrderNo(req.merchant_order_no);
      expect(byNo.id).toBe(created.id);
      expect(byId.timeline).toEqual([expect.objectContaining({ from: null, to: "risk_review", cause: "api" })]);
      // Another merchant cannot see it.
      await expect(client.getPayment(created.id)).rejects.toMatchObject({ status: 404, code: "payment.not_found" });
    },
  );

  it.each(["HMAC_SHA256", "MD5"] as const)(
    "accepts a %s merchant still on the legacy format, and the same merchant's v2 requests",
    async (scheme) => {
      const m = await api.createMerchant({ scheme, signFormat: "legacy_params" });
      const legacy = await api.client(m).createPayment(params(), { idempotencyKey: randomUUID() });
      expect(legacy.status).toBe("risk_review");
      // A legacy merchant may already sign v2 (docs/signing.md, migration): its client moves before its setting does.
      const v2 = await api.client({ ...m, signFormat: "v2" }).createPayment(params(), { idempotencyKey: randomUUID() });
      expect(v2.status).toBe("risk_review");
    },
  );
});

describe("idempotency", () => {
  it("replays the first response for the same key and body, and refuses the key with another body", async () => {
    const key = randomUUID();
    const req = params();
    const first = await client.request<Payment>("POST", "/v1/payments", { body: req, idempotencyKey: key });
    const again = await client.request<Payment>("POST", "/v1/payments", { body: req, idempotencyKey: key });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const other = await client.request("POST", "/v1/payments", { body: { ...req, amount: 99 }, idempotencyKey: key });
    expect(other.status).toBe(409);
    expect(errorCode(other.body)).toBe("request.idempotency_key_reused");
  });

  it("gives one payment for 20 concurrent identical requests", async () => {
    const key = randomUUID();
    const req = params();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        client.request<Payment>("POST", "/v1/payments", { body: req, idempotencyKey: key }),
      ),
    );
    const ids = new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    for (const r of responses.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(errorCode(r.body)).toBe("request.idempotency_in_progress");
    }
    const [row] = await api.db
      .select({ n: count() })
      .from(payments)
      .where(and(eq(payments.merchantId, merchant.merchantId), eq(payments.merchantOrderNo, req.merchant_order_no)));
    expect(row!.n).toBe(1);
  });

  it("refuses a second payment for the same merchant order no under another key", async () => {
    const req = params();
    await client.createPayment(req, { idempotencyKey: randomUUID() });
    await expect(client.createPayment(req, { idempotencyKey: randomUUID() })).rejects.toMatchObject({
      status: 409,
      code: "payment.duplicate_order_no",
    });
  });
});

describe("pre-orders and pay links", () => {
  it("creates an unpaid order with a pay link that pays it once", async () => {
    const order = await client.createOrder(params(), { idempotencyKey: randomUUID() });
    expect(order.status).toBe("awaiting_payment");
    expect(order.pay_url).toMatch(/\/v1\/pay\/pay_/);
    const page = await api.app.request(order.pay_url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    const paid = await api.app.request(order.pay_url!, { method: "POST" });
    expect(paid.status).toBe(200);
    expect(((await paid.json()) as Payment).status).toBe("risk_review");
    const again = await api.app.request(order.pay_url!, { method: "POST" });
    expect(again.status).toBe(409);
    expect(errorCode(await again.json())).toBe("payment.invalid_state");
    const detail = await client.getPayment(order.id);
    expect(detail.timeline.map((t) => t.cause)).toEqual(["api", "pay_link"]);
  });

  it("refuses a cached pay link used after the allowed interval, and a forged one", async () => {
    const order = await client.createOrder(params(), { idempotencyKey: randomUUID() });
    const forged = order.pay_url!.replace(/\.[A-Za-z0-9_-]{32}$/, `.${"A".repeat(32)}`);
    expect((await api.app.request(forged, { method: "POST" })).status).toBe(404);
    clockAheadMs = 3_100; // PAY_LINK_TTL_SECONDS=2 in this file
    try {
      const late = await api.app.request(order.pay_url!, { method: "POST" });
      expect(late.status).toBe(410);
      expect(errorCode(await late.json())).toBe("payment.pay_link_expired");
    } finally {
      clockAheadMs = 0;
    }
    expect((await client.getPayment(order.id)).status).toBe("awaiting_payment");
  });
});

describe("the events feed", () => {
  it("pages through this merchant's events in order, and only this merchant's", async () => {
    const m = await api.createMerchant();
    const c = api.client(m);
    const created = await Promise.all([1, 2, 3].map(() => c.createPayment(params(), { idempotencyKey: randomUUID() })));
    await new Promise((r) => setTimeout(r, 1_300)); // the feed serves events once they are a second old (database time)
    const first = await c.listEvents({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    const rest = await c.listEvents({ after: first.next_cursor!, limit: 10 });
    const all = [...first.data, ...rest.data];
    expect(all.map((e) => e.aggregateId).sort()).toEqual(created.map((p) => p.id).sort());
    expect(all.every((e) => e.type === "payment.created" && e.payload.status === "risk_review")).toBe(true);
    const empty = await c.listEvents({ after: rest.next_cursor! });
    expect(empty).toEqual({ data: [], next_cursor: rest.next_cursor, has_more: false });
  });
});

describe("load shedding", () => {
  let shedding: InProcessApi;
  beforeAll(async () => {
    shedding = await inProcessApi("shed", { env: { ACCEPT_MAX_IN_FLIGHT: "2" } });
  });
  afterAll(async () => {
    await shedding?.close();
  });

  it("refuses what exceeds the in-flight limit with internal.overloaded and Retry-After, writing nothing, and accepts the rest", async () => {
    const m = await shedding.createMerchant({ products: ["online_banking"] });
    const c = shedding.client(m);
    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        c.request("POST", "/v1/payments", { idempotencyKey: randomUUID(), body: params({ payer: { id: "u_shed" } }) }),
      ),
    );
    const shed = results.filter((r) => r.status === 503);
    const accepted = results.filter((r) => r.status === 201);
    expect(shed.length + accepted.length).toBe(40);
    expect(shed.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    expect(errorCode(shed[0]!.body)).toBe("internal.overloaded");
    expect(shed[0]!.headers.get("retry-after")).toBe("1");
    const [row] = await shedding.db.select({ n: count() }).from(payments).where(eq(payments.merchantId, m.merchantId));
    expect(row!.n).toBe(accepted.length);
  });
});
