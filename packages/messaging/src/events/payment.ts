import { z } from "zod";
import { PAYMENT_STATUSES, PRODUCTS } from "@pps/domain";
import { defineEvent } from "../registry.ts";
import { TOPICS } from "../topics.ts";

export const paymentMethodSchema = z.object({
  /** online_banking: the payer's bank, e.g. CMB, ICBC. */
  bankCode: z.string().nullable(),
  cardType: z.enum(["debit", "credit"]).nullable(),
  /** platform_pay: which wallet app. */
  wallet: z.enum(["wechat", "alipay"]).nullable(),
  /** platform_pay: a QR code to scan (PC) or an app deeplink (mobile). */
  flow: z.enum(["qr_code", "deeplink"]).nullable(),
});
export type PaymentMethod = z.infer<typeof paymentMethodSchema>;

/** The payment as downstream consumers see it after a change. `version` grows by one with every change. */
export const paymentSnapshotSchema = z.object({
  paymentId: z.string(),
  merchantId: z.string(),
  merchantOrderNo: z.string(),
  product: z.enum(PRODUCTS),
  amount: z.number().int().positive(),
  currency: z.string().length(3),
  status: z.enum(PAYMENT_STATUSES),
  previousStatus: z.enum(PAYMENT_STATUSES).nullable(),
  version: z.number().int().positive(),
  channel: z.string().nullable(),
  failureCode: z.string().nullable(),
  failureMessage: z.string().nullable(),
  subject: z.string(),
  payer: z.object({ id: z.string(), ip: z.string().nullable(), deviceId: z.string().nullable(), phone: z.string().nullable() }),
  /** How the payer chose to pay; the executing channel may differ (routing). */
  method: paymentMethodSchema,
  returnUrl: z.string(),
  /** The merchant's endpoint for notifications about this payment. */
  notifyUrl: z.string(),
  /** Merchant's own key-values, passed through to channels as an opaque "attach" field. */
  metadata: z.record(z.string(), z.string()),
  expiresAt: z.iso.datetime({ offset: true }),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type PaymentSnapshot = z.infer<typeof paymentSnapshotSchema>;

const paymentEvent = <T extends string>(type: T, description: string) =>
  defineEvent({ type, version: 1, topic: TOPICS.paymentEvents.name, description, payload: paymentSnapshotSchema });

export const paymentEvents = {
  created: paymentEvent("payment.created", "A payment was accepted and awaits the risk decision (or, for a pre-order, payment)."),
  submitted: paymentEvent("payment.submitted", "The payer used a pre-order's pay link; the payment awaits the risk decision."),
  requiresVerification: paymentEvent("payment.requires_verification", "Risk asked for step-up verification (SMS OTP) before the payment goes on."),
  processing: paymentEvent("payment.processing", "The payment passed risk and is handed to the router for a channel."),
  requiresAction: paymentEvent("payment.requires_action", "The channel waits for the payer: bank page, QR scan or SMS confirmation."),
  succeeded: paymentEvent("payment.succeeded", "The channel confirmed the money was taken."),
  failed: paymentEvent("payment.failed", "The payment ended without taking money (declined, blocked, verification failed)."),
  expired: paymentEvent("payment.expired", "The payment was not completed before its expiry."),
  canceled: paymentEvent("payment.canceled", "An unpaid pre-order was canceled."),
} as const;
