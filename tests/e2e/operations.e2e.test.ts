import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, createDb, type Database } from "@pps/db";
import {
  type CreatePaymentParams,
  type Operation,
  type PaymentDetail,
  PaymentsApiError,
  PaymentsClient,
} from "@pps/sdk";
import { createTestMerchant, type TestMerchant, waitFor } from "@pps/test-support";
import { actAsPayer } from "../support/payer.ts";
import { paymentUntil } from "../support/until.ts";
import { type Platform, startPlatform } from "../support/platform.ts";

/**
 * Operations on payments end to end: all six apps as real processes, real Kafka and Postgres, the channels
 * played by channel-sim over real HTTP with their own rules and books, merchants using the SDK. Our
 * records are compared with the channel's book.
 */
let platform: Platform;
let db: Database;
let merchant: TestMerchant;
let client: PaymentsClient;

const key = () => ({ idempotencyKey: randomUUID() });
const refundNo = () => `R${randomBytes(6).toString("hex")}`;

function params(overrides: Partial<CreatePaymentParams> = {}): CreatePaymentParams {
  return {
    merchant_order_no: `ops_${randomBytes(8).toString("hex")}`,
    product: "online_banking",
    amount: 10_000,
    currency: "CNY",
    subject: "Hotel deposit",
    payer: { id: `u_${randomBytes(5).toString("hex")}`, ip: "198.51.100.30", device_id: "device-b" },
    method: { bank_code: "CMB" },
    notify_url: "https://shop.example/notify",
    return_url: "https://shop.example/return",
    ...overrides,
  };
}

const until = (id: string, ok: (p: PaymentDetail) => boolean, what: string, timeoutMs?: number) =>
  paymentUntil(client, id, ok, what, timeoutMs);

const settled = (id: string) =>
  until(id, (p) => p.operations.every((o) => o.status !== "pending"), "every operation settled", 45_000);

type BookEntry = {
  txnId: string;
  status: string;
  capturedAmount: number;
  refundedAmount: number;
  authorizedAmount: number;
  operations: { kind: string; ref: string; amount: number; status: string }[];
};

/** The channel's own record of the payment's transaction. */
async function book(p: PaymentDetail): Promise<BookEntry> {
  const attempt = p.attempts.find((a) => a.outcome === "succeeded" || a.outcome === "authorized") ?? p.attempts.at(-1)!;
  const res = await fetch(`${platform.sim.url}/sim/book/${attempt.channel}?ref=${encodeURIComponent(attempt.id)}`);
  const body = (await res.json()) as { entries: BookEntry[] };
  expect(body.entries).toHaveLength(1);
  return body.entries[0]!;
}

async function age(p: PaymentDetail, hours: number): Promise<void> {
  const entry = await book(p);
  const res = await fetch(`${platform.sim.url}/sim/book/${p.channel}/${entry.txnId}/age`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ hours }),
  });
  expect(res.status).toBe(200);
  // Our record of when it was captured moves with the channel's: the same payment, a day older.
  await db.$client`update payment.payments set captured_at = captured_at - make_interval(hours => ${hours}),
    authorized_at = authorized_at - make_interval(hours => ${hours}) where id = ${p.id}`;
}

async function setFaults(channel: string, body: unknown): Promise<void> {
  const res = await fetch(`${platform.sim.url}/sim/faults/${channel}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.text()).toBeLessThan(300);
}

async function refused(call: Promise<unknown>): Promise<PaymentsApiError> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PaymentsApiError);
  return error as PaymentsApiError;
}

/** Creates a payment and has the payer pay it at the channel; manual ones stop authorized. */
async function paid(overrides: Partial<CreatePaymentParams>, channel: string): Promise<PaymentDetail> {
  const p = await client.createPayment(params(overrides), key());
  const waiting = await until(p.id, (x) => x.status === "requires_action", "requires_action");
  expect(waiting.channel).toBe(channel);
  await actAsPayer(platform.sim.url, waiting, "confirm");
  const target = overrides.capture_method === "manual" ? "requires_capture" : "succeeded";
  return until(p.id, (x) => x.status === target, target);
}

beforeAll(async () => {
  platform = await startPlatform({
    routerEnv: { ROUTE_WAIT_MAX_MS: "2000", ROUTER_STUCK_QUERY_DELAYS_MS: "1000,2000" },
    simEnv: { SIM_OPERATION_COMPLETE_DELAY_MS: "200" },
  });
  db = createDb({ url: platform.databaseUrl, max: 4 });
  merchant = await createTestMerchant(platform.api.url);
  client = new PaymentsClient({ baseUrl: platform.api.url, credentials: merchant });
}, 180_000);

afterAll(async () => {
  await closeDb(db).catch(() => undefined);
  await platform?.stop();
});

describe("pre-authorization at the bank", () => {
  it("authorizes, captures part once, and the channel's book agrees", async () => {
    const p = await paid({ capture_method: "manual" }, "bank_direct");
    expect(p).toMatchObject({ amount_authorized: 10_000, amount_captured: 0 });
    expect((await book(p)).status).toBe("authorized");

    const capture = await client.capturePayment(p.id, { amount: 6_000 }, key());
    const done = await until(p.id, (x) => x.status === "succeeded", "captured");
    expect(done).toMatchObject({ amount_captured: 6_000, amount_authorized: 10_000 });
    expect(done.operations).toEqual([expect.objectContaining({ id: capture.id, status: "succeeded" })]);
    expect((await refused(client.capturePayment(p.id, {}, key()))).code).toBe("payment.invalid_state");
    const entry = await book(done);
    expect(entry).toMatchObject({ status: "succeeded", capturedAmount: 6_000 });
    expect(entry.operations).toEqual([expect.objectContaining({ kind: "capture", ref: capture.id, amount: 6_000 })]);
  });

  it("voids in full (a partial void is refused before anything is sent)", async () => {
    const p = await paid({ capture_method: "manual", amount: 3_000 }, "bank_direct");
    expect((await refused(client.voidPayment(p.id, { amount: 1_000 }, key()))).code).toBe(
      "operation.partial_not_allowed",
    );
    await client.voidPayment(p.id, {}, key());
    await until(p.id, (x) => x.status === "canceled", "voided");
    expect(await book(p)).toMatchObject({ status: "voided", operations: [expect.objectContaining({ kind: "void" })] });
  });
});

describe("cancel and refund on the bank's settlement calendar", () => {
  it("reverses a payment the same day by cancel, and once settled by refund", async () => {
    const today = await paid({ amount: 4_000 }, "bank_direct");
    const reversed = await client.reversePayment(today.id, {}, key());
    expect(reversed.object).toBe("cancel");
    const canceled = await until(today.id, (x) => x.status === "canceled", "canceled");
    expect(canceled).toMatchObject({ amount_refunded: 4_000, amount_refund_pending: 0 });
    expect((await book(today)).status).toBe("canceled");

    const older = await paid({ amount: 4_000 }, "bank_direct");
    await age(older, 30);
    const late = await refused(client.cancelPayment(older.id, {}, key()));
    expect([late.status, late.code]).toEqual([422, "operation.cancel_window_closed"]);
    const refund = await client.reversePayment(older.id, { merchant_ref: refundNo() }, key());
    expect(refund).toMatchObject({ object: "refund", amount: 4_000 });
    const done = await settled(older.id);
    expect(done).toMatchObject({ amount_refunded: 4_000, amount_refund_pending: 0, status: "succeeded" });
    expect(await book(older)).toMatchObject({ refundedAmount: 4_000, status: "succeeded" });
  });
});

describe("refunds on a wallet", () => {
  it("never refunds past the captured amount under 50 concurrent refunds, and agrees with the channel's book", async () => {
    const p = await paid(
      { product: "platform_pay", method: { wallet: "wechat", flow: "qr_code" }, amount: 1_000 },
      "wechat",
    );
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 30 }, key()).then(
          (op): Operation | null => op,
          () => null,
        ),
      ),
    );
    const accepted = answers.filter((a): a is Operation => a !== null);
    expect(accepted).toHaveLength(33); // 33 × 30 = 990 of 1,000
    const done = await settled(p.id);
    const ok = done.operations.filter((o) => o.status === "succeeded");
    const refunded = ok.reduce((s, o) => s + o.amount, 0);
    expect(refunded).toBeLessThanOrEqual(1_000);
    expect(done).toMatchObject({ amount_refunded: refunded, amount_refund_pending: 0 });
    const entry = await book(done);
    expect(entry.refundedAmount).toBe(refunded);
    expect(
      entry.operations
        .filter((o) => o.kind === "refund" && o.status === "succeeded")
        .map((o) => o.ref)
        .sort(),
    ).toEqual(ok.map((o) => o.id).sort());
    const reverse = await client.reversePayment(p.id, {}, key());
    expect(reverse).toMatchObject({ object: "refund", amount: 1_000 - refunded });
  });

  it("resolves a refund whose answer timed out by query, refunding once", async () => {
    const p = await paid(
      { product: "platform_pay", method: { wallet: "alipay", flow: "qr_code" }, amount: 2_000 },
      "alipay",
    );
    await setFaults("alipay", { faults: ["timeout"], ops: ["refund"] });
    try {
      const op = await client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 700 }, key());
      const done = await settled(p.id);
      expect(done).toMatchObject({ amount_refunded: 700, amount_refund_pending: 0 });
      expect(done.operations).toEqual([expect.objectContaining({ id: op.id, status: "succeeded" })]);
      const entry = await book(done);
      expect(entry.operations.filter((o) => o.kind === "refund")).toHaveLength(1);
      expect(entry.refundedAmount).toBe(700);
    } finally {
      expect((await fetch(`${platform.sim.url}/sim/faults/alipay`, { method: "DELETE" })).status).toBeLessThan(300);
    }
  });

  it("refuses a cancel on a channel that only refunds, and tells the merchant of each refund", async () => {
    const p = await paid(
      { product: "platform_pay", method: { wallet: "wechat", flow: "qr_code" }, amount: 500 },
      "wechat",
    );
    const cancel = await refused(client.cancelPayment(p.id, {}, key()));
    expect([cancel.status, cancel.code]).toEqual([422, "operation.flow_not_supported"]);
    const op = await client.refundPayment(p.id, { merchant_refund_no: refundNo(), amount: 200 }, key());
    await settled(p.id);
    await waitFor(
      async () => (await client.listPaymentNotifications(p.id)).data.some((n) => n.event_type === "refund.succeeded"),
      { what: "the refund.succeeded notification" },
    );
    expect((await client.getRefund(op.id)).status).toBe("succeeded");
  });
});

describe("money taken is never hidden", () => {
  it("applies a payment the payer completed after we expired it, as payment.late_succeeded", async () => {
    const p = await client.createPayment(
      params({ product: "platform_pay", method: { wallet: "wechat", flow: "qr_code" } }),
      key(),
    );
    const waiting = await until(p.id, (x) => x.status === "requires_action", "requires_action");
    await db.$client`update payment.payments set expires_at = now() - interval '1 second' where id = ${p.id}`;
    await until(p.id, (x) => x.status === "expired", "expired");
    await actAsPayer(platform.sim.url, waiting, "confirm");
    const late = await until(p.id, (x) => x.status === "succeeded", "late success");
    expect(late.timeline.at(-1)).toMatchObject({ from: "expired", to: "succeeded" });
    expect(late.amount_captured).toBe(p.amount);
    await waitFor(
      async () =>
        (await client.listPaymentNotifications(p.id)).data.some((n) => n.event_type === "payment.late_succeeded"),
      { what: "the payment.late_succeeded notification" },
    );
  });
});

describe("the audit trail", () => {
  it("keeps every change of every operation beside the payment's transitions", async () => {
    const rows = await db.$client<{ id: string; status: string; version: number; changes: number }[]>`
      select o.id, o.status, o.version, count(t.id)::int as changes
      from payment.payment_operations o join payment.payment_transitions t on t.operation_id = o.id
      where o.merchant_id = ${merchant.merchantId}
      group by o.id`;
    expect(rows.length).toBeGreaterThan(30);
    // One audit row per version: created (1), then each move along the state machine.
    for (const r of rows) expect(r.changes, r.id).toBe(r.version);
  });
});
