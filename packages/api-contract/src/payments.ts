import { z } from "@hono/zod-openapi";
import { API_PRODUCTS, CAPTURE_METHODS, PAYMENT_STATUSES } from "@pps/domain";
import { operationSchema } from "./operations.ts";
import {
  amountSchema,
  currencySchema,
  httpUrl,
  merchantIdSchema,
  merchantOrderNoSchema,
  payerIdSchema,
  paymentIdSchema,
  text,
  timestampSchema,
} from "./common.ts";

export const productSchema = z
  .enum(API_PRODUCTS)
  .openapi("Product", { description: "The payment products this API accepts." });
export const paymentStatusSchema = z.enum(PAYMENT_STATUSES).openapi("PaymentStatus", {
  description:
    "awaiting_payment (pre-order) → risk_review → requires_verification (risk asked for an SMS code) → processing → requires_action (the payer must act) → succeeded | failed | expired | canceled; requires_capture (capture_method manual: authorized, awaiting capture or void); requires_review (the channel's result did not match: held for an operator). A success the channel reports after failed or expired is applied.",
});

export const payerSchema = z
  .strictObject({
    id: payerIdSchema,
    ip: z.union([z.ipv4(), z.ipv6()]).optional().openapi({ description: "The payer's IP address (risk)." }),
    device_id: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,128}$/, "1 to 128 of [A-Za-z0-9_.:-]")
      .optional(),
    phone: z
      .string()
      .regex(/^\+?[1-9][0-9]{6,14}$/, "an E.164 phone number")
      .optional()
      .openapi({ description: "Required for carrier billing; SMS codes go here." }),
  })
  .openapi("Payer");

export const methodSchema = z
  .strictObject({
    bank_code: z
      .string()
      .regex(/^[A-Z]{2,10}$/, "2 to 10 capital letters")
      .optional()
      .openapi({ description: "online_banking: the payer's bank, e.g. CMB, ICBC." }),
    card_type: z.enum(["debit", "credit"]).optional(),
    wallet: z.enum(["wechat", "alipay"]).optional().openapi({ description: "platform_pay: which wallet." }),
    flow: z.enum(["qr_code", "deeplink"]).optional(),
  })
  .openapi("PaymentMethod", { description: "How the payer chose to pay; the executing channel may differ (routing)." });

export const metadataSchema = z
  .record(z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/), z.string().max(500))
  .refine((m) => Object.keys(m).length <= 20, "at most 20 keys")
  .openapi({ description: "Up to 20 keys of your own, returned as sent." });

export const createPaymentBody = z
  .strictObject({
    merchant_order_no: merchantOrderNoSchema,
    product: productSchema,
    amount: amountSchema,
    currency: currencySchema,
    subject: text(128).openapi({ description: "What is being paid for, shown to the payer." }),
    payer: payerSchema,
    method: methodSchema.default({}),
    notify_url: httpUrl.openapi({ description: "Where we send signed notifications of every change." }),
    return_url: httpUrl.openapi({ description: "Where the payer returns after paying at the channel." }),
    expires_in: z
      .number()
      .int()
      .min(60)
      .max(7 * 86_400)
      .optional()
      .openapi({ description: "Seconds the payment may stay unpaid; the platform's default otherwise." }),
    metadata: metadataSchema.default({}),
    capture_method: z.enum(CAPTURE_METHODS).default("automatic").openapi({
      description:
        "manual: authorize only (pre-authorization, 预授权): the payment stops in requires_capture until you capture or void it, or the channel's window ends. Only channels that offer pre-authorization take it.",
    }),
  })
  .openapi("CreatePaymentRequest");
export type CreatePaymentBody = z.output<typeof createPaymentBody>;
export type CreatePaymentParams = z.input<typeof createPaymentBody>;

export const verifyPaymentBody = z
  .strictObject({ code: z.string().regex(/^[0-9]{6}$/, "six digits") })
  .openapi("VerifyPaymentRequest");

const failureSchema = z
  .object({ code: z.string(), message: z.string().nullable() })
  .nullable()
  .openapi("Failure", { description: "Why the payment or attempt failed (stable channel-neutral code)." });

export const nextActionSchema = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("redirect"), url: z.string() }),
    z.object({ type: z.literal("qr_code"), payload: z.string(), deeplink: z.string().nullable() }),
    z.object({ type: z.literal("sms_confirmation"), phoneMasked: z.string() }),
  ])
  .nullable()
  .openapi("NextAction", { description: "What the payer must do while the payment is requires_action." });

export const paymentSchema = z
  .object({
    id: paymentIdSchema,
    object: z.literal("payment"),
    merchant_id: merchantIdSchema,
    merchant_order_no: z.string(),
    product: productSchema,
    amount: z.number().int(),
    currency: z.string(),
    subject: z.string(),
    status: paymentStatusSchema,
    version: z
      .number()
      .int()
      .openapi({ description: "Grows by one with every change; ignore events older than the version you hold." }),
    payer: z.object({ id: z.string() }),
    method: z.object({
      bank_code: z.string().nullable(),
      card_type: z.string().nullable(),
      wallet: z.string().nullable(),
      flow: z.string().nullable(),
    }),
    channel: z.string().nullable(),
    next_action: nextActionSchema,
    failure: failureSchema,
    settlement: z
      .object({ amount: z.number().int(), currency: z.string(), fxRate: z.string() })
      .nullable()
      .openapi({ description: "Foreign card: what settles in CNY, and at which rate." }),
    metadata: z.record(z.string(), z.string()),
    capture_method: z.enum(CAPTURE_METHODS),
    amount_authorized: z
      .number()
      .int()
      .openapi({ description: "Held at the channel (a sale holds and takes at once)." }),
    amount_captured: z.number().int().openapi({ description: "Taken from the payer." }),
    amount_refunded: z.number().int().openapi({ description: "Returned by refunds and cancels that succeeded." }),
    amount_refund_pending: z.number().int().openapi({ description: "Reserved by refunds and cancels in flight." }),
    authorization_expires_at: timestampSchema
      .nullable()
      .openapi({ description: "requires_capture: when the channel releases the hold by itself." }),
    captured_at: timestampSchema.nullable(),
    pay_url: z.string().optional().openapi({ description: "Pre-orders only: the link the payer opens to pay." }),
    expires_at: timestampSchema,
    created_at: timestampSchema,
    updated_at: timestampSchema,
  })
  .openapi("Payment");
export type Payment = z.output<typeof paymentSchema>;

export const paymentAttemptSchema = z
  .object({
    id: z.string(),
    attempt_no: z.number().int(),
    channel: z.string(),
    outcome: z.string(),
    channel_txn_id: z.string().nullable(),
    failure: failureSchema,
    updated_at: timestampSchema,
  })
  .openapi("PaymentAttempt");

export const transitionSchema = z
  .object({
    from: paymentStatusSchema.nullable(),
    to: paymentStatusSchema,
    version: z.number().int(),
    cause: z.string(),
    at: timestampSchema,
  })
  .openapi("PaymentTransition");

export const paymentDetailSchema = paymentSchema
  .extend({
    attempts: z.array(paymentAttemptSchema),
    timeline: z.array(transitionSchema),
    operations: z
      .array(operationSchema)
      .openapi({ description: "Captures, voids, cancels and refunds, oldest first." }),
  })
  .openapi("PaymentDetail", {
    description: "A payment with its channel attempts, its operations and every transition.",
  });
export type PaymentDetail = z.output<typeof paymentDetailSchema>;

export const byOrderNoQuery = z.strictObject({ merchant_order_no: merchantOrderNoSchema });
export const paymentIdParams = z.object({ id: paymentIdSchema.openapi({ param: { name: "id", in: "path" } }) });

export const verificationResentSchema = z
  .object({
    payment_id: paymentIdSchema,
    sent_to: z.string(),
    expires_at: timestampSchema,
    resends_left: z.number().int(),
  })
  .openapi("VerificationResent");

export const eventEnvelopeSchema = z
  .object({
    id: z.string(),
    type: z.string().openapi({ example: "payment.succeeded" }),
    version: z.number().int().openapi({ description: "The version of the event schema (see docs/events)." }),
    occurredAt: timestampSchema,
    aggregateId: z.string(),
    payload: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The payment snapshot: see the AsyncAPI document in docs/events." }),
  })
  .openapi("EventEnvelope");
export type EventEnvelope = z.output<typeof eventEnvelopeSchema>;

export const eventsQuery = z.strictObject({
  after: z
    .string()
    .regex(/^\d{1,18}$/, "a cursor from a previous page")
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const eventsPageSchema = z
  .object({ data: z.array(eventEnvelopeSchema), next_cursor: z.string().nullable(), has_more: z.boolean() })
  .openapi("EventsPage");
export type EventsPage = z.output<typeof eventsPageSchema>;

export const payLinkParams = z.object({
  token: z
    .string()
    .regex(/^pay_[0-9A-Z]{26}\.\d{1,12}\.[A-Za-z0-9_-]{32}$/, "a pay link token")
    .openapi({ param: { name: "token", in: "path" } }),
});
