import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CreatePaymentParams } from "@pps/api-contract";
import type { Database } from "@pps/db";
import { attemptIdOf } from "@pps/domain";
import {
  type AttemptResult,
  channelEvents,
  type EventPublisher,
  makeEnvelope,
  type OperationResult,
  TOPICS,
} from "@pps/messaging";
import { type Operation, type PaymentDetail, PaymentsApiError, PaymentsClient } from "@pps/sdk";
import { type AppProcess, createTestMerchant, TEST_ADMIN_TOKEN, type TestMerchant, waitFor } from "@pps/test-support";
import { paymentParams, processApi, riskDecisionEnvelope } from "./payment-api-test-kit.ts";

/**
 * The operations model in payment-api as a real process against real Postgres and Kafka: the router's
 * attempt and operation results are published here as the router would; the whole pipeline (router,
 * channel-sim) runs in tests/e2e/operations.e2e.test.ts.
 */
let api: AppProcess;
let db: Database;
let publisher: EventPublisher;
let merchant: TestMerchant;
let client: PaymentsClient;

const key = () => ({ idempotencyKey: randomUUID() });
const refundNo = () => `R${randomBytes(6).toString("hex")}`;

async function publishDecision(paymentId: string, merchantId: string) {
  await publisher.publish(TOPICS.riskDecisions.name, [riskDecisionEnvelope(paymentId, merchantId, "allow")]);
}

async function publishAttempt(p: { id: string; amount: number; currency: string }, over: Partial<AttemptResult>) {
  const payload: AttemptResult = {
    paymentId: p.id,
    attemptId: attemptIdOf(p.id, 1),
    attemptNo: 1,
    channel: "alipay",
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
    reportedAmount: p.amount,
    reportedCurrency: p.currency,
    ...over,
  };
  await publisher.publish(TOPICS.channelResults.name, [
    makeEnvelope({ type: channelEvents.attemptResult.type, version: 2, aggregateId: p.id, payload }),
  ]);
}

async function publishOperation(op: Operation, over: Partial<OperationResult> = {}) {
  const payload: OperationResult = {
    paymentId: op.payment_id,
    operationId: op.id,
    kind: op.object,
    channel: op.channel,
    outcome: "succeeded",
    channelOpId: `op_${randomBytes(5).toString("hex")}`,
    amount: op.amount,
    currency: op.currency,
    reportedAmount: op.amount,
    reportedCurrency: op.currency,
    failureCode: null,
    failureMessage: null,
    occurredAt: new Date().toISOString(),
    ...over,
  };
  await publisher.publish(TOPICS.channelResults.name, [
    makeEnvelope({ type: channelEvents.operationResult.type, version: 1, aggregateId: op.payment_id, payload }),
  ]);
}

async function waitForPayment(id: string, ok: (p: PaymentDetail) => boolean, what: string): Promise<PaymentDetail> {
  let last: PaymentDetail | undefined;
  await waitFor(
    async () => {
      last = await client.getPayment(id);
      return ok(last);
    },
    { what, timeoutMs: 20_000 },
  );
  return last!;
}

/** A payment taken in full by `channel` (or, capture_method manual, authorized). */
async function paidPayment(
  overrides: Partial<CreatePaymentParams>,
  channel: string,
  outcome: "succeeded" | "authorized" = "succeeded",
): Promise<PaymentDetail> {
  const p = await client.createPayment(paymentParams(overrides), key());
  await publishDecision(p.id, merchant.merchantId);
  await waitForPayment(p.id, (x) => x.status === "processing", "processing");
  await publishAttempt(p, {
    channel,
    outcome,
    authorizationExpiresAt: outcome === "authorized" ? new Date(Date.now() + 86_400_000).toISOString() : null,
  });
  const status = outcome === "succeeded" ? "succeeded" : "requires_capture";
  return waitForPayment(p.id, (x) => x.status === status, status);
}

const wallet = (amount: number, w: "alipay" | "wechat" = "alipay") => ({
  product: "platform_pay" as const,
  amount,
  method: { wallet: w, flow: "qr_code" as const },
});

async function refused(call: Promise<unknown>): Promise<PaymentsApiError> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PaymentsApiError);
  return error as PaymentsApiError;
}

async function review(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${api.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const countOps = async (paymentId: string) =>
  Number(
    (await db.$client`select count(*)::int as n from payment.payment_operations where payment_id = ${paymentId}`)[0]!.n,
  );

let env: Awaited<ReturnType<typeof processApi>>;

beforeAll(async () => {
  env = await processApi("payops");
  ({ api, db, publisher, merchant, client } = env);
});

afterAll(async () => {
  await env?.stop();
});

describe("refunds", () => {
  it("never refunds more than was captured under 50 concurrent partial refunds, and releases failed ones", async () => {
    const p = await paidPayment(wallet(10_000), "alipay");
    expect(p).toMatchObject({ amount_captured: 10_000, amount_refunded: 0, amount_refund_pending: 0 });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 300 }, key()).then(
          (op) => ({ ok: true as const, op }),
          (e: PaymentsApiError) => ({ ok: false as const, code: e.code }),
        ),
      ),
    );
    const accepted = answers.flatMap((a) => (a.ok ? [a.op] : []));
    // 33 × 300 = 9,900 fit in 10,000; the 34th would pass it.
    expect(accepted).toHaveLength(33);
    expect(new Set(answers.flatMap((a) => (a.ok ? [] : [a.code])))).toEqual(
      new Set(["operation.amount_exceeds_refundable"]),
    );
    const held = await client.getPayment(p.id);
    expect(held).toMatchObject({ amount_refunded: 0, amount_refund_pending: 9_900, status: "succeeded" });
    expect(held.operations.filter((o) => o.object === "refund")).toHaveLength(33);

    // 30 succeed, 3 fail (their reservations come back).
    for (const [i, op] of accepted.entries())
      await publishOperation(
        op,
        i < 30 ? {} : { outcome: "failed", failureCode: "channel_rejected", failureMessage: "refused" },
      );
    const settled = await waitForPayment(p.id, (x) => x.amount_refund_pending === 0, "every refund settled");
    expect(settled).toMatchObject({ amount_refunded: 9_000, amount_refund_pending: 0 });
    expect(settled.operations.filter((o) => o.status === "failed")).toHaveLength(3);

    expect(
      (await refused(client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 1_001 }, key()))).code,
    ).toBe("operation.amount_exceeds_refundable");
    const last = await client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 1_000 }, key());
    expect(last).toMatchObject({ object: "refund", status: "pending", amount: 1_000, channel: "alipay" });

    // Queries: by id, by merchant_refund_no, and the payment's list.
    expect(await client.getRefund(last.id)).toMatchObject({ id: last.id, merchant_ref: last.merchant_ref });
    expect((await client.getRefundByNo(last.merchant_ref!)).id).toBe(last.id);
    expect((await client.listPaymentRefunds(p.id)).data).toHaveLength(34);
  });

  it("refuses a reused merchant_refund_no, a refund of a failed payment and of another merchant's, writing nothing", async () => {
    const p = await paidPayment(wallet(5_000), "alipay");
    const no = refundNo();
    await client.refundPayment(p.id, { merchant_refund_no: no, amount: 100 }, key());
    expect((await refused(client.refundPayment(p.id, { merchant_refund_no: no, amount: 100 }, key()))).code).toBe(
      "operation.duplicate_ref",
    );
    expect(await countOps(p.id)).toBe(1);
    expect((await client.getPayment(p.id)).amount_refund_pending).toBe(100);

    const failed = await client.createPayment(paymentParams(wallet(5_000)), key());
    await publishDecision(failed.id, merchant.merchantId);
    await waitForPayment(failed.id, (x) => x.status === "processing", "processing");
    await publishAttempt(failed, {
      outcome: "failed",
      failureCode: "card_declined",
      reportedAmount: null,
      reportedCurrency: null,
    });
    await waitForPayment(failed.id, (x) => x.status === "failed", "failed");
    expect(
      (await refused(client.refundPayment(failed.id, { merchant_refund_no: refundNo(), amount: 1 }, key()))).code,
    ).toBe("payment.invalid_state");

    const other = new PaymentsClient({ baseUrl: api.url, credentials: await createTestMerchant(api.url) });
    const notTheirs = await refused(other.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 1 }, key()));
    expect([notTheirs.status, notTheirs.code]).toEqual([404, "payment.not_found"]);

    for (const body of [
      { merchant_refund_no: refundNo(), amount: 0 },
      { merchant_refund_no: "bad no!", amount: 5 },
      { amount: 5 },
    ]) {
      const bad = await refused(client.refundPayment(p.id, body as never, key()));
      expect([bad.status, bad.code]).toEqual([400, "request.validation_failed"]);
    }
    expect(await countOps(p.id)).toBe(1);
    expect(await countOps(failed.id)).toBe(0);
  });

  it("answers a repeated Idempotency-Key with the first refund, and refuses it with another body", async () => {
    const p = await paidPayment(wallet(4_000), "alipay");
    const k = key();
    const body = { merchant_refund_no: refundNo(), amount: 400 };
    const first = await client.refundPayment(p.id, body, k);
    const again = await client.request("POST", `/v1/payments/${p.id}/refunds`, {
      body,
      idempotencyKey: k.idempotencyKey,
    });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((again.body as Operation).id).toBe(first.id);
    const other = await refused(client.refundPayment(p.id, { ...body, amount: 401 }, k));
    expect([other.status, other.code]).toEqual([409, "request.idempotency_key_reused"]);
    expect(await countOps(p.id)).toBe(1);
    expect((await client.getPayment(p.id)).amount_refund_pending).toBe(400);
  });

  it("refuses flows the channel lacks before anything is written", async () => {
    const p = await paidPayment(wallet(2_000, "wechat"), "wechat");
    const cancel = await refused(client.cancelPayment(p.id, {}, key()));
    expect([cancel.status, cancel.code]).toEqual([422, "operation.flow_not_supported"]);
    // A carrier payment cannot be authorized for capture later: refused at creation.
    const manual = await refused(
      client.createPayment(
        paymentParams({ product: "carrier_billing", amount: 500, method: {}, capture_method: "manual" }),
        key(),
      ),
    );
    expect([manual.status, manual.code]).toEqual([422, "operation.flow_not_supported"]);
    expect(await countOps(p.id)).toBe(0);
  });

  it("holds an operation result with the wrong amount for review, moving no money", async () => {
    const p = await paidPayment(wallet(3_000), "alipay");
    const op = await client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 1_000 }, key());
    await publishOperation(op, { reportedAmount: 1_500 });
    const held = await waitFor(async () => (await client.getRefund(op.id)).status === "requires_review", {
      what: "refund held",
    }).then(() => client.getPayment(p.id));
    expect(held).toMatchObject({ amount_refunded: 0, amount_refund_pending: 1_000 });

    // An operator checks the channel's record and decides; the decision goes through the same write path.
    const noToken = await fetch(`${api.url}/v1/admin/operations/${op.id}/review`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outcome: "succeeded", note: "checked" }),
    });
    expect(noToken.status).toBe(401);
    const decided = await review(`/v1/admin/operations/${op.id}/review`, {
      outcome: "succeeded",
      note: "statement shows 1,000",
    });
    expect(decided).toMatchObject({ status: 200, body: { id: op.id, status: "succeeded" } });
    expect(await client.getPayment(p.id)).toMatchObject({ amount_refunded: 1_000, amount_refund_pending: 0 });
    const again = await review(`/v1/admin/operations/${op.id}/review`, { outcome: "failed", note: "twice" });
    expect(again.status).toBe(409);
  });
});

describe("pre-authorization", () => {
  const card = (amount: number) => ({
    product: "foreign_card" as const,
    amount,
    currency: "USD",
    method: {},
    capture_method: "manual" as const,
  });

  it("captures part of an authorization once, releasing the rest", async () => {
    const p = await paidPayment(card(10_000), "paypal", "authorized");
    expect(p).toMatchObject({ capture_method: "manual", amount_authorized: 10_000, amount_captured: 0 });
    expect(p.authorization_expires_at).not.toBeNull();

    const over = await refused(client.capturePayment(p.id, { amount: 10_001 }, key()));
    expect(over.code).toBe("operation.amount_exceeds_authorized");
    const capture = await client.capturePayment(p.id, { amount: 7_000 }, key());
    expect(capture).toMatchObject({ object: "capture", status: "pending", amount: 7_000 });
    expect((await refused(client.capturePayment(p.id, {}, key()))).code).toBe("operation.in_progress");
    expect((await refused(client.voidPayment(p.id, {}, key()))).code).toBe("operation.in_progress");

    await publishOperation(capture);
    const done = await waitForPayment(p.id, (x) => x.status === "succeeded", "captured");
    expect(done).toMatchObject({ amount_authorized: 10_000, amount_captured: 7_000 });
    expect((await refused(client.capturePayment(p.id, {}, key()))).code).toBe("payment.invalid_state");
    expect(
      (await refused(client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 7_001 }, key()))).code,
    ).toBe("operation.amount_exceeds_refundable");
    const refund = await client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 7_000 }, key());
    expect(refund.status).toBe("pending");
  });

  it("captures the whole authorization when no amount is given", async () => {
    const p = await paidPayment(card(3_300), "paypal", "authorized");
    const capture = await client.capturePayment(p.id, {}, key());
    expect(capture).toMatchObject({ object: "capture", amount: 3_300 });
    await publishOperation(capture);
    expect(await waitForPayment(p.id, (x) => x.status === "succeeded", "captured")).toMatchObject({
      amount_captured: 3_300,
      amount_authorized: 3_300,
    });
  });

  it("voids only in full, and reverse voids an authorization", async () => {
    const p = await paidPayment(card(4_000), "paypal", "authorized");
    const partial = await refused(client.voidPayment(p.id, { amount: 1_000 }, key()));
    expect([partial.status, partial.code]).toEqual([422, "operation.partial_not_allowed"]);
    expect(await countOps(p.id)).toBe(0);
    const reversed = await client.reversePayment(p.id, {}, key());
    expect(reversed).toMatchObject({ object: "void", amount: 4_000, origin: "reverse" });
    await publishOperation(reversed);
    const canceled = await waitForPayment(p.id, (x) => x.status === "canceled", "voided");
    expect(canceled.failure?.code).toBe("voided");
    expect((await refused(client.capturePayment(p.id, {}, key()))).code).toBe("payment.invalid_state");
  });

  it("releases an authorization the channel's window let go", async () => {
    const p = await paidPayment(card(2_500), "paypal", "authorized");
    await db.$client`update payment.payments set authorization_expires_at = now() - interval '1 second' where id = ${p.id}`;
    const expired = await waitForPayment(p.id, (x) => x.status === "canceled", "authorization released");
    expect(expired.failure?.code).toBe("authorization_expired");
    expect((await refused(client.capturePayment(p.id, {}, key()))).code).toBe("payment.invalid_state");
  });
});

describe("cancel and reverse on the settlement calendar", () => {
  const bank = (amount: number) => ({ amount });

  it("cancels a bank payment on its settlement day, and refunds it once settled", async () => {
    const today = await paidPayment(bank(6_000), "bank_direct");
    // Bank refunds only settled payments: on the day, cancel it.
    expect(
      (await refused(client.refundPayment(today.id, { merchant_refund_no: refundNo(), amount: 10 }, key()))).code,
    ).toBe("operation.not_settled");
    const reversed = await client.reversePayment(today.id, {}, key());
    expect(reversed).toMatchObject({ object: "cancel", amount: 6_000 });
    expect((await client.getPayment(today.id)).amount_refund_pending).toBe(6_000);
    await publishOperation(reversed);
    const canceled = await waitForPayment(today.id, (x) => x.status === "canceled", "canceled");
    expect(canceled).toMatchObject({ amount_refunded: 6_000, amount_refund_pending: 0 });
    // Nothing is left to undo: a second cancel, a refund and a reverse are refused, and nothing is written.
    for (const again of [
      () => client.cancelPayment(today.id, {}, key()),
      () => client.refundPayment(today.id, { merchant_refund_no: refundNo(), amount: 1 }, key()),
      () => client.reversePayment(today.id, {}, key()),
    ])
      expect((await refused(again())).code).toBe("payment.invalid_state");
    expect(await countOps(today.id)).toBe(1);

    const older = await paidPayment(bank(6_000), "bank_direct");
    await db.$client`update payment.payments set captured_at = now() - interval '2 days' where id = ${older.id}`;
    const late = await refused(client.cancelPayment(older.id, {}, key()));
    expect([late.status, late.code]).toEqual([422, "operation.cancel_window_closed"]);
    const part = await client.refundPayment(older.id, { merchant_refund_no: refundNo(), amount: 1_000 }, key());
    // A refunded payment cannot be canceled: a cancel returns all of it.
    const cancelRefunded = await refused(client.cancelPayment(older.id, {}, key()));
    expect([cancelRefunded.status, cancelRefunded.code]).toEqual([409, "payment.invalid_state"]);
    const refund = await client.reversePayment(older.id, { merchant_ref: refundNo() }, key());
    expect(refund).toMatchObject({ object: "refund", amount: 5_000 });
    expect((await client.listPaymentRefunds(older.id)).data.map((r) => r.id)).toEqual([part.id, refund.id]);
  });
});

describe("money taken is never hidden", () => {
  it("applies a late success on a failed payment as its own event, and refunds it under the merchant's policy", async () => {
    const res = await fetch(`${api.url}/v1/admin/merchants/${merchant.merchantId}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      body: JSON.stringify({ late_success_policy: "refund" }),
    });
    expect(res.status).toBe(200);
    try {
      const p = await client.createPayment(paymentParams(wallet(1_800)), key());
      await publishDecision(p.id, merchant.merchantId);
      await waitForPayment(p.id, (x) => x.status === "processing", "processing");
      await publishAttempt(p, {
        outcome: "failed",
        failureCode: "card_declined",
        reportedAmount: null,
        reportedCurrency: null,
      });
      await waitForPayment(p.id, (x) => x.status === "failed", "failed");
      await publishAttempt(p, { outcome: "succeeded" });
      const late = await waitForPayment(
        p.id,
        (x) => x.status === "succeeded" && x.operations.length > 0,
        "late success refunded",
      );
      expect(late.timeline.at(-1)).toMatchObject({ from: "failed", to: "succeeded" });
      expect(late.operations[0]).toMatchObject({
        object: "refund",
        amount: 1_800,
        origin: "auto_refund",
        status: "pending",
      });
      // The feed serves events once they are a second old (so a late commit cannot be skipped).
      const types: string[] = [];
      await waitFor(
        async () => {
          types.length = 0;
          for (let after: string | undefined, more = true; more; ) {
            const page = await client.listEvents({ limit: 500, ...(after ? { after } : {}) });
            types.push(...page.data.filter((e) => e.aggregateId === p.id).map((e) => e.type));
            after = page.next_cursor ?? undefined;
            more = page.has_more;
          }
          return types.includes("refund.created");
        },
        { what: "the events in the feed" },
      );
      expect(types).toContain("payment.late_succeeded");
      expect(types).toContain("refund.created");
    } finally {
      await fetch(`${api.url}/v1/admin/merchants/${merchant.merchantId}`, {
        method: "PATCH",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        body: JSON.stringify({ late_success_policy: "apply" }),
      });
    }
  });

  it("holds a success reported with another amount for review instead of applying it", async () => {
    const p = await client.createPayment(paymentParams(wallet(2_200)), key());
    await publishDecision(p.id, merchant.merchantId);
    await waitForPayment(p.id, (x) => x.status === "processing", "processing");
    await publishAttempt(p, { outcome: "succeeded", reportedAmount: 22 });
    const held = await waitForPayment(p.id, (x) => x.status === "requires_review", "held for review");
    expect(held).toMatchObject({ amount_captured: 0, failure: { code: "channel_result_mismatch" } });
    expect((await refused(client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 1 }, key()))).code).toBe(
      "payment.invalid_state",
    );
    const decided = await review(`/v1/admin/payments/${p.id}/review`, {
      outcome: "failed",
      note: "channel has no such charge",
    });
    expect(decided).toMatchObject({ status: 200, body: { status: "failed", failure: { code: "review_failed" } } });
    expect((await client.getPayment(p.id)).timeline.at(-1)).toMatchObject({
      from: "requires_review",
      to: "failed",
      cause: "operator_review",
    });
  });
});
