import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  check,
  index,
  jsonb,
  pgSchema,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/**
 * The double-entry ledger (package @pps/ledger), written by whichever app posts: the router for the local
 * products, payment-api for external payments and operator adjustments. Amounts are integer minor units of
 * the account's currency (a coin code for coins). Sign convention, for every account: a posting's amount is
 * positive for a credit and negative for a debit, and `balance` is credits minus debits, so a payer's wallet
 * holding money is positive and a credit line in use is negative. The posting functions and the
 * immutability triggers are SQL of their own (migration 0016_ledger_functions.sql).
 */
export const ledgerSchema = pgSchema("ledger");

/**
 * An account is one row per shard: `id` names the account, `shard` (0 … shards-1) one of its rows. Accounts
 * every payment touches (channel clearing, fee income, a busy merchant's settlement account) have several
 * shards, so concurrent postings lock different rows; the balance is the sum over the shards. An account
 * with a floor has exactly one shard, where the floor is checked. `held` is what live holds reserve;
 * available = balance - held, never below the floor (also a constraint: the last line of defence).
 */
export const ledgerAccounts = ledgerSchema.table(
  "accounts",
  {
    id: text("id").notNull(),
    shard: smallint("shard").notNull().default(0),
    shards: smallint("shards").notNull().default(1),
    /** payer_wallet | payer_coins | payer_credit | merchant_pending | merchant_available | channel_clearing | … */
    kind: text("kind").notNull(),
    ownerId: text("owner_id").notNull(),
    currency: text("currency").notNull(),
    balance: bigint("balance", { mode: "number" }).notNull().default(0),
    held: bigint("held", { mode: "number" }).notNull().default(0),
    /** null: unbounded; 0 for wallets and coins; minus the limit for a credit line. */
    floor: bigint("floor", { mode: "number" }),
    /** active | frozen (no debits, no holds; credits still arrive) | closed (nothing) */
    status: text("status").notNull().default("active"),
    version: bigint("version", { mode: "number" }).notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    primaryKey({ columns: [t.id, t.shard] }),
    uniqueIndex("accounts_owner_uq").on(t.kind, t.ownerId, t.currency, t.shard),
    check("accounts_floor_ck", sql`${t.floor} is null or ${t.balance} - ${t.held} >= ${t.floor}`),
    check("accounts_held_ck", sql`${t.held} >= 0`),
    check("accounts_shard_ck", sql`${t.shard} >= 0 and ${t.shard} < ${t.shards}`),
    check("accounts_floor_single_shard_ck", sql`${t.floor} is null or ${t.shards} = 1`),
    check("accounts_status_ck", sql`${t.status} in ('active', 'frozen', 'closed')`),
  ],
);

/**
 * A journal entry: immutable (a correction is a new entry), naming its cause and carrying the idempotency
 * key of that cause, so a redelivered cause posts once. `fingerprint` is a digest of the legs: the same key
 * with other legs is refused instead of answered with the first entry.
 */
export const ledgerEntries = ledgerSchema.table(
  "entries",
  {
    id: text("id").primaryKey(),
    /** payment | capture | refund | reversal | top_up | repayment | payout | adjustment | coin_grant | coin_purchase | hold */
    cause: text("cause").notNull(),
    causeId: text("cause_id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    fingerprint: text("fingerprint").notNull(),
    /** The hold this entry posts, if any. */
    holdId: text("hold_id"),
    memo: jsonb("memo").notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [uniqueIndex("entries_idempotency_key_uq").on(t.idempotencyKey), index().on(t.cause, t.causeId)],
);

/** The legs of an entry: per currency they sum to zero. `balance_after` is the shard's balance after it. */
export const ledgerPostings = ledgerSchema.table(
  "postings",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    entryId: text("entry_id").notNull(),
    accountId: text("account_id").notNull(),
    shard: smallint("shard").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    balanceAfter: bigint("balance_after", { mode: "number" }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [index().on(t.accountId, t.seq), index().on(t.entryId), check("postings_amount_ck", sql`${t.amount} <> 0`)],
);

/**
 * A two-phase movement: `amount` is reserved on the debit account (its `held`) until the hold is posted
 * (in part or whole: the rest is released), voided, or expires by itself at `expires_at`.
 */
export const ledgerHolds = ledgerSchema.table(
  "holds",
  {
    id: text("id").primaryKey(),
    debitAccountId: text("debit_account_id").notNull(),
    creditAccountId: text("credit_account_id").notNull(),
    amount: bigint("amount", { mode: "number" }).notNull(),
    currency: text("currency").notNull(),
    /** pending | posted | voided | expired */
    status: text("status").notNull().default("pending"),
    postedAmount: bigint("posted_amount", { mode: "number" }).notNull().default(0),
    /** The entry that posted it. */
    entryId: text("entry_id"),
    cause: text("cause").notNull(),
    causeId: text("cause_id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    memo: jsonb("memo").notNull().default(sql`'{}'::jsonb`),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [
    uniqueIndex("holds_idempotency_key_uq").on(t.idempotencyKey),
    index("holds_pending_expiry_idx").on(t.expiresAt).where(sql`${t.status} = 'pending'`),
    check("holds_amount_ck", sql`${t.amount} > 0 and ${t.postedAmount} >= 0 and ${t.postedAmount} <= ${t.amount}`),
    check("holds_status_ck", sql`${t.status} in ('pending', 'posted', 'voided', 'expired')`),
  ],
);

/**
 * The audit trail of what changes an account other than postings: opened, status (frozen, active,
 * closed) and credit limit, each with who asked and why. Written in the same statement as the change.
 */
export const ledgerAccountChanges = ledgerSchema.table(
  "account_changes",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    accountId: text("account_id").notNull(),
    /** opened | status | credit_limit */
    change: text("change").notNull(),
    fromValue: text("from_value"),
    toValue: text("to_value").notNull(),
    reason: text("reason").notNull(),
    operator: text("operator").notNull(),
    at: timestamp("at", { withTimezone: true }).notNull().default(sql`now()`),
  },
  (t) => [index().on(t.accountId, t.seq)],
);
