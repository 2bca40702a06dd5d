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
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { inboxTable, outboxTable } from "./common.ts";

/** Owned by router: channel config, health stats, routing decisions, attempts. */
export const routingSchema = pgSchema("routing");
export const routingOutbox = outboxTable(routingSchema);
export const routingInbox = inboxTable(routingSchema);

/**
 * Operator settings per channel (what a channel can do at all is static, in @pps/channels).
 * min_amount, max_amount and fee_fixed are in hundredths of a major unit of the payment's currency
 * (10_000_000 = 100,000.00 of any currency), turned into its minor units by its ISO 4217 exponent.
 */
export const routingChannels = routingSchema.table("channels", {
  id: text("id").primaryKey(),
  enabled: boolean("enabled").notNull().default(true),
  feeFixed: bigint("fee_fixed", { mode: "number" }).notNull().default(0),
  feeRateBps: integer("fee_rate_bps").notNull().default(0),
  minAmount: bigint("min_amount", { mode: "number" }).notNull().default(1),
  maxAmount: bigint("max_amount", { mode: "number" }).notNull(),
  /** Last tie-break after fee, success rate and latency: lower goes first. */
  priority: integer("priority").notNull().default(100),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
});

/**
 * One circuit breaker per channel, shared by every router replica so they agree on whether a channel is
 * usable. Timestamps come from the clock of the replica that changed the state.
 */
export const routingCircuits = routingSchema.table("circuits", {
  channel: text("channel").primaryKey(),
  /** closed | open | half_open */
  state: text("state").notNull().default("closed"),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  openedAt: timestamp("opened_at", { withTimezone: true }),
  /** Set while one half-open probe is out; a stale one (replica died mid-probe) lets another probe go. */
  probeStartedAt: timestamp("probe_started_at", { withTimezone: true }),
  /** Opened by an operator: stays open (no half-open probes) until an operator closes it. */
  forced: boolean("forced").notNull().default(false),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
});

/**
 * Rolling health: call outcomes per channel in short time buckets, incremented by every replica.
 * Readers sum the buckets of the recent window.
 */
export const routingChannelStats = routingSchema.table(
  "channel_stats",
  {
    channel: text("channel").notNull(),
    bucketStart: timestamp("bucket_start", { withTimezone: true }).notNull(),
    calls: integer("calls").notNull().default(0),
    succeeded: integer("succeeded").notNull().default(0),
    /** Business failures (declines): the channel worked. */
    declined: integer("declined").notNull().default(0),
    /** Technical failures: channel unavailable. */
    failed: integer("failed").notNull().default(0),
    unknown: integer("unknown").notNull().default(0),
    /** pending / requires_action answers. */
    accepted: integer("accepted").notNull().default(0),
    latencyMsSum: bigint("latency_ms_sum", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.channel, t.bucketStart] }), index().on(t.bucketStart)],
);

/** Why a channel was chosen: one row per routing decision (the first attempt and each failover). */
export const routingDecisions = routingSchema.table(
  "decisions",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    paymentId: text("payment_id").notNull(),
    attemptNo: integer("attempt_no").notNull(),
    product: text("product").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    bankCode: text("bank_code"),
    wallet: text("wallet"),
    /** Every channel considered: fee, health, circuit, and why it was excluded (if it was). */
    candidates: jsonb("candidates").notNull(),
    /** null: no channel could take the payment. */
    winner: text("winner"),
    /** initial | failover */
    reason: text("reason").notNull(),
    decidedAt: timestamp("decided_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [uniqueIndex().on(t.paymentId, t.attemptNo)],
);

/**
 * One call of one channel for one payment. The id is the channel's idempotency key / our order reference.
 * status: sending (call in flight or its outcome lost in a crash) | succeeded | failed | requires_action |
 * pending | unknown. `next_query_at` set means the resolver will query the channel about it then.
 */
export const routingAttempts = routingSchema.table(
  "attempts",
  {
    id: text("id").primaryKey(),
    paymentId: text("payment_id").notNull(),
    attemptNo: integer("attempt_no").notNull(),
    channel: text("channel").notNull(),
    status: text("status").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    channelTxnId: text("channel_txn_id"),
    failureCode: text("failure_code"),
    /** The last error seen: a failure message, or why the outcome is unknown. */
    lastError: text("last_error"),
    queryCount: integer("query_count").notNull().default(0),
    nextQueryAt: timestamp("next_query_at", { withTimezone: true }),
    /** The payment's expiry: stuck pending / requires_action attempts are queried until then. */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    completedAt: timestamp("completed_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex().on(t.paymentId, t.attemptNo),
    index("attempts_next_query_at_idx").on(t.nextQueryAt).where(sql`${t.nextQueryAt} is not null`),
  ],
);

/**
 * A payment that found no channel able to take it (none healthy, or every one it tried was unavailable) and
 * waits for one to recover instead of failing at once. Polled by every router replica (claims skip rows
 * another holds). `payment` is the internal snapshot with the payer's contact data the channel call needs:
 * it is kept only while the payment waits, and the row is deleted when it is routed or given up.
 */
export const routingWaitingPayments = routingSchema.table(
  "waiting_payments",
  {
    paymentId: text("payment_id").primaryKey(),
    /** The number the next attempt gets (attempts already made keep theirs). */
    attemptNo: integer("attempt_no").notNull(),
    payment: jsonb("payment").notNull(),
    /** No later than this (ROUTE_WAIT_MAX_MS after it began waiting, or the payment's expiry): then it fails. */
    waitUntil: timestamp("wait_until", { withTimezone: true }).notNull(),
    nextTryAt: timestamp("next_try_at", { withTimezone: true }).notNull(),
    /** Set by the replica that claimed the row; only that claim may route or give it up. */
    claimId: text("claim_id"),
    tries: integer("tries").notNull().default(0),
    /** Why no channel could take it at the last try. */
    lastReason: text("last_reason"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [index("waiting_payments_next_try_at_idx").on(t.nextTryAt)],
);

/**
 * One call of a channel for an operation on a payment (capture, void, cancel, refund), always on the
 * channel that took the money. The id is the operation's id: the channel's idempotency key / request
 * number, so a repeat never moves money twice. status as for attempts: sending | succeeded | failed |
 * pending (result by callback or query) | unknown; `next_query_at` set means the resolver will ask then.
 */
export const routingOperationCalls = routingSchema.table(
  "operation_calls",
  {
    id: text("id").primaryKey(),
    paymentId: text("payment_id").notNull(),
    kind: text("kind").notNull(),
    channel: text("channel").notNull(),
    status: text("status").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    /** The request as received (the payment's references at the channel), for queries and repeats. */
    request: jsonb("request").notNull(),
    channelOpId: text("channel_op_id"),
    failureCode: text("failure_code"),
    lastError: text("last_error"),
    queryCount: integer("query_count").notNull().default(0),
    nextQueryAt: timestamp("next_query_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
    completedAt: timestamp("completed_at", { withTimezone: true }),
  },
  (t) => [
    index("operation_calls_next_query_at_idx").on(t.nextQueryAt).where(sql`${t.nextQueryAt} is not null`),
    index("operation_calls_payment_idx").on(t.paymentId),
  ],
);
