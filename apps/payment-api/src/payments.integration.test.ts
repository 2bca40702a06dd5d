import { randomBytes, randomUUID } from "node:crypto";
import { and, count, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@pps/db";
import { idempotencyKeys, paymentOutbox, payments, paymentTransitions, requestNonces } from "@pps/db/schema";
import { createLogger } from "@pps/logger";
import { channelEvents, createKafka, EventPublisher, makeEnvelope, riskEvents, TOPICS, type AttemptResult, type RiskDecision } from "@pps/messaging";
import { PaymentsClient, type CreatePaymentParams, type Payment, type PaymentDetail } from "@pps/sdk";
import { createTestMerchant, type IsolatedEnvironment, isolatedEnvironment, setPayerStatus, startApp, TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS, waitFor, type AppProcess, type TestMerchant } from "@pps/test-support";

/**
 * payment-api as a real process against real Postgres and Kafka. Risk decisions and channel results are
 * published here as risk-stub and the router would; the whole pipeline runs in tests/e2e.
 */
let api: AppProcess;
let isolated: IsolatedEnvironment;
let db: Database;
let publisher: EventPublisher;
let merchant: TestMerchant;
let client: PaymentsClient;

const clientFor = (m: TestMerchant) => new PaymentsClient({ baseUrl: api.url, credentials: m });
const orderNo = () => `o_${randomBytes(8).toString("hex")}`;

function params(overrides: Partial<CreatePaymentParams> = {}): CreatePaymentParams {
  return {
    merchant_order_no: orderNo(),
    product: "online_banking",
    amount: 12_345,
    currency: "CNY",
    subject: "Annual cable TV subscription",
    payer: { id: `u_${randomBytes(4).toString("hex")}`, ip: "203.0.113.7", device_id: "dev-1", phone: "+8613800138000" },
    method: { bank_code: "CMB" },
    notify_url: "https://shop.example/notify",
    return_url: "https://shop.example/return",
    ...overrides,
  };
}

async function publishDecision(paymentId: string, merchantId: string, outcome: RiskDecision["outcome"], reasons: string[] = []) {
  const payload: RiskDecision = { decisionId: randomUUID(), paymentId, merchantId, outcome, reasons, decidedAt: new Date().toISOString() };
  const envelope = makeEnvelope({ type: riskEvents.decided.type, version: 1, aggregateId: paymentId, payload });
  await publisher.publish(TOPICS.riskDecisions.name, [envelope]);
  return envelope;
}

async function publishAttempt(p: Pick<Payment, "id" | "amount" | "currency">, overrides: Partial<AttemptResult>) {
  const payload: AttemptResult = {
    paymentId: p.id, attemptId: `att_${randomBytes(6).toString("hex")}`, attemptNo: 1, channel: "bank_direct", outcome: "succeeded",
    channelTxnId: `tx_${randomBytes(6).toString("hex")}`, amount: p.amount, currency: p.currency, settlement: null, action: null,
    failureCode: null, failureMessage: null, willRetry: false, occurredAt: new Date().toISOString(), ...overrides,
  };
  const envelope = makeEnvelope({ type: channelEvents.attemptResult.type, version: 1, aggregateId: p.id, payload });
  await publisher.publish(TOPICS.channelResults.name, [envelope]);
  return envelope;
}

async function waitForStatus(c: PaymentsClient, id: string, status: string): Promise<PaymentDetail> {
  let last: PaymentDetail | undefined;
  await waitFor(
    async () => {
      last = await c.getPayment(id);
      return last.status === status;
    },
    { what: `payment ${id} to be ${status}`, timeoutMs: 20_000 },
  );
  return last!;
}

beforeAll(async () => {
  isolated = await isolatedEnvironment("payapi");
  db = isolated.db;
  api = await startApp("payment-api", { ...isolated.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN, PAY_LINK_TTL_SECONDS: "2", EXPIRY_SWEEP_INTERVAL_MS: "200" });
  publisher = new EventPublisher(createKafka({ brokers: TEST_KAFKA_BROKERS.split(","), clientId: "payment-api-test", logger: createLogger({ service: "t", level: "silent" }) }), isolated.topicPrefix);
  await publisher.start();
  merchant = await createTestMerchant(api.url);
  client = clientFor(merchant);
});

afterAll(async () => {
  await publisher?.stop();
  await api?.stop();
  await isolated?.close();
});

describe("creating and following a payment", () => {
  it.each(["HMAC_SHA256", "MD5", "RSA_SHA256"] as const)("accepts a %s-signed payment, answers signed, and finds it by id and order no", async (scheme) => {
    const m = await createTestMerchant(api.url, { scheme });
    const c = clientFor(m);
    const req = params();
    const created = await c.createPayment(req, { idempotencyKey: randomUUID() });
    expect(created).toMatchObject({ status: "risk_review", amount: 12_345, currency: "CNY", merchant_order_no: req.merchant_order_no, version: 1 });
    expect(created.id).toMatch(/^pay_/);
    const byId = await c.getPayment(created.id);
    const byNo = await c.getPaymentByOrderNo(req.merchant_order_no);
    expect(byNo.id).toBe(created.id);
    expect(byId.timeline).toEqual([expect.objectContaining({ from: null, to: "risk_review", cause: "api" })]);
    // Another merchant cannot see it.
    await expect(client.getPayment(created.id)).rejects.toMatchObject({ status: 404, code: "payment.not_found" });
  });

  it("moves through risk allow, a redirect action and channel success, keeping every transition", async () => {
    const p = await client.createPayment(params(), { idempotencyKey: randomUUID() });
    const decision = await publishDecision(p.id, merchant.merchantId, "allow");
    await waitForStatus(client, p.id, "processing");
    await publisher.publish(TOPICS.riskDecisions.name, [decision]); // redelivered: must change nothing
    await publishAttempt(p, { outcome: "requires_action", action: { type: "redirect", url: "http://127.0.0.1:7105/bank/pages/tx1" } });
    const waiting = await waitForStatus(client, p.id, "requires_action");
    expect(waiting.next_action).toEqual({ type: "redirect", url: "http://127.0.0.1:7105/bank/pages/tx1" });
    await publishAttempt(p, { outcome: "succeeded", channelTxnId: "bank-tx-9" });
    const done = await waitForStatus(client, p.id, "succeeded");
    expect(done.channel).toBe("bank_direct");
    expect(done.timeline.map((t) => t.to)).toEqual(["risk_review", "processing", "requires_action", "succeeded"]);
    expect(done.timeline.map((t) => t.version)).toEqual([1, 2, 3, 4]);
    // A late failure report cannot undo a success.
    await publishAttempt(p, { outcome: "failed", failureCode: "card_declined" });
    await new Promise((r) => setTimeout(r, 500));
    expect((await client.getPayment(p.id)).status).toBe("succeeded");
  });

  it("fails a blocked payment with the reason, and keeps a payment processing while the router retries", async () => {
    const blocked = await client.createPayment(params(), { idempotencyKey: randomUUID() });
    await publishDecision(blocked.id, merchant.merchantId, "block", ["payer_blocklisted"]);
    const failed = await waitForStatus(client, blocked.id, "failed");
    expect(failed.failure).toEqual({ code: "risk_blocked", message: "blocked by risk rules: payer_blocklisted" });

    const p = await client.createPayment(params(), { idempotencyKey: randomUUID() });
    await publishDecision(p.id, merchant.merchantId, "allow");
    await waitForStatus(client, p.id, "processing");
    await publishAttempt(p, { outcome: "failed", failureCode: "channel_unavailable", willRetry: true });
    await publishAttempt(p, { outcome: "failed", attemptNo: 2, channel: "unionpay", failureCode: "card_declined", failureMessage: "Do not honour" });
    const done = await waitForStatus(client, p.id, "failed");
    expect(done.failure?.code).toBe("card_declined");
    expect(done.attempts.map((a) => [a.attempt_no, a.outcome])).toEqual([[1, "failed"], [2, "failed"]]);
  });
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
    expect(other.body).toMatchObject({ error: { code: "request.idempotency_key_reused" } });
  });

  it("gives one payment for 20 concurrent identical requests", async () => {
    const key = randomUUID();
    const req = params();
    const responses = await Promise.all(Array.from({ length: 20 }, () => client.request<Payment & { error?: { code: string } }>("POST", "/v1/payments", { body: req, idempotencyKey: key })));
    const ids = new Set(responses.filter((r) => r.status === 201).map((r) => r.body.id));
    expect(ids.size).toBe(1);
    for (const r of responses.filter((x) => x.status !== 201)) {
      expect(r.status).toBe(409);
      expect(r.body.error?.code).toBe("request.idempotency_in_progress");
    }
    const [row] = await db.select({ n: count() }).from(payments).where(and(eq(payments.merchantId, merchant.merchantId), eq(payments.merchantOrderNo, req.merchant_order_no)));
    expect(row!.n).toBe(1);
  });

  it("refuses a second payment for the same merchant order no under another key", async () => {
    const req = params();
    await client.createPayment(req, { idempotencyKey: randomUUID() });
    await expect(client.createPayment(req, { idempotencyKey: randomUUID() })).rejects.toMatchObject({ status: 409, code: "payment.duplicate_order_no" });
  });
});

describe("pre-orders and pay links", () => {
  it("creates an unpaid order with a pay link that pays it once", async () => {
    const order = await client.createOrder(params(), { idempotencyKey: randomUUID() });
    expect(order.status).toBe("awaiting_payment");
    expect(order.pay_url).toMatch(/\/v1\/pay\/pay_/);
    const page = await fetch(order.pay_url!);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<form method=\"post\">");
    const paid = await fetch(order.pay_url!, { method: "POST" });
    expect(paid.status).toBe(200);
    expect(((await paid.json()) as Payment).status).toBe("risk_review");
    const again = await fetch(order.pay_url!, { method: "POST" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("payment.invalid_state");
    const detail = await client.getPayment(order.id);
    expect(detail.timeline.map((t) => t.cause)).toEqual(["api", "pay_link"]);
  });

  it("refuses a cached pay link used after the allowed interval, and a forged one", async () => {
    const order = await client.createOrder(params(), { idempotencyKey: randomUUID() });
    const forged = order.pay_url!.replace(/\.[A-Za-z0-9_-]{32}$/, `.${"A".repeat(32)}`);
    expect((await fetch(forged, { method: "POST" })).status).toBe(404);
    await new Promise((r) => setTimeout(r, 3_100)); // PAY_LINK_TTL_SECONDS=2 in this test
    const late = await fetch(order.pay_url!, { method: "POST" });
    expect(late.status).toBe(410);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe("payment.pay_link_expired");
    expect((await client.getPayment(order.id)).status).toBe("awaiting_payment");
  });

  it("expires unpaid orders past their expiry", async () => {
    const order = await client.createOrder(params(), { idempotencyKey: randomUUID() });
    await db.update(payments).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(payments.id, order.id));
    const expired = await waitForStatus(client, order.id, "expired");
    expect(expired.timeline.at(-1)).toMatchObject({ from: "awaiting_payment", to: "expired", cause: "expiry" });
  });
});

describe("the events feed", () => {
  it("pages through this merchant's events in order, and only this merchant's", async () => {
    const m = await createTestMerchant(api.url);
    const c = clientFor(m);
    const created = await Promise.all([1, 2, 3].map(() => c.createPayment(params(), { idempotencyKey: randomUUID() })));
    await new Promise((r) => setTimeout(r, 1_300)); // the feed serves events once they are a second old
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

describe("hostile and malformed requests", () => {
  type Case = { name: string; status: number; code: string; send: () => Promise<{ status: number; body: unknown }> };
  const raw = (body: string, headers: Record<string, string> = {}) => async () => {
    const res = await fetch(`${api.url}/v1/payments`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
    return { status: res.status, body: await res.json() };
  };
  const signed = (body: Record<string, unknown>, opts: { key?: string | null; nonce?: string; timestamp?: number; m?: TestMerchant; headers?: Record<string, string> } = {}) => async () => {
    const c = opts.m ? clientFor(opts.m) : client;
    const r = await c.request("POST", "/v1/payments", { body, ...(opts.key === null ? {} : { idempotencyKey: opts.key ?? randomUUID() }), ...(opts.nonce ? { nonce: opts.nonce } : {}), ...(opts.timestamp ? { timestamp: opts.timestamp } : {}), ...(opts.headers ? { headers: opts.headers } : {}) }).catch((e: unknown) => {
      throw e;
    });
    return { status: r.status, body: r.body };
  };
  const base = () => params() as unknown as Record<string, unknown>;
  const field = (patch: Record<string, unknown>) => signed({ ...base(), ...patch });
  const bad = (name: string, patch: Record<string, unknown>, code = "request.validation_failed", status = 400): Case => ({ name, status, code, send: field(patch) });

  const replayNonce = randomBytes(16).toString("hex");
  let frozenPayer: string;
  let suspended: TestMerchant;
  let narrow: TestMerchant;

  beforeAll(async () => {
    frozenPayer = `u_frozen_${randomBytes(4).toString("hex")}`;
    await setPayerStatus(api.url, frozenPayer, "frozen");
    suspended = await createTestMerchant(api.url);
    await fetch(`${api.url}/v1/admin/merchants/${suspended.merchantId}`, { method: "PATCH", headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: JSON.stringify({ status: "suspended" }) });
    narrow = await createTestMerchant(api.url, { products: ["platform_pay"] });
    await client.createPayment(params(), { idempotencyKey: randomUUID() }); // uses a nonce below
  });

  const cases: Case[] = [
    bad("amount as a string", { amount: "100" }),
    bad("negative amount", { amount: -100 }),
    bad("zero amount", { amount: 0 }),
    bad("fractional amount", { amount: 10.5 }),
    bad("amount beyond safe integers", { amount: 2 ** 60 }),
    bad("amount as NaN-ish string", { amount: "NaN" }),
    bad("unknown currency", { currency: "XXX" }),
    bad("lower-case currency", { currency: "cny" }),
    { name: "currency the product does not take", status: 400, code: "payment.currency_not_supported", send: field({ currency: "USD" }) },
    { name: "amount over the product limit", status: 400, code: "payment.amount_out_of_range", send: field({ product: "carrier_billing", amount: 50_001 }) },
    { name: "product not offered here", status: 400, code: "request.validation_failed", send: field({ product: "credit_pay" }) },
    bad("missing merchant order no", { merchant_order_no: undefined }),
    bad("SQL-ish merchant order no", { merchant_order_no: "1'; DROP TABLE payment.payments; --" }),
    bad("overlong merchant order no", { merchant_order_no: "x".repeat(65) }),
    bad("empty subject", { subject: "" }),
    bad("subject with control characters", { subject: "a\u0000b" }),
    bad("overlong subject", { subject: "s".repeat(129) }),
    bad("notify_url not a URL", { notify_url: "not a url" }),
    bad("notify_url javascript:", { notify_url: "javascript:alert(1)" }),
    bad("notify_url ftp", { notify_url: "ftp://shop.example/n" }),
    bad("notify_url relative", { notify_url: "/notify" }),
    bad("return_url with credentials", { return_url: "https://user:pw@shop.example/r" }),
    bad("payer missing", { payer: undefined }),
    bad("payer id SQL-ish", { payer: { id: "' OR 1=1 --" } }),
    bad("payer ip malformed", { payer: { id: "u1", ip: "999.1.1.1" } }),
    bad("payer phone malformed", { payer: { id: "u1", phone: "call me" } }),
    bad("unknown top-level field", { surprise: true }),
    bad("bank code lower-case", { method: { bank_code: "cmb" } }),
    { name: "online banking without a bank", status: 400, code: "request.validation_failed", send: field({ method: {} }) },
    { name: "carrier billing without a phone", status: 400, code: "request.validation_failed", send: field({ product: "carrier_billing", amount: 500, payer: { id: "u1" }, method: {} }) },
    bad("expiry too short", { expires_in: 5 }),
    bad("metadata value not a string", { metadata: { a: 1 } }),
    { name: "body not JSON", status: 400, code: "request.invalid_json", send: raw("{not json") },
    { name: "body a JSON array", status: 400, code: "request.validation_failed", send: raw("[1,2,3]") },
    { name: "huge body", status: 413, code: "request.body_too_large", send: raw(JSON.stringify({ subject: "x".repeat(200_000) })) },
    { name: "wrong content type", status: 415, code: "request.unsupported_media_type", send: async () => { const r = await fetch(`${api.url}/v1/payments`, { method: "POST", headers: { "content-type": "text/plain" }, body: "amount=1" }); return { status: r.status, body: await r.json() }; } },
    { name: "no signature headers", status: 401, code: "auth.signature_missing", send: raw(JSON.stringify(params())) },
    { name: "wrong signature", status: 401, code: "auth.signature_invalid", send: signed(base(), { headers: { "x-signature": "0".repeat(64) } }) },
    { name: "signature scheme mismatch", status: 401, code: "auth.signature_invalid", send: signed(base(), { headers: { "x-sign-type": "MD5" } }) },
    { name: "stale timestamp", status: 401, code: "auth.timestamp_out_of_window", send: signed(base(), { timestamp: Math.floor(Date.now() / 1000) - 3_600 }) },
    { name: "future timestamp", status: 401, code: "auth.timestamp_out_of_window", send: signed(base(), { timestamp: Math.floor(Date.now() / 1000) + 3_600 }) },
    { name: "malformed nonce", status: 401, code: "auth.signature_invalid", send: signed(base(), { nonce: "short" }) },
    { name: "unknown merchant", status: 401, code: "merchant.unknown", send: signed(base(), { m: { merchantId: "m_nobody", scheme: "HMAC_SHA256", secretKey: "x" } }) },
    { name: "missing idempotency key", status: 400, code: "request.idempotency_key_missing", send: signed(base(), { key: null }) },
    { name: "suspended merchant", status: 403, code: "merchant.inactive", send: async () => signed(base(), { m: suspended })() },
    { name: "product not enabled for merchant", status: 403, code: "merchant.product_not_enabled", send: async () => signed(base(), { m: narrow })() },
    { name: "frozen payer", status: 403, code: "payer.frozen", send: async () => field({ payer: { id: frozenPayer } })() },
  ];

  it(`answers each of ${cases.length} hostile requests with its 4xx code and leaves no rows behind`, async () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    const countRows = async () => {
      const [p] = await db.select({ n: count() }).from(payments);
      const [t] = await db.select({ n: count() }).from(paymentTransitions);
      const [i] = await db.select({ n: count() }).from(idempotencyKeys);
      const [n] = await db.select({ n: count() }).from(requestNonces).where(eq(requestNonces.merchantId, merchant.merchantId));
      return { payments: p!.n, transitions: t!.n, idempotency: i!.n, nonces: n!.n };
    };
    // Other tests in this file run sequentially, so row counts only change through these requests.
    await new Promise((r) => setTimeout(r, 300));
    const before = await countRows();
    const [o] = await db.select({ n: count() }).from(paymentOutbox);
    for (const c of cases) {
      const res = await c.send();
      expect({ case: c.name, status: res.status, code: (res.body as { error?: { code?: string } }).error?.code }).toEqual({ case: c.name, status: c.status, code: c.code });
    }
    expect(await countRows()).toEqual(before);
    const [o2] = await db.select({ n: count() }).from(paymentOutbox);
    expect(o2!.n).toBeLessThanOrEqual(o!.n); // the relay only ever removes rows
  });

  it("refuses a replayed nonce", async () => {
    const first = await signed(base(), { nonce: replayNonce })();
    expect(first.status).toBe(201);
    const replay = await signed(base(), { nonce: replayNonce })();
    expect(replay).toMatchObject({ status: 401, body: { error: { code: "auth.nonce_replayed" } } });
  });
});

describe("API reference", () => {
  it("serves an OpenAPI 3.1 document built from the request schemas, and a rendered page", async () => {
    const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: { "application/json": { schema: { properties: Record<string, { type?: string }>; required: string[] } } } } }>>;
      "x-error-codes": { code: string; status: number }[];
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/payments", "/v1/orders", "/v1/payments/{id}", "/v1/payments/{id}/verify", "/v1/pay/{token}"]));
    const create = doc.paths["/v1/payments"]!.post!.requestBody!.content["application/json"].schema;
    expect(create.properties.amount?.type).toBe("integer");
    expect(create.required).toEqual(expect.arrayContaining(["merchant_order_no", "product", "amount", "currency", "notify_url", "return_url"]));
    expect(doc["x-error-codes"]).toContainEqual({ code: "request.idempotency_key_reused", status: 409 });
    const page = await fetch(`${api.url}/docs`);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toContain("POST /v1/payments");
  });
});

describe("configuration", () => {
  it("refuses development secrets in production, naming each variable", async () => {
    const { spawnApp, testAppEnv } = await import("@pps/test-support");
    const { exited, output } = spawnApp("payment-api", testAppEnv({ NODE_ENV: "production" }));
    expect(await exited).toBe(78);
    for (const name of ["ADMIN_TOKEN", "INTERNAL_TOKEN", "PAY_LINK_SECRET", "PLATFORM_SIGNING_PRIVATE_KEY"]) expect(output()).toContain(`${name}: must be set`);
  });
});
