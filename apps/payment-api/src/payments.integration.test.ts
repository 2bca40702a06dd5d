import { randomBytes, randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@pps/db";
import { payments } from "@pps/db/schema";
import {
  channelEvents,
  type EventPublisher,
  makeEnvelope,
  TOPICS,
  type AttemptResult,
  type RiskDecision,
} from "@pps/messaging";
import type { PaymentsClient, Payment, PaymentDetail } from "@pps/sdk";
import { waitFor, type TestMerchant } from "@pps/test-support";
import { paymentParams, processApi, riskDecisionEnvelope } from "./payment-api-test-kit.ts";

/**
 * payment-api as a real process against real Postgres and Kafka. Risk decisions and channel results are
 * published here as risk-stub and the router would; the whole pipeline runs in tests/e2e. What needs no other
 * process (signatures, idempotency, pay links, the events feed, load shedding, hostile requests) is tested
 * in-process: merchant-api.integration.test.ts, http/hostile-requests.test.ts.
 */
let db: Database;
let publisher: EventPublisher;
let merchant: TestMerchant;
let client: PaymentsClient;

const params = paymentParams;

async function publishDecision(
  paymentId: string,
  merchantId: string,
  outcome: RiskDecision["outcome"],
  reasons: string[] = [],
) {
  const envelope = riskDecisionEnvelope(paymentId, merchantId, outcome, reasons);
  await publisher.publish(TOPICS.riskDecisions.name, [envelope]);
  return envelope;
}

async function publishAttempt(p: Pick<Payment, "id" | "amount" | "currency">, overrides: Partial<AttemptResult>) {
  const payload: AttemptResult = {
    paymentId: p.id,
    attemptId: `att_${randomBytes(6).toString("hex")}`,
    attemptNo: 1,
    channel: "bank_direct",
    outcome: "succeeded",
    channelTxnId: `tx_${randomBytes(6).toString("hex")}`,
    amount: p.amount,
    currency: p.currency,
    settlement: null,
    action: null,
    failureCode: null,
    failureMessage: null,
    willRetry: false,
    occurredAt: new Date().toISOString(),
    authorizationExpiresAt: null,
    reportedAmount: null,
    reportedCurrency: null,
    ...overrides,
  };
  const envelope = makeEnvelope({ type: channelEvents.attemptResult.type, version: 2, aggregateId: p.id, payload });
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

let env: Awaited<ReturnType<typeof processApi>>;

beforeAll(async () => {
  env = await processApi("payapi");
  ({ db, publisher, merchant, client } = env);
});

afterAll(async () => {
  await env?.stop();
});

describe("creating and following a payment", () => {
  it("moves through risk allow, a redirect action and channel success, keeping every transition", async () => {
    const p = await client.createPayment(params(), { idempotencyKey: randomUUID() });
    const decision = await publishDecision(p.id, merchant.merchantId, "allow");
    await waitForStatus(client, p.id, "processing");
    await publisher.publish(TOPICS.riskDecisions.name, [decision]); // redelivered: must change nothing
    await publishAttempt(p, {
      outcome: "requires_action",
      action: { type: "redirect", url: "http://127.0.0.1:7105/bank/pages/tx1" },
    });
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
    await publishAttempt(p, {
      outcome: "failed",
      attemptNo: 2,
      channel: "unionpay",
      failureCode: "card_declined",
      failureMessage: "Do not honour",
    });
    const done = await waitForStatus(client, p.id, "failed");
    expect(done.failure?.code).toBe("card_declined");
    expect(done.attempts.map((a) => [a.attempt_no, a.outcome])).toEqual([
      [1, "failed"],
      [2, "failed"],
    ]);
  });
});

describe("unpaid orders", () => {
  it("expires unpaid orders past their expiry", async () => {
    const order = await client.createOrder(params(), { idempotencyKey: randomUUID() });
    await db.update(payments).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(payments.id, order.id));
    const expired = await waitForStatus(client, order.id, "expired");
    expect(expired.timeline.at(-1)).toMatchObject({ from: "awaiting_payment", to: "expired", cause: "expiry" });
  });
});

describe("configuration", () => {
  it("refuses development secrets in production, naming each variable", async () => {
    const { spawnApp, testAppEnv } = await import("@pps/test-support");
    const { exited, output } = spawnApp("payment-api", testAppEnv({ NODE_ENV: "production" }));
    expect(await exited).toBe(78);
    for (const name of ["ADMIN_TOKEN", "INTERNAL_TOKEN", "PAY_LINK_SECRET", "PLATFORM_SIGNING_PRIVATE_KEY"])
      expect(output()).toContain(`${name}: must be set`);
  });
});
