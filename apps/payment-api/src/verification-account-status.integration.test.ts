import { randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payments, verifications } from "@pps/db/schema";
import type { CreatePaymentParams, PaymentsClient } from "@pps/sdk";
import { type InProcessApi, type InProcessMerchant, inProcessApi } from "./payment-api-test-kit.ts";

/**
 * Verifying an SMS code and asking for a new one re-check the accounts: a payer frozen, or a merchant
 * suspended, after the payment began gets no further, and the refusal writes nothing (no attempt counted, no
 * new code, no idempotency record, no nonce) and texts nothing. In-process on a real database; the payment
 * reaches requires_verification through the risk-decision consumer's own handler.
 */
let api: InProcessApi;

beforeAll(async () => {
  api = await inProcessApi("otpstatus");
});
afterAll(async () => {
  await api?.close();
});

type Challenged = {
  merchant: InProcessMerchant;
  client: PaymentsClient;
  paymentId: string;
  payerId: string;
  code: string;
};

async function challengedPayment(): Promise<Challenged> {
  const merchant = await api.createMerchant();
  const client = api.client(merchant);
  const payerId = `u_${randomBytes(4).toString("hex")}`;
  const params: CreatePaymentParams = {
    merchant_order_no: `o_${randomBytes(8).toString("hex")}`,
    product: "online_banking",
    amount: 4_200,
    currency: "CNY",
    subject: "Verification status test",
    payer: { id: payerId, phone: "+8613700001111" },
    method: { bank_code: "ICBC" },
    notify_url: "https://shop.example/notify",
    return_url: "https://shop.example/return",
  };
  const payment = await client.createPayment(params, { idempotencyKey: randomUUID() });
  const code = await api.challenge(payment.id, merchant.merchantId);
  return { merchant, client, paymentId: payment.id, payerId, code };
}

/** Everything a verify or resend could change: row counts, the payment, its verification, the texts sent. */
async function state(paymentId: string) {
  const [payment] = await api.db
    .select({ status: payments.status, version: payments.version })
    .from(payments)
    .where(eq(payments.id, paymentId));
  const [verification] = await api.db.select().from(verifications).where(eq(verifications.paymentId, paymentId));
  return { rows: await api.countRows(), payment, verification, texts: api.sms.sent.length };
}

const verify = (p: Challenged, code = p.code) =>
  p.client.request("POST", `/v1/payments/${p.paymentId}/verify`, { body: { code }, idempotencyKey: randomUUID() });
const resend = (p: Challenged) =>
  p.client.request("POST", `/v1/payments/${p.paymentId}/verification/resend`, { idempotencyKey: randomUUID() });
const codeOf = (r: { body: unknown }) => (r.body as { error?: { code?: string } }).error?.code;

describe("verification and a payer frozen since the payment began", () => {
  it("refuses the right code with payer.frozen, writing nothing, and takes it once the payer is active again", async () => {
    const p = await challengedPayment();
    expect((await state(p.paymentId)).payment?.status).toBe("requires_verification");
    await api.setPayerStatus(p.payerId, "frozen");
    const before = await state(p.paymentId);
    const refused = await verify(p);
    expect({ status: refused.status, code: codeOf(refused) }).toEqual({ status: 403, code: "payer.frozen" });
    expect(refused.verified).toBe(true);
    expect(await state(p.paymentId)).toEqual(before);

    await api.setPayerStatus(p.payerId, "active");
    const accepted = await verify(p);
    expect(accepted.status).toBe(200);
    expect((accepted.body as { status: string }).status).toBe("processing");
  });

  it("refuses a new code with payer.frozen, writing and texting nothing", async () => {
    const p = await challengedPayment();
    await api.setPayerStatus(p.payerId, "frozen");
    const before = await state(p.paymentId);
    const refused = await resend(p);
    expect({ status: refused.status, code: codeOf(refused) }).toEqual({ status: 403, code: "payer.frozen" });
    expect(await state(p.paymentId)).toEqual(before);

    await api.setPayerStatus(p.payerId, "active");
    const sent = await resend(p);
    expect(sent.status).toBe(200);
    expect((await state(p.paymentId)).texts).toBe(before.texts + 1);
  });
});

describe("verification and a merchant suspended since the payment began", () => {
  it("refuses the right code with merchant.inactive, writing nothing, and takes it once the merchant is active again", async () => {
    const p = await challengedPayment();
    await api.setMerchantStatus(p.merchant.merchantId, "suspended");
    const before = await state(p.paymentId);
    const refused = await verify(p);
    expect({ status: refused.status, code: codeOf(refused) }).toEqual({ status: 403, code: "merchant.inactive" });
    expect(await state(p.paymentId)).toEqual(before);

    await api.setMerchantStatus(p.merchant.merchantId, "active");
    const accepted = await verify(p);
    expect(accepted.status).toBe(200);
    expect((accepted.body as { status: string }).status).toBe("processing");
  });

  it("refuses a new code with merchant.inactive for a suspended or closed merchant, writing and texting nothing", async () => {
    for (const status of ["suspended", "closed"] as const) {
      const p = await challengedPayment();
      await api.setMerchantStatus(p.merchant.merchantId, status);
      const before = await state(p.paymentId);
      const refused = await resend(p);
      expect({ status, httpStatus: refused.status, code: codeOf(refused) }).toEqual({
        status,
        httpStatus: 403,
        code: "merchant.inactive",
      });
      // A wrong code is not counted against the payer either.
      const wrong = await verify(p, p.code === "000000" ? "111111" : "000000");
      expect(codeOf(wrong)).toBe("merchant.inactive");
      expect(await state(p.paymentId)).toEqual(before);
    }
  });
});
