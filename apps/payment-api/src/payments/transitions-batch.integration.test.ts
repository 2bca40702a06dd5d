import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@pps/db";
import { channelEvents, makeEnvelope, TOPICS, type AttemptResult, type RiskDecision } from "@pps/messaging";
import { isolatedDatabase } from "@pps/test-support";
import { createLogger } from "@pps/logger";
import { attemptIdOf } from "@pps/domain";
import { createChannelResultBatchHandler } from "../consumers/channel-results.ts";
import { createRiskDecisionBatchHandler } from "../consumers/risk-decisions.ts";
import type { CallbackResult } from "@pps/channels";
import { acceptOne } from "./accept-batch.ts";
import { type CallbackItem, createCallbackApplier } from "./callback-batch.ts";
import { transitionMany } from "./transitions-batch.ts";
import { riskDecisionEnvelope } from "../payment-api-test-kit.ts";

/** Set-based transitions and the batch consumers against real Postgres. */
/** Its own database: a payment-api started by another test file relays (and deletes) the shared one's outbox rows. */
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let db: Database;
const merchantId = `m_tb_${randomBytes(4).toString("hex")}`;
const hex = (n = 6) => randomBytes(n).toString("hex");
const ctx = { topic: "t", partition: 0, offset: "0" };
let notified = 0;
const relay = { notify: () => void notified++ };

async function newPayment(): Promise<string> {
  const id = `pay_${hex(13).toUpperCase()}`;
  await acceptOne(db, {
    merchantId,
    key: `k_${hex()}`,
    hash: "h",
    nonce: null,
    requestId: "req",
    values: {
      id,
      merchantId,
      merchantOrderNo: `o_${hex()}`,
      product: "online_banking",
      amount: 500,
      currency: "CNY",
      subject: "s",
      status: "risk_review",
      captureMethod: "automatic",
      payerId: `u_${hex()}`,
      payerIp: null,
      payerDeviceId: null,
      payerPhone: null,
      method: { bankCode: "CMB", cardType: null, wallet: null, flow: null },
      notifyUrl: "https://shop.example/n",
      returnUrl: "https://shop.example/r",
      metadata: {},
      expiresAt: new Date(Date.now() + 600_000),
    },
  });
  return id;
}

async function state(id: string) {
  const [p] = await db.$client<
    { status: string; version: number; channel: string | null; failure_code: string | null; action: unknown }[]
  >`
    select status, version, channel, failure_code, action from payment.payments where id = ${id}`;
  const trail = await db.$client<{ from_status: string | null; to_status: string; version: number; cause: string }[]>`
    select from_status, to_status, version, cause from payment.payment_transitions where payment_id = ${id} order by version`;
  // `outbox`: public events; `internal`: their restricted twins (risk review, processing).
  const [o] = await db.$client<{ n: number; internal: number }[]>`
    select count(*) filter (where topic = ${TOPICS.paymentEvents.name})::int as n, count(*) filter (where topic = ${TOPICS.paymentInternal.name})::int as internal
    from payment.outbox where key = ${id}`;
  return {
    ...p!,
    trail: trail.map((t) => `${t.from_status ?? "-"}>${t.to_status}@${t.version}:${t.cause}`),
    outbox: o!.n,
    internal: o!.internal,
  };
}

beforeAll(async () => {
  isolated = await isolatedDatabase("transitions");
  db = isolated.db;
});
afterAll(async () => {
  await isolated.close();
});

describe("transitionMany", () => {
  it("applies what the state machine allows, refuses the rest, and audits and announces each change once", async () => {
    const [a, b, c] = [await newPayment(), await newPayment(), await newPayment()];
    const cause = { cause: "test", causeRef: "r1" };
    const done = await db.$client.begin((sql) =>
      transitionMany(sql, [
        { paymentId: a, to: "processing", cause },
        { paymentId: b, to: "succeeded", cause }, // risk_review → succeeded is not a transition
        {
          paymentId: a,
          to: "requires_action",
          cause,
          onlyFrom: ["processing"],
          patch: { channel: "wechat", action: { type: "qr_code", payload: "weixin://x" } },
        },
        { paymentId: c, to: "failed", cause, onlyFrom: ["processing"] }, // c is in risk_review
        { paymentId: a, to: "failed", cause, onlyFrom: ["processing"] }, // a has moved on to requires_action
        { paymentId: "pay_DOESNOTEXIST", to: "processing", cause },
      ]),
    );
    expect(done.map((d) => d && `${d.previous}>${d.row.status}@${d.row.version}`)).toEqual([
      "risk_review>processing@2",
      null,
      "processing>requires_action@3",
      null,
      null,
      null,
    ]);
    expect(await state(a)).toEqual({
      status: "requires_action",
      version: 3,
      channel: "wechat",
      failure_code: null,
      action: { type: "qr_code", payload: "weixin://x" },
      trail: ["->risk_review@1:api", "risk_review>processing@2:test", "processing>requires_action@3:test"],
      outbox: 3,
      internal: 2,
    });
    expect((await state(b)).trail).toEqual(["->risk_review@1:api"]);
    expect((await state(c)).outbox).toBe(1);
  });
});

describe("batch consumers", () => {
  it("applies a chunk of risk decisions once, however often a message appears", async () => {
    const [allow, block, gone] = [await newPayment(), await newPayment(), await newPayment()];
    await db.$client`update payment.payments set status = 'expired' where id = ${gone}`;
    const decision = (paymentId: string, outcome: RiskDecision["outcome"], reasons: string[] = []) =>
      riskDecisionEnvelope(paymentId, merchantId, outcome, reasons);
    const e1 = decision(allow, "allow");
    const e2 = decision(block, "block", ["amount_over_hard_limit"]);
    const e3 = decision(gone, "allow");
    const handler = createRiskDecisionBatchHandler({
      db,
      relay,
      env: {} as never,
      logger: {} as never,
      sms: {} as never,
    });
    await handler([e1, e2, e1, e3].map((envelope) => ({ envelope, ctx })));
    await handler([e1, e2].map((envelope) => ({ envelope, ctx }))); // redelivered
    expect(await state(allow)).toMatchObject({
      trail: ["->risk_review@1:api", "risk_review>processing@2:risk.decided"],
      outbox: 2,
      internal: 2,
    });
    expect(await state(block)).toMatchObject({
      status: "failed",
      failure_code: "risk_blocked",
      outbox: 2,
      internal: 1,
    });
    expect(await state(gone)).toMatchObject({ status: "expired", outbox: 1 });
  });

  it("applies a chunk of attempt results in each payment's order", async () => {
    const p = await newPayment();
    await db.$client`update payment.payments set status = 'processing' where id = ${p}`;
    const result = (outcome: AttemptResult["outcome"], extra: Partial<AttemptResult> = {}) =>
      makeEnvelope({
        type: channelEvents.attemptResult.type,
        version: 2,
        aggregateId: p,
        payload: {
          paymentId: p,
          attemptId: `att_${p}`,
          attemptNo: 1,
          channel: "alipay",
          outcome,
          channelTxnId: "tx1",
          amount: 500,
          currency: "CNY",
          settlement: null,
          action: null,
          failureCode: null,
          failureMessage: null,
          willRetry: false,
          occurredAt: new Date().toISOString(),
          authorizationExpiresAt: null,
          reportedAmount: null,
          reportedCurrency: null,
          ...extra,
        } satisfies AttemptResult,
      });
    const handler = createChannelResultBatchHandler({
      db,
      relay,
      logger: createLogger({ service: "test", level: "silent" }),
    });
    const action = result("requires_action", {
      action: { type: "qr_code", payload: "alipays://x" } as AttemptResult["action"],
    });
    const success = result("succeeded");
    await handler([action, success, action].map((envelope) => ({ envelope, ctx })));
    const s = await state(p);
    expect(s.trail.slice(1)).toEqual([
      "processing>requires_action@2:channel.attempt_result",
      "requires_action>succeeded@3:channel.attempt_result",
    ]);
    const [attempt] = await db.$client<
      { outcome: string; channel_txn_id: string }[]
    >`select outcome, channel_txn_id from payment.payment_attempts where attempt_id = ${`att_${p}`}`;
    expect(attempt).toEqual({ outcome: "succeeded", channel_txn_id: "tx1" });
  });
});

describe("callback batch", () => {
  it("gives each callback of a batch the verdict it would get alone, and records every one", async () => {
    const [paid, failedOver, other] = [await newPayment(), await newPayment(), await newPayment()];
    for (const p of [paid, failedOver, other])
      await db.$client`update payment.payments set status = 'requires_action' where id = ${p}`;
    const attempt = async (paymentId: string, no: number, channel: string) => {
      const id = `att_${hex()}`;
      await db.$client`insert into payment.payment_attempts (attempt_id, payment_id, attempt_no, channel, outcome) values (${id}, ${paymentId}, ${no}, ${channel}, 'requires_action')`;
      return id;
    };
    const a1 = await attempt(paid, 1, "wechat");
    const old = await attempt(failedOver, 1, "wechat");
    await attempt(failedOver, 2, "alipay");
    const a3 = await attempt(other, 1, "wechat");
    const cb = (
      attemptId: string,
      status: "succeeded" | "failed",
      extra: Partial<CallbackResult> = {},
    ): CallbackItem => ({
      channel: "wechat",
      result: {
        channel: "wechat",
        attemptId,
        channelTxnId: `wx_${attemptId}`,
        status,
        amount: 500,
        currency: "CNY",
        settlement: null,
        failureCode: status === "failed" ? "card_declined" : null,
        failureMessage: null,
        occurredAt: new Date().toISOString(),
        ...extra,
      },
    });
    const applier = createCallbackApplier(db, { maxInFlight: 1 });
    const first = applier.submit(cb(a3, "succeeded", { amount: 1 })); // runs alone; the rest form one batch
    const verdicts = await Promise.all([
      applier.submit(cb(a1, "succeeded")),
      applier.submit(cb(a1, "succeeded")),
      applier.submit(cb(a1, "failed")),
      applier.submit(cb(old, "failed")),
      applier.submit(cb("att_unknown", "succeeded")),
    ]);
    // A success for another amount is held for review, not applied (and acknowledged: we hold it).
    expect((await first).outcome).toBe("held_for_review");
    expect(verdicts.map((v) => v.outcome)).toEqual(["applied", "duplicate", "stale", "stale", "unknown_attempt"]);
    // Created and succeeded, and on the restricted topic the message that tells the router the callback
    // settled the attempt (so it stops querying the channel about it).
    expect(await state(paid)).toMatchObject({ status: "succeeded", version: 2, outbox: 2, internal: 2 });
    expect(await state(failedOver)).toMatchObject({ status: "requires_action", outbox: 1 });
    expect(await state(other)).toMatchObject({ status: "requires_review", outbox: 2 });
    const recorded = await db.$client<{ outcome: string }[]>`
      select outcome from payment.channel_callbacks where attempt_id = any(${[a1, old, a3, "att_unknown"]}::text[]) order by id`;
    expect(recorded.map((r) => r.outcome).sort()).toEqual([
      "applied",
      "duplicate",
      "held_for_review",
      "stale",
      "stale",
      "unknown_attempt",
    ]);
  });

  it("applies a callback that arrives before the router's report, which then cannot take it back", async () => {
    const p = await newPayment();
    await db.$client`update payment.payments set status = 'processing' where id = ${p}`;
    const attemptId = attemptIdOf(p, 1);
    const applier = createCallbackApplier(db);
    const verdict = await applier.submit({
      channel: "wechat",
      result: {
        channel: "wechat",
        attemptId,
        channelTxnId: "wx_early",
        status: "succeeded",
        amount: 500,
        currency: "CNY",
        settlement: null,
        failureCode: null,
        failureMessage: null,
        occurredAt: new Date().toISOString(),
      },
    });
    expect(verdict).toMatchObject({ outcome: "applied", paymentId: p });
    expect(await state(p)).toMatchObject({ status: "succeeded", channel: "wechat" });
    // The router's report of the same attempt (pending: it had asked and the answer said "wait") comes late.
    const handler = createChannelResultBatchHandler({
      db,
      relay,
      logger: createLogger({ service: "test", level: "silent" }),
    });
    const report = makeEnvelope({
      type: channelEvents.attemptResult.type,
      version: 2,
      aggregateId: p,
      payload: {
        paymentId: p,
        attemptId,
        attemptNo: 1,
        channel: "wechat",
        outcome: "pending",
        channelTxnId: "wx_early",
        amount: 500,
        currency: "CNY",
        settlement: null,
        action: null,
        failureCode: null,
        failureMessage: null,
        willRetry: false,
        occurredAt: new Date().toISOString(),
        authorizationExpiresAt: null,
        reportedAmount: null,
        reportedCurrency: null,
      } satisfies AttemptResult,
    });
    await handler([{ envelope: report, ctx }]);
    const [attempt] = await db.$client<{ outcome: string }[]>`
      select outcome from payment.payment_attempts where attempt_id = ${attemptId}`;
    expect(attempt?.outcome).toBe("succeeded");
    expect(await state(p)).toMatchObject({ status: "succeeded", version: 2 });
  });
});
