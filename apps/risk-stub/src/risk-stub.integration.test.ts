import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskDecisions, riskInbox, riskPayerActivity } from "@pps/db/schema";
import { newId } from "@pps/domain";
import { createLogger } from "@pps/logger";
import {
  createKafka,
  EventConsumer,
  EventPublisher,
  eventRegistry,
  makeEnvelope,
  paymentEvents,
  paymentEventsV1,
  paymentInternalEvents,
  TOPICS,
  type Envelope,
  type EventDefinition,
  type InternalPaymentSnapshot,
  type PaymentSnapshot,
  type RiskDecision,
} from "@pps/messaging";
import {
  type IsolatedEnvironment,
  isolatedEnvironment,
  startApp,
  TEST_KAFKA_BROKERS,
  waitFor,
  type AppProcess,
} from "@pps/test-support";
import { INBOX_CONSUMER } from "./payment-events-consumer.ts";
import { snapshot } from "./risk-test-kit.ts";

const ADMIN_TOKEN = `test-admin-${randomUUID()}`;
const logger = createLogger({ service: "risk-stub-test", level: "silent" });
const kafka = createKafka({ brokers: TEST_KAFKA_BROKERS.split(","), clientId: "pps-risk-stub-test", logger });
/** This file's own database and topics: a risk-stub started by another file must not decide its payments. */
let isolated: IsolatedEnvironment;
let publisher: EventPublisher;
const decided = new Map<string, Envelope<RiskDecision>[]>();
let reader: EventConsumer;
const startReader = () =>
  new EventConsumer({
    kafka,
    groupId: `risk-stub-test-reader-${randomUUID()}`,
    topics: [TOPICS.riskDecisions.name],
    registry: eventRegistry,
    logger,
    topicPrefix: isolated.topicPrefix,
    handler: async (envelope) => {
      const d = envelope as Envelope<RiskDecision>;
      decided.set(d.payload.paymentId, [...(decided.get(d.payload.paymentId) ?? []), d]);
    },
  });

let app: AppProcess;
let db: Database;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function paymentEnvelope<P>(
  payment: P & { paymentId: string },
  def: EventDefinition = paymentInternalEvents.created,
  aggregateId = payment.paymentId,
): Envelope<P> {
  return makeEnvelope({ type: def.type, version: def.version, aggregateId, payload: payment });
}

/** Publishes on the restricted internal topic, where payment-api announces what risk decides on. */
async function publish(...envelopes: Envelope[]): Promise<void> {
  await publisher.publish(TOPICS.paymentInternal.name, envelopes);
}

async function decisionFor(paymentId: string): Promise<RiskDecision> {
  await waitFor(async () => decided.has(paymentId), {
    what: `risk.decided for ${paymentId}`,
    timeoutMs: 20_000,
    intervalMs: 25,
  });
  return decided.get(paymentId)![0]!.payload;
}

/** Publishes payments and returns their decisions as [outcome, reasons]. */
async function decide(...payments: InternalPaymentSnapshot[]): Promise<[string, string[]][]> {
  await publish(...payments.map((p) => paymentEnvelope(p)));
  return Promise.all(
    payments.map(async (p) => {
      const d = await decisionFor(p.paymentId);
      return [d.outcome, d.reasons] as [string, string[]];
    }),
  );
}

function admin(
  method: string,
  path: string,
  body?: unknown,
  { token = ADMIN_TOKEN, contentType = "application/json" }: { token?: string | null; contentType?: string } = {},
) {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = contentType;
  return fetch(`${app.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  isolated = await isolatedEnvironment("risk");
  db = isolated.db;
  publisher = new EventPublisher(kafka, isolated.topicPrefix);
  reader = startReader();
  await publisher.start();
  await reader.start();
  app = await startApp("risk-stub", { ...isolated.env, ADMIN_TOKEN, RULES_REFRESH_MS: "200" });
  await waitFor(async () => (await fetch(`${app.url}/readyz`)).ok, { what: "risk-stub /readyz", timeoutMs: 30_000 });
});

afterAll(async () => {
  const stopped = await app?.stop();
  await reader?.stop();
  await publisher?.stop();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

describe("risk-stub decisions through Kafka and Postgres", () => {
  it("allows an ordinary payment, records the decision and serves it to admins", async () => {
    const p = snapshot();
    expect(await decide(p)).toEqual([["allow", []]]);
    const event = decided.get(p.paymentId)![0]!;
    expect(event.type).toBe("risk.decided");
    expect(event.aggregateId).toBe(p.paymentId);
    expect(event.payload).toMatchObject({
      paymentId: p.paymentId,
      merchantId: "m_risk_test",
      outcome: "allow",
      reasons: [],
    });

    const res = await admin("GET", `/v1/risk/decisions/${p.paymentId}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      paymentId: p.paymentId,
      decisionId: event.payload.decisionId,
      outcome: "allow",
      reasons: [],
      payerId: p.payer.id,
    });
    expect(body.rulesVersion).toEqual(expect.any(Number));
    expect(body.inputs).toMatchObject({
      amount: 12_900,
      currency: "CNY",
      deviceId: p.payer.deviceId,
      paidBefore: false,
      paymentsInWindow: 1,
    });
  });

  it("blocks over the hard limit and challenges over the soft limit (limits inclusive)", async () => {
    const results = await decide(
      snapshot({ amount: 5_000_001 }),
      snapshot({ amount: 500_001 }),
      snapshot({ amount: 500_000 }),
    );
    expect(results).toEqual([
      ["block", ["amount_over_hard_limit", "amount_over_soft_limit"]],
      ["challenge", ["amount_over_soft_limit"]],
      ["allow", []],
    ]);
  });

  it("blocks blocklisted payers, devices and IPs, and unblocking takes effect", async () => {
    const payer = `u_bad_${randomUUID()}`;
    // A second blocklisted payer for the all-three case: a payer's second device would also be "new".
    const payer2 = `u_bad_${randomUUID()}`;
    const device = `dev_bad_${randomUUID()}`;
    const ip = `2001:db8::${Math.floor(Math.random() * 0xffff).toString(16)}`;
    for (const entry of [
      { kind: "payer", value: payer, reason: "chargebacks" },
      { kind: "payer", value: payer2, reason: "chargebacks" },
      { kind: "device", value: device, reason: "emulator farm" },
      { kind: "ip", value: ip.toUpperCase(), reason: "botnet" },
    ]) {
      const res = await admin("POST", "/v1/risk/blocklist", entry);
      expect(res.status).toBe(201);
    }
    const again = await admin("POST", "/v1/risk/blocklist", {
      kind: "payer",
      value: payer,
      reason: "chargebacks, confirmed",
    });
    expect(again.status).toBe(200);
    const listed = (await (await admin("GET", "/v1/risk/blocklist?kind=ip&limit=1000")).json()) as {
      entries: { value: string }[];
    };
    expect(listed.entries.map((e) => e.value)).toContain(ip);

    const byPayer = snapshot({ payer: { id: payer } });
    const results = await decide(
      byPayer,
      snapshot({ payer: { deviceId: device } }),
      snapshot({ payer: { ip } }),
      snapshot({ payer: { id: payer2, deviceId: device, ip } }),
    );
    expect(results).toEqual([
      ["block", ["payer_blocklisted"]],
      ["block", ["device_blocklisted"]],
      ["block", ["ip_blocklisted"]],
      ["block", ["payer_blocklisted", "device_blocklisted", "ip_blocklisted"]],
    ]);

    expect((await admin("DELETE", `/v1/risk/blocklist/payer/${encodeURIComponent(payer)}`)).status).toBe(204);
    expect((await admin("DELETE", `/v1/risk/blocklist/payer/${encodeURIComponent(payer)}`)).status).toBe(404);
    expect(await decide(snapshot({ payer: { id: payer, deviceId: byPayer.payer.deviceId } }))).toEqual([["allow", []]]);
  });

  it("challenges a payer's new device, but not their first payment or a known device", async () => {
    const payer = `u_${randomUUID()}`;
    expect(await decide(snapshot({ payer: { id: payer, deviceId: "dev_phone" } }))).toEqual([["allow", []]]);
    expect(await decide(snapshot({ payer: { id: payer, deviceId: "dev_laptop" } }))).toEqual([
      ["challenge", ["new_device"]],
    ]);
    expect(await decide(snapshot({ payer: { id: payer, deviceId: "dev_phone" } }))).toEqual([["allow", []]]);
    expect(await decide(snapshot({ payer: { id: payer, deviceId: "dev_laptop" } }))).toEqual([["allow", []]]);
  });

  it("challenges the 6th payment of a payer within 60 s (velocity), counting concurrent payments exactly", async () => {
    const payer = { id: `u_${randomUUID()}`, deviceId: `dev_${randomUUID()}` };
    // Five at once: different payment ids land on different partitions and consumer members.
    const first = await decide(...Array.from({ length: 5 }, () => snapshot({ payer })));
    expect(first).toEqual(Array.from({ length: 5 }, () => ["allow", []]));
    expect(await decide(snapshot({ payer }))).toEqual([["challenge", ["velocity_exceeded"]]]);
    const [activity] = await db.select().from(riskPayerActivity).where(eq(riskPayerActivity.payerId, payer.id));
    expect(activity?.payments).toBe(6);
  });

  it("decides one payer's payments published together in their order (one chunk: velocity and devices in order)", async () => {
    const payer = `u_${randomUUID()}`;
    const devices = ["dev_a", "dev_b", "dev_a", "dev_a", "dev_a", "dev_b", "dev_c"];
    const payments = devices.map((deviceId) => snapshot({ payer: { id: payer, deviceId } }));
    // One key, so one partition and, in order, most likely one chunk; a payment's duplicate rides along.
    const envelopes = payments.map((p) => paymentEnvelope(p, paymentInternalEvents.created, payments[0]!.paymentId));
    await publish(...envelopes, envelopes[1]!);
    const results = await Promise.all(payments.map((p) => decisionFor(p.paymentId)));
    expect(results.map((d) => [d.outcome, d.reasons])).toEqual([
      ["allow", []],
      ["challenge", ["new_device"]],
      ["allow", []],
      ["allow", []],
      ["allow", []],
      ["challenge", ["velocity_exceeded"]],
      ["challenge", ["new_device", "velocity_exceeded"]],
    ]);
    await sleep(300);
    expect(payments.map((p) => decided.get(p.paymentId)?.length)).toEqual(payments.map(() => 1));
    const [activity] = await db.select().from(riskPayerActivity).where(eq(riskPayerActivity.payerId, payer));
    expect(activity?.payments).toBe(7);
  });

  it("decides a redelivered event once and publishes one decision", async () => {
    const p = snapshot();
    const envelope = paymentEnvelope(p);
    // The same envelope twice (a producer retry), then a second event for the same payment in review.
    await publish(envelope);
    await publish(envelope);
    await publish(paymentEnvelope(p, paymentInternalEvents.submitted));
    // A marker on the same key (so the same partition, after the others): once it is decided, they were handled.
    const marker = snapshot();
    await publish(paymentEnvelope(marker, paymentInternalEvents.created, p.paymentId));
    await decisionFor(marker.paymentId);
    await decisionFor(p.paymentId);
    await sleep(300);

    expect(decided.get(p.paymentId)).toHaveLength(1);
    expect(await db.select().from(riskDecisions).where(eq(riskDecisions.paymentId, p.paymentId))).toHaveLength(1);
    const [activity] = await db.select().from(riskPayerActivity).where(eq(riskPayerActivity.payerId, p.payer.id));
    expect(activity?.payments).toBe(1);
    const claims = await db.select().from(riskInbox).where(eq(riskInbox.messageId, envelope.id));
    expect(claims.map((c) => c.consumer)).toEqual([INBOX_CONSUMER]);
  });

  it("ignores payment events that are not in risk review", async () => {
    const p = snapshot({ status: "processing", previousStatus: "risk_review", version: 2 });
    const marker = snapshot();
    await publish(
      paymentEnvelope(p, paymentInternalEvents.processing),
      paymentEnvelope(marker, paymentInternalEvents.created, p.paymentId),
    );
    await decisionFor(marker.paymentId);
    expect(decided.has(p.paymentId)).toBe(false);
  });

  it("of the public topic takes only retired v1 events (a rollout's leftovers, contact data included), never v2", async () => {
    const withoutContact = snapshot();
    const publicV2: PaymentSnapshot = { ...withoutContact, payer: { id: withoutContact.payer.id } };
    const legacy = snapshot();
    // One key, so one partition in this order: once the v1 event is decided, the v2 one before it was seen.
    await publisher.publish(TOPICS.paymentEvents.name, [
      paymentEnvelope(publicV2, paymentEvents.created),
      paymentEnvelope(legacy, paymentEventsV1.created, publicV2.paymentId),
    ]);
    expect((await decisionFor(legacy.paymentId)).outcome).toBe("allow");
    const record = (await (await admin("GET", `/v1/risk/decisions/${legacy.paymentId}`)).json()) as {
      inputs: Record<string, unknown>;
    };
    expect(record.inputs).toMatchObject({
      deviceId: legacy.payer.deviceId,
      ip: legacy.payer.ip,
      eventType: "payment.created",
    });
    await sleep(300);
    expect(decided.has(publicV2.paymentId)).toBe(false);
  });

  it("applies a rules update from the admin API, keeping the old version", async () => {
    const current = (await (await admin("GET", "/v1/risk/rules")).json()) as {
      version: number;
      config: { amountLimits: Record<string, unknown> };
    };
    const updated = {
      ...current.config,
      amountLimits: { ...current.config.amountLimits, JPY: { softLimit: 1_000, hardLimit: 10_000 } },
    };
    const put = await admin("PUT", "/v1/risk/rules", updated);
    expect(put.status).toBe(200);
    const saved = (await put.json()) as { version: number; config: unknown };
    expect(saved.version).toBeGreaterThan(current.version);
    expect(saved.config).toEqual(updated);
    expect(((await (await admin("GET", "/v1/risk/rules")).json()) as { version: number }).version).toBe(saved.version);
    expect(
      ((await (await admin("GET", `/v1/risk/rules?version=${current.version}`)).json()) as { config: unknown }).config,
    ).toEqual(current.config);

    try {
      const over = snapshot({ currency: "JPY", amount: 10_001 });
      expect(
        await decide(over, snapshot({ currency: "JPY", amount: 1_001 }), snapshot({ currency: "JPY", amount: 1_000 })),
      ).toEqual([
        ["block", ["amount_over_hard_limit", "amount_over_soft_limit"]],
        ["challenge", ["amount_over_soft_limit"]],
        ["allow", []],
      ]);
      const record = (await (await admin("GET", `/v1/risk/decisions/${over.paymentId}`)).json()) as {
        rulesVersion: number;
      };
      expect(record.rulesVersion).toBe(saved.version);
    } finally {
      expect((await admin("PUT", "/v1/risk/rules", current.config)).status).toBe(200);
    }
  });
});

describe("risk-stub admin API", () => {
  type ErrorBody = { error: { code: string; message: string; details?: { path: string }[] } };
  const rulesVersion = async () =>
    ((await (await admin("GET", "/v1/risk/rules")).json()) as { version: number }).version;

  it("requires the admin bearer token", async () => {
    for (const token of [null, "wrong-token-123456"]) {
      const res = await admin("GET", "/v1/risk/rules", undefined, { token });
      expect(res.status).toBe(401);
      expect(((await res.json()) as ErrorBody).error.code).toBe("auth.admin_token_invalid");
    }
    expect((await admin("GET", `/v1/risk/decisions/${newId("pay")}`, undefined, { token: null })).status).toBe(401);
  });

  it("rejects malformed rules with a stable code and writes nothing", async () => {
    const before = await rulesVersion();
    const current = (await (await admin("GET", "/v1/risk/rules")).json()) as { config: Record<string, unknown> };
    const cases: [unknown, number, string, string?][] = [
      [
        { ...current.config, amountLimits: { CNY: { softLimit: 10, hardLimit: 9 } } },
        400,
        "request.validation_failed",
        "amountLimits.CNY.softLimit",
      ],
      [
        { ...current.config, velocity: { enabled: true, maxPayments: 2.5, windowSeconds: 60 } },
        400,
        "request.validation_failed",
        "velocity.maxPayments",
      ],
      [{ ...current.config, surprise: true }, 400, "request.validation_failed"],
      ["{not json", 400, "request.invalid_json"],
    ];
    for (const [body, status, code, path] of cases) {
      const res = await admin("PUT", "/v1/risk/rules", body);
      expect(res.status).toBe(status);
      const err = (await res.json()) as ErrorBody;
      expect(err.error.code).toBe(code);
      if (path) expect(err.error.details?.map((d) => d.path)).toContain(path);
    }
    const wrongType = await admin("PUT", "/v1/risk/rules", JSON.stringify(current.config), {
      contentType: "text/plain",
    });
    expect(wrongType.status).toBe(415);
    expect(await rulesVersion()).toBe(before);
  });

  it("rejects malformed blocklist entries and writes nothing", async () => {
    const value = `not-an-ip-${randomUUID()}`;
    for (const body of [
      { kind: "email", value, reason: "spam" },
      { kind: "ip", value, reason: "botnet" },
      { kind: "payer", value, reason: "" },
      { kind: "payer", value },
    ]) {
      const res = await admin("POST", "/v1/risk/blocklist", body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error.code).toBe("request.validation_failed");
    }
    const all = (await (await admin("GET", "/v1/risk/blocklist?limit=1000")).json()) as {
      entries: { value: string }[];
    };
    expect(all.entries.some((e) => e.value === value)).toBe(false);
    const badKind = await admin("DELETE", `/v1/risk/blocklist/email/${value}`);
    expect(badKind.status).toBe(400);
    expect((await admin("GET", "/v1/risk/blocklist?kind=email")).status).toBe(400);
  });

  it("answers 404 for a payment without a decision", async () => {
    const res = await admin("GET", `/v1/risk/decisions/${newId("pay")}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.code).toBe("request.not_found");
  });

  it("counts decisions by outcome in /metrics", async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    for (const outcome of ["allow", "challenge", "block"]) {
      expect(text).toMatch(new RegExp(`risk_decisions_total\\{[^}]*outcome="${outcome}"[^}]*\\} [1-9]`));
    }
  });
});
