import { z } from "zod";
import {
  CAPTURE_METHODS,
  OPERATION_KINDS,
  OPERATION_STATUSES,
  PAYMENT_STATUSES,
  PRODUCTS,
  type PaymentStatus,
} from "@pps/domain";
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
  /**
   * Added to v2 with the payment operations (additive: absent on messages written before them). The money
   * on the payment in minor units: held by an authorization, captured, refunded, and reserved by refunds
   * and cancels in flight.
   */
  captureMethod: z.enum(CAPTURE_METHODS).optional(),
  amountAuthorized: z.number().int().nonnegative().optional(),
  amountCaptured: z.number().int().nonnegative().optional(),
  amountRefunded: z.number().int().nonnegative().optional(),
  amountRefundPending: z.number().int().nonnegative().optional(),
  authorizationExpiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
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
  canceled: paymentEvent(
    "payment.canceled",
    "The payment ended with no money kept: an unpaid pre-order canceled, an authorization voided or expired, or a same-day cancel (撤销) of the whole payment.",
  ),
  requiresCapture: paymentEvent(
    "payment.requires_capture",
    "A manual-capture payment is authorized: the channel holds the amount until it is captured, voided or its window ends (authorizationExpiresAt).",
  ),
  requiresReview: paymentEvent(
    "payment.requires_review",
    "The channel reported a result that does not match the payment (amount or currency): held for an operator, nothing applied.",
  ),
  lateSucceeded: paymentEvent(
    "payment.late_succeeded",
    "A channel confirmed it took the money for a payment we had failed or expired: the payment now says succeeded (or requires_capture). Under the merchant's `refund` policy a full refund follows at once.",
  ),
} as const;

/** The same events at v1 (retired): read, never written. Events added after v2 have no v1. */
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

/** The payment's money as an operation event carries it, after the change. */
export const paymentAmountsSchema = z.object({
  status: z.enum(PAYMENT_STATUSES),
  amount: z.number().int().positive(),
  amountAuthorized: z.number().int().nonnegative(),
  amountCaptured: z.number().int().nonnegative(),
  amountRefunded: z.number().int().nonnegative(),
  amountRefundPending: z.number().int().nonnegative(),
});

/** An operation on a payment (capture, void, cancel, refund) after a change. `version` grows with each of its changes. */
export const operationSnapshotSchema = z.object({
  operationId: z.string(),
  kind: z.enum(OPERATION_KINDS),
  paymentId: z.string(),
  merchantId: z.string(),
  merchantOrderNo: z.string(),
  /** The merchant's own number for the operation (merchant_refund_no for a refund), if it gave one. */
  merchantRef: z.string().nullable(),
  amount: z.number().int().positive(),
  currency: z.string().length(3),
  status: z.enum(OPERATION_STATUSES),
  previousStatus: z.enum(OPERATION_STATUSES).nullable(),
  version: z.number().int().positive(),
  channel: z.string(),
  channelOpId: z.string().nullable(),
  reason: z.string().nullable(),
  /** api | reverse | auto_refund (a late success refunded under the merchant's policy) */
  origin: z.string(),
  failureCode: z.string().nullable(),
  failureMessage: z.string().nullable(),
  payment: paymentAmountsSchema,
  notifyUrl: z.string(),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type OperationSnapshot = z.infer<typeof operationSnapshotSchema>;

const operationEvent = <T extends string>(type: T, description: string) =>
  defineEvent({ type, version: 1, topic: TOPICS.paymentEvents.name, description, payload: operationSnapshotSchema });

/** Operation events, on the payment events topic and keyed by the payment id, so they stay in order with the payment's. */
export const operationEvents = {
  captureCreated: operationEvent("capture.created", "A capture was requested; the channel is being asked."),
  captureSucceeded: operationEvent(
    "capture.succeeded",
    "The channel captured the amount; any rest of the authorization was released.",
  ),
  captureFailed: operationEvent(
    "capture.failed",
    "The channel refused the capture; the authorization stands as it was.",
  ),
  captureRequiresReview: operationEvent(
    "capture.requires_review",
    "The channel's answer does not match the capture: held for an operator.",
  ),
  voidCreated: operationEvent("void.created", "A void (pre-authorization cancel) was requested."),
  voidSucceeded: operationEvent("void.succeeded", "The authorization was released in full."),
  voidFailed: operationEvent("void.failed", "The channel refused the void; the authorization stands."),
  voidRequiresReview: operationEvent(
    "void.requires_review",
    "The channel's answer does not match the void: held for an operator.",
  ),
  cancelCreated: operationEvent(
    "cancel.created",
    "A same-day cancel (撤销) was requested; the whole captured amount is reserved.",
  ),
  cancelSucceeded: operationEvent("cancel.succeeded", "The payment was reversed in full the day it was taken."),
  cancelFailed: operationEvent("cancel.failed", "The channel refused the cancel; its reservation is released."),
  cancelRequiresReview: operationEvent(
    "cancel.requires_review",
    "The channel's answer does not match the cancel: held for an operator.",
  ),
  refundCreated: operationEvent("refund.created", "A refund was requested; its amount is reserved on the payment."),
  refundSucceeded: operationEvent("refund.succeeded", "The channel returned the amount to the payer."),
  refundFailed: operationEvent("refund.failed", "The channel refused the refund; its reservation is released."),
  refundRequiresReview: operationEvent(
    "refund.requires_review",
    "The channel's answer does not match the refund: held for an operator.",
  ),
} as const;

/** The restricted-topic messages for operations and for results payment-api learned by callback. */
export const operationRequestSchema = z.object({
  operationId: z.string(),
  kind: z.enum(OPERATION_KINDS),
  paymentId: z.string(),
  merchantId: z.string(),
  channel: z.string(),
  /** The attempt that took the money (our order reference at the channel) and the channel's id for it. */
  attemptId: z.string(),
  channelTxnId: z.string().nullable(),
  amount: z.number().int().positive(),
  currency: z.string().length(3),
  paymentAmount: z.number().int().positive(),
  reason: z.string().nullable(),
  requestedAt: z.iso.datetime({ offset: true }),
});
export type OperationRequestPayload = z.infer<typeof operationRequestSchema>;

export const channelSettledSchema = z.object({
  paymentId: z.string(),
  /** The attempt (or operation) the channel's callback settled. */
  ref: z.string(),
  subject: z.enum(["attempt", "operation"]),
  channel: z.string(),
  outcome: z.enum(["succeeded", "failed", "authorized"]),
  occurredAt: z.iso.datetime({ offset: true }),
});
export type ChannelSettledPayload = z.infer<typeof channelSettledSchema>;

export const paymentOperationInternalEvents = {
  operationRequested: defineEvent({
    type: "payment.internal.operation_requested",
    version: 1,
    topic: TOPICS.paymentInternal.name,
    description:
      "An operation (capture, void, cancel, refund) was recorded and must be sent to the channel that took the money (the router runs it). Key: payment id.",
    payload: operationRequestSchema,
  }),
  channelSettled: defineEvent({
    type: "payment.internal.channel_settled",
    version: 1,
    topic: TOPICS.paymentInternal.name,
    description:
      "A channel's callback settled an attempt or an operation: the router stops querying the channel about it. Key: payment id.",
    payload: channelSettledSchema,
  }),
} as const;
