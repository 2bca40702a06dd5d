import { z } from "zod";
import { PAYMENT_STATUSES, PRODUCTS, type PaymentStatus } from "@pps/domain";
import { defineEvent, type EventDefinition } from "../registry.ts";
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

/** The payer as every consumer sees it: our id for them, no personal data. */
export const payerSchema = z.object({ id: z.string() });

/** The payer with their contact data: personal data, carried only on the restricted internal topic. */
export const payerContactSchema = payerSchema
  .extend({ ip: z.string().nullable(), deviceId: z.string().nullable(), phone: z.string().nullable() })
  .describe(
    "Personal data: the payer's IP, device id and phone. Only on the restricted topic pps.payment.internal.v1 (and in retired payment.* v1 events).",
  );
export type PayerContact = z.infer<typeof payerContactSchema>;

/**
 * The payment as downstream consumers see it after a change (payment.* v2 on the public topic). `version`
 * grows by one with every change. No personal data: the payer is named by id only.
 */
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
  payer: payerSchema,
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

/** The same snapshot with the payer's contact data, for risk-stub and router (pps.payment.internal.v1). */
export const internalPaymentSnapshotSchema = paymentSnapshotSchema.extend({ payer: payerContactSchema });
export type InternalPaymentSnapshot = z.infer<typeof internalPaymentSnapshotSchema>;

/** payment.* v1 (retired): the snapshot as the public topic carried it before v2, contact data included. */
export const paymentSnapshotV1Schema = internalPaymentSnapshotSchema;
export type PaymentSnapshotV1 = z.infer<typeof paymentSnapshotV1Schema>;

const V1_RETIRED =
  "Retired: no longer produced. v1 carried the payer's IP, device id and phone on the public topic; v2 has the same fields with the payer named by id only. Still read by our consumers while v1 messages remain within the topic's retention.";

const paymentEvent = <T extends string>(type: T, description: string) =>
  defineEvent({ type, version: 2, topic: TOPICS.paymentEvents.name, description, payload: paymentSnapshotSchema });

const paymentEventV1 = <T extends string>(def: EventDefinition<T>) =>
  defineEvent({
    type: def.type,
    version: 1,
    topic: TOPICS.paymentEvents.name,
    description: def.description,
    payload: paymentSnapshotV1Schema,
    retired: V1_RETIRED,
  });

/** The public payment events, at the version payment-api produces. */
export const paymentEvents = {
  created: paymentEvent(
    "payment.created",
    "A payment was accepted and awaits the risk decision (or, for a pre-order, payment).",
  ),
  submitted: paymentEvent(
    "payment.submitted",
    "The payer used a pre-order's pay link; the payment awaits the risk decision.",
  ),
  requiresVerification: paymentEvent(
    "payment.requires_verification",
    "Risk asked for step-up verification (SMS OTP) before the payment goes on.",
  ),
  processing: paymentEvent("payment.processing", "The payment passed risk and is handed to the router for a channel."),
  requiresAction: paymentEvent(
    "payment.requires_action",
    "The channel waits for the payer: bank page, QR scan or SMS confirmation.",
  ),
  succeeded: paymentEvent("payment.succeeded", "The channel confirmed the money was taken."),
  failed: paymentEvent(
    "payment.failed",
    "The payment ended without taking money (declined, blocked, verification failed).",
  ),
  expired: paymentEvent("payment.expired", "The payment was not completed before its expiry."),
  canceled: paymentEvent("payment.canceled", "An unpaid pre-order was canceled."),
} as const;

/** The same events at v1 (retired): read, never written. */
export const paymentEventsV1 = {
  created: paymentEventV1(paymentEvents.created),
  submitted: paymentEventV1(paymentEvents.submitted),
  requiresVerification: paymentEventV1(paymentEvents.requiresVerification),
  processing: paymentEventV1(paymentEvents.processing),
  requiresAction: paymentEventV1(paymentEvents.requiresAction),
  succeeded: paymentEventV1(paymentEvents.succeeded),
  failed: paymentEventV1(paymentEvents.failed),
  expired: paymentEventV1(paymentEvents.expired),
  canceled: paymentEventV1(paymentEvents.canceled),
} as const;

const internalEvent = <T extends string>(type: T, description: string) =>
  defineEvent({
    type,
    version: 1,
    topic: TOPICS.paymentInternal.name,
    description,
    payload: internalPaymentSnapshotSchema,
  });

/**
 * The restricted twins of the public events our own stages act on, with the payer's contact data. Each is
 * written beside its public event, in the same transaction, only for these changes: one extra outbox row
 * for a payment entering risk review and one for a payment entering processing.
 */
export const paymentInternalEvents = {
  created: internalEvent(
    "payment.internal.created",
    "Twin of payment.created for a payment accepted into risk review (not for a pre-order awaiting payment): what risk-stub decides on.",
  ),
  submitted: internalEvent(
    "payment.internal.submitted",
    "Twin of payment.submitted: a pre-order was paid and entered risk review.",
  ),
  processing: internalEvent(
    "payment.internal.processing",
    "Twin of payment.processing: the payment passed risk; what the router routes and sends to the channel (carrier billing needs the phone, WeChat Pay the IP).",
  ),
} as const;

/** Public event → the status in which a stage of ours acts on it (risk-stub decides, the router routes), and its twin. */
const TWIN_OF = new Map<string, { status: PaymentStatus; twin: EventDefinition }>([
  [paymentEvents.created.type, { status: "risk_review", twin: paymentInternalEvents.created }],
  [paymentEvents.submitted.type, { status: "risk_review", twin: paymentInternalEvents.submitted }],
  [paymentEvents.processing.type, { status: "processing", twin: paymentInternalEvents.processing }],
]);

/**
 * The restricted twin to write beside a public payment event announcing that a payment entered `status`,
 * or null when no stage of ours needs the payer's contact data for that change (the public event alone).
 */
export function internalTwinOf(publicType: string, status: PaymentStatus): EventDefinition | null {
  const entry = TWIN_OF.get(publicType);
  return entry?.status === status ? entry.twin : null;
}
