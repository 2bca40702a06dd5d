import { z } from "@hono/zod-openapi";
import { OPERATION_KINDS, OPERATION_STATUSES } from "@pps/domain";
import { amountSchema, merchantOrderNoSchema, paymentIdSchema, text, timestampSchema } from "./common.ts";

/** Your own number for an operation: unique per merchant and kind (merchant_refund_no for refunds). */
export const merchantRefSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "1 to 64 of [A-Za-z0-9_-]")
  .openapi({ example: "REFUND-2026-0001" });

export const operationIdSchema = z
  .string()
  .regex(/^(cap|void|cxl|re)_[0-9A-Z]{26}$/, "an operation id (cap_, void_, cxl_ or re_ and 26 characters)")
  .openapi({ example: "re_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX" });

export const refundIdSchema = z
  .string()
  .regex(/^re_[0-9A-Z]{26}$/, "a refund id (re_ and 26 characters)")
  .openapi({ example: "re_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX" });

const reasonSchema = text(256)
  .optional()
  .openapi({ description: "Why, in your words (kept, passed to the channel where it takes one)." });

export const captureBody = z
  .strictObject({
    amount: amountSchema
      .optional()
      .openapi({ description: "Up to the authorized amount; the rest is released. All of it when left out." }),
    merchant_ref: merchantRefSchema.optional(),
  })
  .openapi("CaptureRequest");

export const voidBody = z
  .strictObject({
    amount: amountSchema.optional().openapi({
      description: "A void releases the whole authorization: if given, it must equal the authorized amount.",
    }),
    merchant_ref: merchantRefSchema.optional(),
    reason: reasonSchema,
  })
  .openapi("VoidRequest");

export const cancelBody = z
  .strictObject({ merchant_ref: merchantRefSchema.optional(), reason: reasonSchema })
  .openapi("CancelRequest");

export const refundBody = z
  .strictObject({
    merchant_refund_no: merchantRefSchema.openapi({
      description: "Your own number for this refund, unique per merchant: a second refund needs a new one.",
    }),
    amount: amountSchema.openapi({ description: "Up to what was captured and not yet refunded." }),
    reason: reasonSchema,
  })
  .openapi("RefundRequest");

export const reverseBody = z
  .strictObject({
    merchant_ref: merchantRefSchema.optional().openapi({
      description: "Your own number for what we do (used as merchant_refund_no when it becomes a refund).",
    }),
    reason: reasonSchema,
  })
  .openapi("ReverseRequest");

export const operationKindSchema = z.enum(OPERATION_KINDS).openapi("OperationKind");
export const operationStatusSchema = z.enum(OPERATION_STATUSES).openapi("OperationStatus", {
  description:
    "pending (the channel is being asked; a refund's or cancel's amount is reserved) → succeeded | failed (nothing moved; the reservation is released) | requires_review (the channel's answer did not match: held for an operator).",
});

export const operationSchema = z
  .object({
    id: operationIdSchema,
    object: operationKindSchema.openapi({ description: "capture, void, cancel or refund." }),
    payment_id: paymentIdSchema,
    merchant_order_no: merchantOrderNoSchema,
    merchant_ref: z
      .string()
      .nullable()
      .openapi({ description: "Your number for it (for a refund: merchant_refund_no)." }),
    amount: z.number().int(),
    currency: z.string(),
    status: operationStatusSchema,
    version: z.number().int(),
    channel: z.string(),
    reason: z.string().nullable(),
    origin: z.string().openapi({
      description: "api, reverse, or auto_refund (a late success refunded under your late_success_policy).",
    }),
    failure: z.object({ code: z.string(), message: z.string().nullable() }).nullable(),
    created_at: timestampSchema,
    updated_at: timestampSchema,
    completed_at: timestampSchema.nullable(),
  })
  .openapi("Operation", { description: "An operation on a payment: capture, void, cancel (撤销) or refund (退款)." });
export type Operation = z.output<typeof operationSchema>;

export const refundListSchema = z
  .object({ data: z.array(operationSchema) })
  .openapi("RefundList", { description: "A payment's refunds, oldest first." });

export const refundIdParams = z.object({ id: refundIdSchema.openapi({ param: { name: "id", in: "path" } }) });
export const byRefundNoQuery = z.strictObject({ merchant_refund_no: merchantRefSchema });

export const reviewBody = z
  .strictObject({
    outcome: z.enum(["succeeded", "failed"]).openapi({
      description:
        "What the channel's own record shows after looking: succeeded (it took, or moved, the amount we asked for) or failed (it did not).",
    }),
    note: text(500).openapi({ description: "Why: what was checked (kept in the audit trail)." }),
  })
  .openapi("ReviewDecision");

export const operationIdParams = z.object({ id: operationIdSchema.openapi({ param: { name: "id", in: "path" } }) });
