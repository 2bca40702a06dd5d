import { sql } from "drizzle-orm";
import { bigint, bigserial, index, integer, jsonb, pgSchema, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * Owned by channel-sim: the simulated channels' own books. Nothing else reads these tables; other apps
 * see the channels only through their HTTP APIs.
 */
export const simSchema = pgSchema("sim");

/**
 * One transaction per (channel, merchant, merchant reference): the unique index is what makes a repeated
 * pay request return the same transaction instead of charging twice. `status` is the simulator's neutral
 * state; each channel renders it in its own vocabulary. A daily statement is the succeeded rows of a
 * channel by `paid_at` day.
 */
export const simCharges = simSchema.table(
  "charges",
  {
    id: text("id").primaryKey(),
    channel: text("channel").notNull(),
    merchantId: text("merchant_id").notNull(),
    merchantRef: text("merchant_ref").notNull(),
    product: text("product").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    settleAmount: bigint("settle_amount", { mode: "number" }),
    settleCurrency: text("settle_currency"),
    fxRate: text("fx_rate"),
    /**
     * awaiting_payer | paying | authorized (held, capture pending) | succeeded (captured) | failed | closed |
     * voided (authorization released) | canceled (same-day 撤销, everything returned)
     */
    status: text("status").notNull(),
    /** auto (pay at once) | manual (authorize, capture later) */
    captureMode: text("capture_mode").notNull().default("auto"),
    /** The hold of an authorization, and when the channel lets it go by itself. */
    authorizedAmount: bigint("authorized_amount", { mode: "number" }).notNull().default(0),
    authExpiresAt: timestamp("auth_expires_at", { withTimezone: true }),
    /** Taken from the payer: the amount for a sale, the captured part of an authorization. */
    capturedAmount: bigint("captured_amount", { mode: "number" }).notNull().default(0),
    capturedAt: timestamp("captured_at", { withTimezone: true }),
    /** Returned by refunds that succeeded or are in flight (reserved when accepted). */
    refundedAmount: bigint("refunded_amount", { mode: "number" }).notNull().default(0),
    refundCount: integer("refund_count").notNull().default(0),
    /** Neutral failure reason: declined | insufficient_funds | payer_canceled | verification_failed | expired. */
    failureReason: text("failure_reason"),
    subject: text("subject").notNull().default(""),
    bankCode: text("bank_code"),
    flow: text("flow"),
    payerPhone: text("payer_phone"),
    callbackUrl: text("callback_url").notNull(),
    returnUrl: text("return_url"),
    passthrough: text("passthrough"),
    /** The fault directives in force when the charge was created (request metadata and channel settings). */
    faults: jsonb("faults").$type<string[]>().notNull().default([]),
    /** Channel-specific details of the request (trade type, cancel URL, …). */
    extra: jsonb("extra").$type<Record<string, string>>().notNull().default({}),
    /** Carrier billing: the code sent by SMS and the wrong tries so far. */
    smsCode: text("sms_code"),
    smsAttempts: integer("sms_attempts").notNull().default(0),
    /** sim_payer automation: the payer action the simulator performs itself, and when. */
    autoAction: text("auto_action"),
    autoActionAt: timestamp("auto_action_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    paidAt: timestamp("paid_at", { withTimezone: true }),
    closedAt: timestamp("closed_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    uniqueIndex("charges_channel_merchant_ref_uq").on(t.channel, t.merchantId, t.merchantRef),
    index("charges_channel_paid_at_idx").on(t.channel, t.paidAt),
    index("charges_auto_action_idx").on(t.autoActionAt).where(sql`${t.autoAction} is not null`),
    // The authorization sweep reads only holds.
    index("charges_authorized_expiry_idx").on(t.authExpiresAt).where(sql`${t.status} = 'authorized'`),
  ],
);

/**
 * The channels' own record of operations on their transactions (capture, void, cancel, refund): one per
 * (channel, merchant, kind, merchant reference), so a repeated request number moves money once.
 */
export const simOperations = simSchema.table(
  "operations",
  {
    id: text("id").primaryKey(),
    channel: text("channel").notNull(),
    merchantId: text("merchant_id").notNull(),
    chargeId: text("charge_id").notNull(),
    kind: text("kind").notNull(),
    /** The merchant's request number (our operation id). */
    merchantRef: text("merchant_ref").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    /** processing (result later, by callback) | succeeded | failed */
    status: text("status").notNull(),
    failureReason: text("failure_reason"),
    callbackUrl: text("callback_url"),
    reason: text("reason"),
    faults: jsonb("faults").$type<string[]>().notNull().default([]),
    /** When a processing operation completes by itself (async channels). */
    completeAt: timestamp("complete_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    completedAt: timestamp("completed_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("operations_channel_merchant_kind_ref_uq").on(t.channel, t.merchantId, t.kind, t.merchantRef),
    index("operations_charge_idx").on(t.chargeId),
    index("operations_complete_at_idx").on(t.completeAt).where(sql`${t.status} = 'processing'`),
  ],
);

/** Callbacks to send, durably: a poller claims due rows (skip locked), so several replicas share the work. */
export const simCallbacks = simSchema.table(
  "callbacks",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    channel: text("channel").notNull(),
    chargeId: text("charge_id").notNull(),
    /** Set for a callback about an operation (a refund's result) rather than the payment. */
    operationId: text("operation_id"),
    merchantRef: text("merchant_ref").notNull(),
    /** final | stale (an out-of-order, earlier-state notice) */
    kind: text("kind").notNull(),
    url: text("url").notNull(),
    headers: jsonb("headers").$type<Record<string, string>>().notNull(),
    body: text("body").notNull(),
    /** pending | delivered | abandoned */
    status: text("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    dueAt: timestamp("due_at", { withTimezone: true }).notNull().default(sql`now()`),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
  },
  (t) => [
    index("callbacks_due_idx").on(t.dueAt).where(sql`${t.status} = 'pending'`),
    index("callbacks_ref_idx").on(t.channel, t.merchantRef),
  ],
);

/** Every delivery attempt of every callback, with the merchant's answer. */
export const simCallbackDeliveries = simSchema.table(
  "callback_deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    callbackId: bigint("callback_id", { mode: "number" }).notNull(),
    attempt: integer("attempt").notNull(),
    httpStatus: integer("http_status"),
    responseBody: text("response_body"),
    error: text("error"),
    accepted: text("accepted").notNull(),
    at: timestamp("at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [index("callback_deliveries_callback_idx").on(t.callbackId)],
);

/** Channel-wide fault settings (PUT /sim/faults/{channel}); in Postgres so every replica sees them. */
export const simFaults = simSchema.table("faults", {
  channel: text("channel").primaryKey(),
  faults: jsonb("faults").$type<string[]>().notNull(),
  /** Which operations they affect: pay, query, and the operation flows capture, void, cancel, refund, query_operation. */
  ops: jsonb("ops").$type<string[]>().notNull(),
  /** Share of requests affected, 1..100. */
  percent: integer("percent").notNull().default(100),
  /** Only requests whose merchant reference starts with this are affected (null: all of them). */
  refPrefix: text("ref_prefix"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
});

/** The SMS gateway's outbox: every message sent, newest read first by phone. */
export const simSmsMessages = simSchema.table(
  "sms_messages",
  {
    id: text("id").primaryKey(),
    phone: text("phone").notNull(),
    text: text("text").notNull(),
    sender: text("sender").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [index("sms_messages_phone_idx").on(t.phone, t.createdAt)],
);
