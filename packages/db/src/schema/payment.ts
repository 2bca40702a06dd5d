import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
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
    channel: text("channel"),
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
  ],
);

/** Audit trail: every state change of every payment, with what caused it. Never updated or deleted. */
export const paymentTransitions = paymentSchema.table(
  "payment_transitions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    paymentId: text("payment_id").notNull(),
    merchantId: text("merchant_id").notNull(),
    fromStatus: text("from_status"),
    toStatus: text("to_status").notNull(),
    version: integer("version").notNull(),
    /** What caused it: api, risk.decided, channel.attempt_result, callback:<channel>, verification, expiry. */
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
