import { randomUUID } from "node:crypto";
import { newId } from "@pps/domain";
import type { InternalPaymentSnapshot } from "@pps/messaging";

/** Test fixtures shared by risk-stub's test files. */

export type PaymentOverrides = Partial<Omit<InternalPaymentSnapshot, "payer">> & {
  payer?: Partial<InternalPaymentSnapshot["payer"]>;
};

/** A payment as payment-api announces it to risk on acceptance (the internal snapshot): status risk_review, version 1. */
export function snapshot(over: PaymentOverrides = {}): InternalPaymentSnapshot {
  const now = new Date();
  const paymentId = over.paymentId ?? newId("pay");
  const { payer, ...rest } = over;
  return {
    paymentId,
    merchantId: "m_risk_test",
    merchantOrderNo: `ord-${paymentId}`,
    product: "quick_pay",
    amount: 12_900,
    currency: "CNY",
    status: "risk_review",
    previousStatus: null,
    version: 1,
    channel: null,
    failureCode: null,
    failureMessage: null,
    subject: "Wireless headphones",
    payer: {
      id: `u_${randomUUID()}`,
      ip: "198.51.100.23",
      deviceId: `dev_${randomUUID()}`,
      phone: "+8613800138000",
      ...payer,
    },
    method: { bankCode: "CMB", cardType: "debit", wallet: null, flow: null },
    returnUrl: "https://shop.example/return",
    notifyUrl: "https://shop.example/notify",
    metadata: { cart: "c-1" },
    expiresAt: new Date(now.getTime() + 30 * 60_000).toISOString(),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    ...rest,
  };
}
