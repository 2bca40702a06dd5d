import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { inboxTable, outboxTable } from "./common.ts";

/** Owned by payment-api: merchants, payer accounts, payments and their audit trail, idempotency keys, nonces, outbox. */
export const paymentSchema = pgSchema("payment");
export const paymentOutbox = outboxTable(paymentSchema);
export const paymentInbox = inboxTable(paymentSchema);

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

export const merchants = paymentSchema.table("merchants", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** active | suspended | closed */
  status: text("status").notNull().default("active"),
  /** HMAC_SHA256 | MD5 | RSA_SHA256: how this merchant signs its requests (and how we sign its notifications). */
  signScheme: text("sign_scheme").notNull().default("HMAC_SHA256"),
  /**
   * v2 | legacy_params: what the signature covers (docs/signing.md). v2 pins the exact request bytes; merchants
   * that existed before it were moved to legacy_params by migration 0009 and move to v2 when they are ready.
   */
  signFormat: text("sign_format").notNull().default("v2"),
  /** Shared secret for HMAC/MD5. Kept in the database for now; see the README on key storage. */
  secretKey: text("secret_key").notNull(),
  /** The merchant's RSA public key (PEM) for RSA_SHA256 requests. */
  publicKey: text("public_key"),
  enabledProducts: text("enabled_products").array().notNull(),
  /**
   * apply | refund: what happens when a channel reports a success for a payment we had failed or expired.
   * Either way the payment says it succeeded and the merchant is told (payment.late_succeeded); `refund`
   * also refunds it in full at once.
   */
  lateSuccessPolicy: text("late_success_policy").notNull().default("apply"),
  createdAt: ts("created_at").notNull().default(sql`now()`),
  updatedAt: ts("updated_at").notNull().default(sql`now()`),
});

/** Payer accounts we know a status for. A payer with no row is active. */
export const payerAccounts = paymentSchema.table("payer_accounts", {
  payerId: text("payer_id").primaryKey(),
  /** active | frozen */
  status: text("status").notNull(),
  reason: text("reason"),
  updatedAt: ts("updated_at").notNull().default(sql`now()`),
});

export const payments = paymentSchema.table(
  "payments",
  {
    id: text("id").primaryKey(),
    merchantId: text("merchant_id").notNull(),
    merchantOrderNo: text("merchant_order_no").notNull(),
    product: text("product").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    subject: text("subject").notNull(),
    status: text("status").notNull(),
    /** Grows by one with every state change; the conditional-update guard and the events' order key. */
    version: integer("version").notNull().default(1),
    payerId: text("payer_id").notNull(),
    payerIp: text("payer_ip"),
    payerDeviceId: text("payer_device_id"),
    payerPhone: text("payer_phone"),
    method: jsonb("method").notNull(),
    notifyUrl: text("notify_url").notNull(),
    returnUrl: text("return_url").notNull(),
    metadata: jsonb("metadata").notNull(),
    /** automatic | manual (authorize now, capture later). */
    captureMethod: text("capture_method").notNull().default("automatic"),
    /**
     * The money on the payment, in minor units, changed only by conditional updates. A refund or cancel
     * reserves its amount in `amount_refund_pending` with the check in the same statement, so
     * refunded + pending never passes captured under any concurrency (and the constraint below says so).
     */
    amountAuthorized: bigint("amount_authorized", { mode: "number" }).notNull().default(0),
    amountCaptured: bigint("amount_captured", { mode: "number" }).notNull().default(0),
    amountRefunded: bigint("amount_refunded", { mode: "number" }).notNull().default(0),
    amountRefundPending: bigint("amount_refund_pending", { mode: "number" }).notNull().default(0),
    authorizedAt: ts("authorized_at"),
    /** When the channel's hold on an authorization runs out (it is then released, and the payment canceled). */
    authorizationExpiresAt: ts("authorization_expires_at"),
    /** When the money was captured: the start of the channel's settlement calendar for cancel and refund. */
    capturedAt: ts("captured_at"),
    channel: text("channel"),
    /** The attempt that took (or holds) the money: our order reference at the channel, for its operations. */
    paidAttemptId: text("paid_attempt_id"),
    channelTxnId: text("channel_txn_id"),
    /** The payer action the channel asked for (redirect URL, QR payload, SMS confirmation). */
    action: jsonb("action"),
    settlement: jsonb("settlement"),
    failureCode: text("failure_code"),
    failureMessage: text("failure_message"),
    expiresAt: ts("expires_at").notNull(),
    createdAt: ts("created_at").notNull().default(sql`now()`),
    updatedAt: ts("updated_at").notNull().default(sql`now()`),
  },
  (t) => [
    uniqueIndex("payments_merchant_order_no_key").on(t.merchantId, t.merchantOrderNo),
    // The expiry sweeper scans only unfinished payments.
    index("payments_open_expiry_idx")
      .on(t.expiresAt)
      .where(sql`status in ('awaiting_payment','risk_review','requires_verification','requires_action')`),
    // The authorization sweeper scans only held payments.
    index("payments_authorization_expiry_idx").on(t.authorizationExpiresAt).where(sql`status = 'requires_capture'`),
    check(
      "payments_amounts_ck",
      sql`${t.amountAuthorized} >= 0 and ${t.amountCaptured} >= 0 and ${t.amountRefunded} >= 0 and ${t.amountRefundPending} >= 0
        and ${t.amountCaptured} <= ${t.amountAuthorized} and ${t.amountAuthorized} <= ${t.amount}
        and ${t.amountRefunded} + ${t.amountRefundPending} <= ${t.amountCaptured}`,
    ),
  ],
);

/**
 * Operations on a payment: capture, void (pre-authorization cancel), cancel (same-day 撤销) and refund,
 * each with its own id (the request number sent to the channel), the merchant's own number, and a state
 * machine (@pps/domain operationStateMachine). Their changes are audited in payment_transitions with
 * operation_id set.
 */
export const paymentOperations = paymentSchema.table(
  "payment_operations",
  {
    id: text("id").primaryKey(),
    paymentId: text("payment_id").notNull(),
    merchantId: text("merchant_id").notNull(),
    /** capture | void | cancel | refund */
    kind: text("kind").notNull(),
    /** The merchant's own number for it (merchant_refund_no for a refund): unique per merchant and kind. */
    merchantRef: text("merchant_ref"),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    /** pending | succeeded | failed | requires_review */
    status: text("status").notNull(),
    version: integer("version").notNull().default(1),
    channel: text("channel").notNull(),
    /** The channel's id for the operation, once it gave one. */
    channelOpId: text("channel_op_id"),
    reason: text("reason"),
    /** api | reverse | auto_refund (a late success refunded by the merchant's policy) */
    origin: text("origin").notNull().default("api"),
    failureCode: text("failure_code"),
    failureMessage: text("failure_message"),
    createdAt: ts("created_at").notNull().default(sql`now()`),
    updatedAt: ts("updated_at").notNull().default(sql`now()`),
    completedAt: ts("completed_at"),
  },
  (t) => [
    uniqueIndex("payment_operations_merchant_ref_key")
      .on(t.merchantId, t.kind, t.merchantRef)
      .where(sql`${t.merchantRef} is not null`),
    // An authorization is settled once: captured or voided, never both, never twice (a failed try frees it).
    uniqueIndex("payment_operations_settle_once_key")
      .on(t.paymentId)
      .where(sql`${t.kind} in ('capture', 'void') and ${t.status} <> 'failed'`),
    uniqueIndex("payment_operations_cancel_once_key")
      .on(t.paymentId)
      .where(sql`${t.kind} = 'cancel' and ${t.status} <> 'failed'`),
    index("payment_operations_payment_idx").on(t.paymentId, t.createdAt),
    check("payment_operations_amount_ck", sql`${t.amount} > 0`),
  ],
);

/** Audit trail: every state change of every payment, with what caused it. Never updated or deleted. */
export const paymentTransitions = paymentSchema.table(
  "payment_transitions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    paymentId: text("payment_id").notNull(),
    merchantId: text("merchant_id").notNull(),
    /** Set for a change of one of the payment's operations (statuses and version are then the operation's). */
    operationId: text("operation_id"),
    fromStatus: text("from_status"),
    toStatus: text("to_status").notNull(),
    version: integer("version").notNull(),
    /** What caused it: api, risk.decided, channel.attempt_result, channel.operation_result, callback:<channel>, verification, expiry. */
    cause: text("cause").notNull(),
    /** The event or request that caused it (event id, request id). */
    causeRef: text("cause_ref"),
    detail: jsonb("detail"),
    eventId: text("event_id").notNull(),
    /** The event published for this change, as sent: the merchant's events feed reads it from here. */
    envelope: jsonb("envelope").notNull(),
    at: ts("at").notNull().default(sql`now()`),
  },
  (t) => [
    index("payment_transitions_payment_idx").on(t.paymentId, t.version),
    index("payment_transitions_merchant_feed_idx").on(t.merchantId, t.id),
  ],
);

/** Channel attempts as reported by the router (and confirmed by callbacks). */
export const paymentAttempts = paymentSchema.table(
  "payment_attempts",
  {
    attemptId: text("attempt_id").primaryKey(),
    paymentId: text("payment_id").notNull(),
    attemptNo: smallint("attempt_no").notNull(),
    channel: text("channel").notNull(),
    outcome: text("outcome").notNull(),
    channelTxnId: text("channel_txn_id"),
    failureCode: text("failure_code"),
    failureMessage: text("failure_message"),
    updatedAt: ts("updated_at").notNull().default(sql`now()`),
  },
  (t) => [index("payment_attempts_payment_idx").on(t.paymentId)],
);

/** Idempotency keys: the first response to a (merchant, key), replayed for the same request, kept 24 h or more. */
export const idempotencyKeys = paymentSchema.table(
  "idempotency_keys",
  {
    merchantId: text("merchant_id").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    responseStatus: smallint("response_status").notNull(),
    responseBody: jsonb("response_body").notNull(),
    createdAt: ts("created_at").notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.merchantId, t.key] }), index("idempotency_keys_created_idx").on(t.createdAt)],
);

/** Request nonces seen within the timestamp window: shared by every replica, so replays are refused everywhere. */
export const requestNonces = paymentSchema.table(
  "request_nonces",
  {
    merchantId: text("merchant_id").notNull(),
    nonce: text("nonce").notNull(),
    seenAt: ts("seen_at").notNull().default(sql`now()`),
  },
  (t) => [primaryKey({ columns: [t.merchantId, t.nonce] }), index("request_nonces_seen_idx").on(t.seenAt)],
);

/** Step-up verification (SMS OTP) for payments risk challenged. Only a hash of the code is kept. */
export const verifications = paymentSchema.table("verifications", {
  paymentId: text("payment_id").primaryKey(),
  phone: text("phone").notNull(),
  codeHash: text("code_hash").notNull(),
  attempts: smallint("attempts").notNull().default(0),
  maxAttempts: smallint("max_attempts").notNull(),
  /** New codes sent on request; each replaces the previous code and restarts its expiry. */
  resends: smallint("resends").notNull().default(0),
  /** pending | passed | locked */
  status: text("status").notNull(),
  expiresAt: ts("expires_at").notNull(),
  createdAt: ts("created_at").notNull().default(sql`now()`),
});

/** Every channel callback received, verified or not, and what we did with it. */
export const channelCallbacks = paymentSchema.table(
  "channel_callbacks",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    channel: text("channel").notNull(),
    attemptId: text("attempt_id"),
    paymentId: text("payment_id"),
    channelTxnId: text("channel_txn_id"),
    reportedStatus: text("reported_status"),
    signatureValid: boolean("signature_valid").notNull(),
    /** applied | duplicate | stale | unknown_attempt | mismatch | rejected_signature | malformed */
    outcome: text("outcome").notNull(),
    detail: text("detail"),
    receivedAt: ts("received_at").notNull().default(sql`now()`),
  },
  (t) => [index("channel_callbacks_payment_idx").on(t.paymentId)],
);
