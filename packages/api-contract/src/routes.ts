import { createRoute, z } from "@hono/zod-openapi";
import type { ErrorCode } from "@pps/domain";
import { AUTH_ERRORS, errorResponses, json, MUTATION_ERRORS, noQuery } from "./common.ts";
import {
  createdMerchantSchema,
  createMerchantBody,
  merchantIdParams,
  merchantSchema,
  merchantSigningSchema,
  payerIdParams,
  payerStatusBody,
  payerStatusSchema,
  platformKeySchema,
  updateMerchantBody,
} from "./admin.ts";
import { adminHeaders, signedMutationHeaders, signedReadHeaders } from "./headers.ts";
import {
  accountIdParams,
  accountSchema,
  accountStatusBody,
  adjustmentBody,
  coinGrantBody,
  creditLimitBody,
  openAccountBody,
  postedEntrySchema,
  statementQuery,
  statementSchema,
} from "./ledger.ts";
import {
  notificationIdParams,
  notificationListSchema,
  notificationSchema,
  paymentNotificationsParams,
} from "./notifications.ts";
import {
  byRefundNoQuery,
  operationIdParams,
  reviewBody,
  cancelBody,
  captureBody,
  operationSchema,
  refundBody,
  refundIdParams,
  refundListSchema,
  reverseBody,
  voidBody,
} from "./operations.ts";
import {
  byOrderNoQuery,
  createPaymentBody,
  eventsPageSchema,
  eventsQuery,
  payLinkParams,
  paymentDetailSchema,
  paymentIdParams,
  paymentSchema,
  verificationResentSchema,
  verifyPaymentBody,
} from "./payments.ts";

/**
 * Every HTTP route of payment-api, defined once: payment-api registers its handlers on these (so the OpenAPI
 * document is generated from the routes themselves), and the SDK derives its calls and types from them.
 */

const merchantSecurity = [{ MerchantSignature: [] }];
const adminSecurity = [{ AdminToken: [] }];

const jsonBody = <S extends z.ZodType>(schema: S) => ({ required: true, content: json(schema) });

const ACCEPT_ERRORS = [
  ...MUTATION_ERRORS,
  "merchant.product_not_enabled",
  "payer.frozen",
  "payment.duplicate_order_no",
  "payment.amount_out_of_range",
  "payment.currency_not_supported",
  "payment.product_not_supported",
  "internal.overloaded",
] as const;

export const createPayment = createRoute({
  method: "post",
  path: "/v1/payments",
  operationId: "createPayment",
  tags: ["Payments"],
  summary: "Create a payment and start paying it",
  description:
    "Accepted payments move through risk and routing asynchronously: query the payment or wait for its notifications.",
  security: merchantSecurity,
  request: { headers: signedMutationHeaders, query: noQuery, body: jsonBody(createPaymentBody) },
  responses: {
    201: { description: "Accepted; the result follows asynchronously.", content: json(paymentSchema) },
    ...errorResponses(ACCEPT_ERRORS),
  },
});

export const createOrder = createRoute({
  method: "post",
  path: "/v1/orders",
  operationId: "createOrder",
  tags: ["Payments"],
  summary: "Create a pre-order and a pay link for the payer",
  description:
    "The order waits in awaiting_payment until the payer confirms it at `pay_url` (valid for the pay-link interval) or it expires.",
  security: merchantSecurity,
  request: { headers: signedMutationHeaders, query: noQuery, body: jsonBody(createPaymentBody) },
  responses: {
    201: { description: "The unpaid order with pay_url.", content: json(paymentSchema) },
    ...errorResponses(ACCEPT_ERRORS),
  },
});

export const getPayment = createRoute({
  method: "get",
  path: "/v1/payments/{id}",
  operationId: "getPayment",
  tags: ["Payments"],
  summary: "Get a payment with its attempts and timeline",
  security: merchantSecurity,
  request: { headers: signedReadHeaders, params: paymentIdParams, query: noQuery },
  responses: {
    200: { description: "The payment.", content: json(paymentDetailSchema) },
    ...errorResponses([...AUTH_ERRORS, "payment.not_found"]),
  },
});

export const getPaymentByOrderNo = createRoute({
  method: "get",
  path: "/v1/payments",
  operationId: "getPaymentByOrderNo",
  tags: ["Payments"],
  summary: "Find a payment by your order number",
  security: merchantSecurity,
  request: { headers: signedReadHeaders, query: byOrderNoQuery },
  responses: {
    200: { description: "The payment.", content: json(paymentDetailSchema) },
    ...errorResponses([...AUTH_ERRORS, "payment.not_found"]),
  },
});

const VERIFICATION_ERRORS = [
  ...MUTATION_ERRORS,
  "payment.not_found",
  "payment.invalid_state",
  "payment.expired",
  "payer.frozen",
] as const;

export const verifyPayment = createRoute({
  method: "post",
  path: "/v1/payments/{id}/verify",
  operationId: "verifyPayment",
  tags: ["Payments"],
  summary: "Submit the SMS code of a payment that requires verification",
  description:
    "A right code moves the payment on to processing. A wrong one answers 422 with `details.attempts_left`; the last wrong one fails the payment (423).",
  security: merchantSecurity,
  request: {
    headers: signedMutationHeaders,
    params: paymentIdParams,
    query: noQuery,
    body: jsonBody(verifyPaymentBody),
  },
  responses: {
    200: { description: "Verified; the payment goes on.", content: json(paymentSchema) },
    ...errorResponses([...VERIFICATION_ERRORS, "payment.verification_failed", "payment.verification_locked"]),
  },
});

export const resendVerification = createRoute({
  method: "post",
  path: "/v1/payments/{id}/verification/resend",
  operationId: "resendVerification",
  tags: ["Payments"],
  summary: "Send a new SMS code (the previous one stops working)",
  description:
    "At most OTP_MAX_RESENDS new codes per payment; wrong tries keep counting across codes. Send an empty body or `{}`.",
  security: merchantSecurity,
  request: { headers: signedMutationHeaders, params: paymentIdParams, query: noQuery },
  responses: {
    200: { description: "A new code was sent.", content: json(verificationResentSchema) },
    ...errorResponses([...VERIFICATION_ERRORS, "payment.verification_resend_limit"]),
  },
});

export const listEvents = createRoute({
  method: "get",
  path: "/v1/events",
  operationId: "listEvents",
  tags: ["Events"],
  summary: "Every event about your payments, oldest first",
  description:
    "Pull what you missed: keep `next_cursor` of the last page and pass it as `after`. The same envelopes as on Kafka and in notifications.",
  security: merchantSecurity,
  request: { headers: signedReadHeaders, query: eventsQuery },
  responses: {
    200: { description: "A page of events.", content: json(eventsPageSchema) },
    ...errorResponses(AUTH_ERRORS),
  },
});

export const listPaymentNotifications = createRoute({
  method: "get",
  path: "/v1/payments/{id}/notifications",
  operationId: "listPaymentNotifications",
  tags: ["Notifications"],
  summary: "The notifications of a payment, with every delivery attempt",
  security: merchantSecurity,
  request: { headers: signedReadHeaders, params: paymentNotificationsParams, query: noQuery },
  responses: {
    200: { description: "Newest first.", content: json(notificationListSchema) },
    ...errorResponses([...AUTH_ERRORS, "payment.not_found"]),
  },
});

export const resendNotification = createRoute({
  method: "post",
  path: "/v1/notifications/{id}/resend",
  operationId: "resendNotification",
  tags: ["Notifications"],
  summary: "Deliver a notification again, in a new attempt series from now",
  description: "Send an empty body or `{}`.",
  security: merchantSecurity,
  request: { headers: signedMutationHeaders, params: notificationIdParams, query: noQuery },
  responses: {
    200: { description: "Scheduled.", content: json(notificationSchema) },
    ...errorResponses([...MUTATION_ERRORS, "request.not_found"]),
  },
});

export const getPlatformKey = createRoute({
  method: "get",
  path: "/v1/platform-key",
  operationId: "getPlatformKey",
  tags: ["Signing"],
  summary: "Our RSA public key (verifies responses and notifications to RSA_SHA256 merchants)",
  request: { query: noQuery },
  responses: {
    200: { description: "The key.", content: json(platformKeySchema) },
    ...errorResponses(["request.validation_failed"]),
  },
});

export const showPayLink = createRoute({
  method: "get",
  path: "/v1/pay/{token}",
  operationId: "showPayLink",
  tags: ["Payer"],
  summary: "The payer's confirmation page of a pay link",
  description: "Opening the link never pays (link previews are safe); the page's form posts to the same URL.",
  request: { params: payLinkParams, query: noQuery },
  responses: {
    200: { description: "An HTML page.", content: { "text/html": { schema: z.string() } } },
    ...errorResponses(["payment.not_found", "payment.pay_link_expired", "request.validation_failed"]),
  },
});

export const payPayLink = createRoute({
  method: "post",
  path: "/v1/pay/{token}",
  operationId: "payPayLink",
  tags: ["Payer"],
  summary: "The payer confirms a pre-order",
  request: { params: payLinkParams, query: noQuery },
  responses: {
    200: { description: "Submitted for payment.", content: json(paymentSchema) },
    ...errorResponses([
      "payment.not_found",
      "payment.pay_link_expired",
      "payment.invalid_state",
      "payment.expired",
      "merchant.inactive",
      "payer.frozen",
      "request.validation_failed",
      "request.body_too_large",
    ]),
  },
});

export const channelCallback = createRoute({
  method: "post",
  path: "/v1/channel-callbacks/{channel}",
  operationId: "channelCallback",
  tags: ["Channels"],
  summary: "A channel reports an attempt's final result",
  description:
    "Each channel posts in its own format and signs it with its own key; the answer is the channel's own acknowledgement. Duplicated, stale and forged callbacks change nothing wrongly; every callback is recorded.",
  request: {
    params: z.object({
      channel: z
        .string()
        .regex(/^[a-z_]{1,32}$/)
        .openapi({ param: { name: "channel", in: "path" }, example: "wechat" }),
    }),
    query: noQuery,
    body: {
      required: true,
      content: {
        "application/octet-stream": {
          schema: z.string().openapi({ description: "The channel's own signed message (form, JSON or XML)." }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "The channel's acknowledgement, in its format.",
      content: { "text/plain": { schema: z.string() } },
    },
    ...errorResponses([
      "channel.unknown",
      "channel.signature_invalid",
      "channel.callback_mismatch",
      "request.validation_failed",
      "request.body_too_large",
      "request.invalid_characters",
    ]),
  },
});

const ADMIN_ERRORS = [
  "auth.admin_token_invalid",
  "request.validation_failed",
  "request.invalid_json",
  "request.json_too_deep",
  "request.unsupported_media_type",
  "request.body_too_large",
  "request.invalid_characters",
] as const;

export const createMerchant = createRoute({
  method: "post",
  path: "/v1/admin/merchants",
  operationId: "createMerchant",
  tags: ["Admin"],
  summary: "Onboard a merchant (the secret key is shown once)",
  security: adminSecurity,
  request: { headers: adminHeaders, query: noQuery, body: jsonBody(createMerchantBody) },
  responses: {
    201: { description: "The merchant and its secret key.", content: json(createdMerchantSchema) },
    ...errorResponses([...ADMIN_ERRORS, "request.conflict"]),
  },
});

export const updateMerchant = createRoute({
  method: "patch",
  path: "/v1/admin/merchants/{id}",
  operationId: "updateMerchant",
  tags: ["Admin"],
  summary: "Suspend, close or reactivate a merchant; change its products or signing format",
  security: adminSecurity,
  request: { headers: adminHeaders, params: merchantIdParams, query: noQuery, body: jsonBody(updateMerchantBody) },
  responses: {
    200: { description: "The merchant.", content: json(merchantSchema) },
    ...errorResponses([...ADMIN_ERRORS, "request.not_found"]),
  },
});

export const setPayerStatus = createRoute({
  method: "put",
  path: "/v1/admin/payers/{id}",
  operationId: "setPayerStatus",
  tags: ["Admin"],
  summary: "Freeze or unfreeze a payer",
  security: adminSecurity,
  request: { headers: adminHeaders, params: payerIdParams, query: noQuery, body: jsonBody(payerStatusBody) },
  responses: {
    200: { description: "The payer's status.", content: json(payerStatusSchema) },
    ...errorResponses(ADMIN_ERRORS),
  },
});

export const resolvePaymentReview = createRoute({
  method: "post",
  path: "/v1/admin/payments/{id}/review",
  operationId: "resolvePaymentReview",
  tags: ["Admin"],
  summary: "Decide a payment held for review (requires_review)",
  description:
    "A channel reported a result whose amount or currency did not match the payment, so nothing was applied. After checking the channel's record, say whether it took the payment's amount (succeeded: applied in full) or not (failed).",
  security: adminSecurity,
  request: { headers: adminHeaders, params: paymentIdParams, query: noQuery, body: jsonBody(reviewBody) },
  responses: {
    200: { description: "The payment after the decision.", content: json(paymentSchema) },
    ...errorResponses([...ADMIN_ERRORS, "payment.not_found", "payment.invalid_state"]),
  },
});

export const resolveOperationReview = createRoute({
  method: "post",
  path: "/v1/admin/operations/{id}/review",
  operationId: "resolveOperationReview",
  tags: ["Admin"],
  summary: "Decide an operation held for review (requires_review)",
  description:
    "A channel reported an operation result that did not match it (amount, currency), so it keeps its reservation and moved nothing. succeeded applies it (a refund's amount becomes refunded); failed releases it.",
  security: adminSecurity,
  request: { headers: adminHeaders, params: operationIdParams, query: noQuery, body: jsonBody(reviewBody) },
  responses: {
    200: { description: "The operation after the decision.", content: json(operationSchema) },
    ...errorResponses([...ADMIN_ERRORS, "operation.not_found", "payment.invalid_state"]),
  },
});

export const getMerchantSigning = createRoute({
  method: "get",
  path: "/internal/v1/merchants/{id}/signing",
  operationId: "getMerchantSigning",
  tags: ["Internal"],
  summary: "A merchant's signing scheme and key, for the notifier (inside the cluster only)",
  security: [{ InternalToken: [] }],
  request: { headers: adminHeaders, params: merchantIdParams, query: noQuery },
  responses: {
    200: { description: "The signing material.", content: json(merchantSigningSchema) },
    ...errorResponses(["auth.admin_token_invalid", "merchant.unknown"]),
  },
});

const ACCOUNT_ERRORS = [...ADMIN_ERRORS, "account.not_found"] as const;

export const openLedgerAccount = createRoute({
  method: "post",
  path: "/v1/admin/accounts",
  operationId: "openLedgerAccount",
  tags: ["Admin"],
  summary: "Open a payer's wallet, coin balance or credit line (or answer the one already open)",
  security: adminSecurity,
  request: { headers: adminHeaders, query: noQuery, body: jsonBody(openAccountBody) },
  responses: {
    200: { description: "The account.", content: json(accountSchema) },
    ...errorResponses([...ADMIN_ERRORS, "account.currency_mismatch"]),
  },
});

export const getLedgerAccount = createRoute({
  method: "get",
  path: "/v1/admin/accounts/{id}",
  operationId: "getLedgerAccount",
  tags: ["Admin"],
  summary: "An account's balance, what it holds, its limit and its audit trail",
  security: adminSecurity,
  request: { headers: adminHeaders, params: accountIdParams, query: noQuery },
  responses: {
    200: { description: "The account.", content: json(accountSchema) },
    ...errorResponses(ACCOUNT_ERRORS),
  },
});

export const getLedgerStatement = createRoute({
  method: "get",
  path: "/v1/admin/accounts/{id}/statement",
  operationId: "getLedgerStatement",
  tags: ["Admin"],
  summary: "An account's postings, oldest first, by cursor",
  security: adminSecurity,
  request: { headers: adminHeaders, params: accountIdParams, query: statementQuery },
  responses: {
    200: { description: "A page of the statement.", content: json(statementSchema) },
    ...errorResponses(ACCOUNT_ERRORS),
  },
});

export const setLedgerAccountStatus = createRoute({
  method: "put",
  path: "/v1/admin/accounts/{id}/status",
  operationId: "setLedgerAccountStatus",
  tags: ["Admin"],
  summary: "Freeze (no spending; money still comes in), reactivate or close an account",
  security: adminSecurity,
  request: { headers: adminHeaders, params: accountIdParams, query: noQuery, body: jsonBody(accountStatusBody) },
  responses: {
    200: { description: "The account.", content: json(accountSchema) },
    ...errorResponses(ACCOUNT_ERRORS),
  },
});

export const setCreditLimit = createRoute({
  method: "put",
  path: "/v1/admin/accounts/{id}/credit-limit",
  operationId: "setCreditLimit",
  tags: ["Admin"],
  summary: "Set a credit line's limit (never below what is in use)",
  security: adminSecurity,
  request: { headers: adminHeaders, params: accountIdParams, query: noQuery, body: jsonBody(creditLimitBody) },
  responses: {
    200: { description: "The credit line.", content: json(accountSchema) },
    ...errorResponses([...ACCOUNT_ERRORS, "account.kind_not_supported", "account.limit_below_used"]),
  },
});

export const postAdjustment = createRoute({
  method: "post",
  path: "/v1/admin/accounts/{id}/adjustments",
  operationId: "postAdjustment",
  tags: ["Admin"],
  summary: "Credit or debit an account against the platform's adjustment account, with a reason",
  security: adminSecurity,
  request: { headers: adminHeaders, params: accountIdParams, query: noQuery, body: jsonBody(adjustmentBody) },
  responses: {
    200: { description: "The entry posted (or posted before under this id).", content: json(postedEntrySchema) },
    ...errorResponses([
      ...ACCOUNT_ERRORS,
      "account.frozen",
      "account.closed",
      "account.insufficient_funds",
      "account.credit_limit_exceeded",
      "request.idempotency_key_reused",
    ]),
  },
});

export const grantCoins = createRoute({
  method: "post",
  path: "/v1/admin/accounts/{id}/coin-grants",
  operationId: "grantCoins",
  tags: ["Admin"],
  summary: "Grant coins to a payer's coin account, from the platform's issuance",
  security: adminSecurity,
  request: { headers: adminHeaders, params: accountIdParams, query: noQuery, body: jsonBody(coinGrantBody) },
  responses: {
    200: { description: "The entry posted (or posted before under this id).", content: json(postedEntrySchema) },
    ...errorResponses([
      ...ACCOUNT_ERRORS,
      "account.closed",
      "account.kind_not_supported",
      "request.idempotency_key_reused",
    ]),
  },
});

const OPERATION_ERRORS = [
  ...MUTATION_ERRORS,
  "payment.not_found",
  "payment.invalid_state",
  "operation.duplicate_ref",
  "operation.flow_not_supported",
  "operation.in_progress",
] as const;

const operationRoute = <P extends string, S extends z.ZodType>(def: {
  path: P;
  operationId: string;
  summary: string;
  description: string;
  body: S;
  errors: readonly ErrorCode[];
}) =>
  createRoute({
    method: "post",
    path: def.path,
    operationId: def.operationId,
    tags: ["Operations"],
    summary: def.summary,
    description: def.description,
    security: merchantSecurity,
    request: { headers: signedMutationHeaders, params: paymentIdParams, query: noQuery, body: jsonBody(def.body) },
    responses: {
      201: {
        description:
          "Recorded and sent to the channel that took the money; the result follows (notification, or query).",
        content: json(operationSchema),
      },
      ...errorResponses([...OPERATION_ERRORS, ...def.errors]),
    },
  });

export const capturePayment = operationRoute({
  path: "/v1/payments/{id}/capture",
  operationId: "capturePayment",
  summary: "Capture an authorized payment (预授权完成)",
  description:
    "Takes up to the authorized amount, once; the rest of the authorization is released. The payment must be requires_capture and its authorization not expired.",
  body: captureBody,
  errors: ["operation.amount_exceeds_authorized", "operation.partial_not_allowed", "operation.authorization_expired"],
});

export const voidPayment = operationRoute({
  path: "/v1/payments/{id}/void",
  operationId: "voidPayment",
  summary: "Void an authorization (预授权撤销)",
  description: "Releases the whole authorized amount before it is captured. A partial void is refused.",
  body: voidBody,
  errors: ["operation.partial_not_allowed", "operation.authorization_expired"],
});

export const cancelPayment = operationRoute({
  path: "/v1/payments/{id}/cancel",
  operationId: "cancelPayment",
  summary: "Cancel a captured payment the same day (撤销)",
  description:
    "Reverses the whole payment on the channel's settlement day, before its cut-off (23:00 Beijing time by default), on channels that offer it, and only if nothing was refunded. Later, refund it.",
  body: cancelBody,
  errors: ["operation.cancel_window_closed"],
});

export const refundPayment = operationRoute({
  path: "/v1/payments/{id}/refunds",
  operationId: "refundPayment",
  summary: "Refund part or all of a payment (退款)",
  description:
    "Any number of refunds, each with its own merchant_refund_no, never more in total than was captured: the check and the reservation are one statement. A refund that fails releases its reservation.",
  body: refundBody,
  errors: [
    "operation.amount_exceeds_refundable",
    "operation.partial_not_allowed",
    "operation.not_settled",
    "operation.refund_window_closed",
    "operation.refund_limit_reached",
  ],
});

export const reversePayment = operationRoute({
  path: "/v1/payments/{id}/reverse",
  operationId: "reversePayment",
  summary: "Undo a payment, whatever it takes",
  description:
    "Picks for you from the channel's rules and the clock: an authorization is voided; a capture on its settlement day at a channel that cancels is canceled; anything else is refunded for what remains refundable. The answer's `object` says which.",
  body: reverseBody,
  errors: [
    "operation.amount_exceeds_refundable",
    "operation.refund_window_closed",
    "operation.refund_limit_reached",
    "operation.authorization_expired",
  ],
});

export const getRefund = createRoute({
  method: "get",
  path: "/v1/refunds/{id}",
  operationId: "getRefund",
  tags: ["Operations"],
  summary: "Get a refund",
  security: merchantSecurity,
  request: { headers: signedReadHeaders, params: refundIdParams, query: noQuery },
  responses: {
    200: { description: "The refund.", content: json(operationSchema) },
    ...errorResponses([...AUTH_ERRORS, "operation.not_found"]),
  },
});

export const getRefundByNo = createRoute({
  method: "get",
  path: "/v1/refunds",
  operationId: "getRefundByNo",
  tags: ["Operations"],
  summary: "Find a refund by your merchant_refund_no",
  security: merchantSecurity,
  request: { headers: signedReadHeaders, query: byRefundNoQuery },
  responses: {
    200: { description: "The refund.", content: json(operationSchema) },
    ...errorResponses([...AUTH_ERRORS, "operation.not_found"]),
  },
});

export const listPaymentRefunds = createRoute({
  method: "get",
  path: "/v1/payments/{id}/refunds",
  operationId: "listPaymentRefunds",
  tags: ["Operations"],
  summary: "The refunds of a payment",
  security: merchantSecurity,
  request: { headers: signedReadHeaders, params: paymentIdParams, query: noQuery },
  responses: {
    200: { description: "Oldest first.", content: json(refundListSchema) },
    ...errorResponses([...AUTH_ERRORS, "payment.not_found"]),
  },
});

/** The merchant calls, as the SDK sees them. */
export const merchantRoutes = {
  createPayment,
  createOrder,
  getPayment,
  getPaymentByOrderNo,
  verifyPayment,
  resendVerification,
  listEvents,
  listPaymentNotifications,
  resendNotification,
  getPlatformKey,
  capturePayment,
  voidPayment,
  cancelPayment,
  refundPayment,
  reversePayment,
  getRefund,
  getRefundByNo,
  listPaymentRefunds,
} as const;

export const paymentApiRoutes = {
  ...merchantRoutes,
  showPayLink,
  payPayLink,
  channelCallback,
  createMerchant,
  updateMerchant,
  setPayerStatus,
  resolvePaymentReview,
  resolveOperationReview,
  openLedgerAccount,
  getLedgerAccount,
  getLedgerStatement,
  setLedgerAccountStatus,
  setCreditLimit,
  postAdjustment,
  grantCoins,
  getMerchantSigning,
} as const;
