import { newId } from "@pps/domain";
import type { Sql } from "postgres";
import {
  ACCOUNT_KINDS,
  type AccountBalance,
  type AccountKind,
  type AccountStatus,
  currencyFitsKind,
  PLATFORM_OWNER,
} from "./accounts.ts";
import { asLedgerError, LedgerError, type LedgerErrorCode } from "./errors.ts";

/** What caused a movement: each entry names one, with the cause's id. */
export type EntryCause =
  | "payment"
  | "capture"
  | "refund"
  | "reversal"
  | "top_up"
  | "repayment"
  | "payout"
  | "adjustment"
  | "coin_grant"
  | "coin_purchase"
  | "settlement";

export type Leg = { accountId: string; amount: number };

export type EntryRequest = {
  cause: EntryCause;
  causeId: string;
  /** Posts once per key: a redelivered cause with the same key and legs answers the first entry. */
  key: string;
  legs: Leg[];
  memo?: Record<string, unknown>;
};

export type Posted = { entryId: string; duplicate: boolean };

export type HoldRequest = {
  cause: EntryCause;
  causeId: string;
  key: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: number;
  expiresAt: Date;
  memo?: Record<string, unknown>;
};

export type StatementLine = {
  seq: number;
  entryId: string;
  cause: EntryCause;
  causeId: string;
  amount: number;
  currency: string;
  /** The balance of the shard the posting went to, after it (for one-shard accounts: the account's). */
  balanceAfter: number;
  memo: Record<string, unknown>;
  createdAt: Date;
};

type QueuedEntry = {
  entry: EntryRequest;
  legs: Leg[];
  resolve: (p: Posted) => void;
  reject: (err: unknown) => void;
};

type AccountRow = {
  id: string;
  kind: AccountKind;
  owner_id: string;
  currency: string;
  status: AccountStatus;
  balance: string | number;
  held: string | number;
  floor: string | number | null;
};

/** Who changes an account, and why: kept in the audit trail (or on the entry, for an adjustment). */
export type Actor = { operator: string; reason: string };

function checkActor(by: Actor): void {
  if (!by?.reason?.trim()) throw new LedgerError("ledger.reason_required", "a change to an account states its reason");
  if (!by.operator?.trim())
    throw new LedgerError("ledger.reason_required", "a change to an account names its operator");
}

function checkMinorUnits(amount: number, what: string): void {
  if (!Number.isSafeInteger(amount) || amount <= 0)
    throw new LedgerError("ledger.invalid_entry", `${what} must be a positive integer of minor units, not ${amount}`);
}

/**
 * The double-entry ledger over its Postgres schema. Every posting and hold is one call of a SQL function
 * (migration 0016) that locks what it touches in a fixed order and checks floors, currencies and the zero
 * sum before it changes anything; account changes (open, status, limit) are one statement each, with their
 * audit row. This class shapes requests, batches postings (group commit) and maps refusals to LedgerError.
 */
export class Ledger {
  private readonly ids = new Map<string, string>();
  private queue: QueuedEntry[] = [];
  private inFlight = 0;
  private readonly batching: { maxInFlight: number; maxBatch: number };

  /**
   * `maxInFlight`: batches of entries posted at once (each holds a connection of the pool while it runs);
   * `maxBatch`: entries a batch takes at most.
   */
  constructor(
    private readonly sql: Sql,
    opts: { maxInFlight?: number; maxBatch?: number } = {},
  ) {
    this.batching = { maxInFlight: opts.maxInFlight ?? 4, maxBatch: opts.maxBatch ?? 100 };
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw asLedgerError(err);
    }
  }

  /**
   * Opens the account of `kind` for an owner in a currency, or answers the one already open. A credit line
   * opens with `creditLimit` (default 0: nothing can be spent until an operator sets a limit).
   */
  async openAccount(spec: {
    kind: AccountKind;
    ownerId: string;
    currency: string;
    creditLimit?: number;
    /** Who opens it and why (the audit trail); by default the system, on first use. */
    by?: Actor;
  }): Promise<AccountBalance> {
    const def = ACCOUNT_KINDS[spec.kind];
    if (!def) throw new LedgerError("ledger.invalid_entry", `no account kind ${String(spec.kind)}`);
    if (!currencyFitsKind(spec.kind, spec.currency))
      throw new LedgerError(
        "ledger.currency_mismatch",
        `${spec.kind} accounts are in ${def.unit === "money" ? "an ISO 4217 currency" : "a coin code that is not ISO 4217"}, not ${spec.currency}`,
      );
    if (!spec.ownerId) throw new LedgerError("ledger.invalid_entry", "an account has an owner");
    const limit = spec.creditLimit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0)
      throw new LedgerError("ledger.invalid_entry", `a credit limit is a non-negative integer, not ${limit}`);
    const floor = def.floor === "zero" ? 0 : def.floor === "limit" ? -limit : null;
    const id = newId("acc");
    const shards = Array.from({ length: def.shards }, (_, i) => i);
    // All shards in one statement: a concurrent open of the same account waits on the first shard's key and
    // then finds every shard taken, so an account never ends up with shards under two ids.
    const by = spec.by ?? { operator: "system", reason: "opened on first use" };
    await this.sql`
      with opened as (
        insert into ledger.accounts (id, shard, shards, kind, owner_id, currency, floor)
        select ${id}, s, ${def.shards}, ${spec.kind}, ${spec.ownerId}, ${spec.currency}, ${floor}::bigint
        from unnest(${shards}::int[]) s
        on conflict (kind, owner_id, currency, shard) do nothing
        returning id, shard, floor
      )
      insert into ledger.account_changes (account_id, change, to_value, reason, operator)
      select id, 'opened', ${`${spec.kind} ${spec.currency}${floor === null ? "" : ` floor ${floor}`}`}, ${by.reason}, ${by.operator}
      from opened where shard = 0`;
    const opened = await this.find(spec.kind, spec.ownerId, spec.currency);
    if (!opened) throw new Error(`account ${spec.kind}/${spec.ownerId}/${spec.currency} was not opened`);
    return opened;
  }

  /** The account of a kind, owner and currency, if open. */
  async find(kind: AccountKind, ownerId: string, currency: string): Promise<AccountBalance | null> {
    const rows = await this.sql<{ id: string }[]>`
      select id from ledger.accounts where kind = ${kind} and owner_id = ${ownerId} and currency = ${currency} and shard = 0`;
    if (!rows[0]) return null;
    this.ids.set(`${kind}/${ownerId}/${currency}`, rows[0].id);
    return this.balance(rows[0].id);
  }

  /** The id of an open account (cached: an account's id never changes); opens platform accounts on first use. */
  async accountId(kind: AccountKind, ownerId: string, currency: string): Promise<string> {
    const cached = this.ids.get(`${kind}/${ownerId}/${currency}`);
    if (cached) return cached;
    const account =
      (await this.find(kind, ownerId, currency)) ??
      (ACCOUNT_KINDS[kind].owner === "payer" || ACCOUNT_KINDS[kind].owner === "merchant"
        ? null
        : await this.openAccount({ kind, ownerId, currency }));
    if (!account) throw new LedgerError("ledger.account_unknown", `no ${kind} account for ${ownerId} in ${currency}`);
    return account.id;
  }

  /** A platform account (fee income, coin issuance, adjustments) in a currency, opened on first use. */
  platformAccount(kind: AccountKind, currency: string): Promise<string> {
    return this.accountId(kind, PLATFORM_OWNER, currency);
  }

  /** An account's balance: its shards summed. */
  async balance(id: string): Promise<AccountBalance | null> {
    const [row] = await this.sql<AccountRow[]>`
      select id, min(kind) as kind, min(owner_id) as owner_id, min(currency) as currency, min(status) as status,
        sum(balance) as balance, sum(held) as held, min(floor) as floor
      from ledger.accounts where id = ${id} group by id`;
    return row ? toBalance(row) : null;
  }

  /** Posts one entry. Refusals (floors, frozen or unknown accounts, currencies, zero sum) throw LedgerError. */
  async post(entry: EntryRequest): Promise<Posted> {
    if (!entry.key || !entry.causeId)
      throw new LedgerError("ledger.invalid_entry", "an entry names its cause's id and its idempotency key");
    for (const leg of entry.legs)
      if (!Number.isSafeInteger(leg.amount) || leg.amount === 0)
        throw new LedgerError("ledger.invalid_entry", `a leg's amount is a non-zero integer, not ${leg.amount}`);
    // One canonical order (the entry's fingerprint, which tells a redelivery from a reused key, relies on it).
    const legs = [...entry.legs].sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
    if (legs.length < 2 || legs.some((l, i) => i > 0 && l.accountId === legs[i - 1]!.accountId))
      throw new LedgerError("ledger.invalid_entry", "an entry has two or more legs, each on an account of its own");
    return new Promise<Posted>((resolve, reject) => {
      this.queue.push({ entry, legs, resolve, reject });
      this.pump();
    });
  }

  /**
   * Group commit: while `maxInFlight` batches are out, later entries queue, and the next batch takes all
   * that queued (up to `maxBatch`, distinct keys only: a repeated key waits for the batch after, where it
   * finds its first entry). Alone, an entry goes at once; under load, one statement and one commit post many.
   */
  private pump(): void {
    while (this.inFlight < this.batching.maxInFlight && this.queue.length > 0) {
      const batch: QueuedEntry[] = [];
      const keys = new Set<string>();
      const rest: QueuedEntry[] = [];
      for (const q of this.queue) {
        if (batch.length < this.batching.maxBatch && !keys.has(q.entry.key)) {
          keys.add(q.entry.key);
          batch.push(q);
        } else rest.push(q);
      }
      this.queue = rest;
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(batch: QueuedEntry[]): Promise<void> {
    const ids = batch.map(() => newId("le"));
    let rows: {
      entry_no: number;
      entry_id: string;
      duplicate: boolean;
      refusal: string | null;
      detail: string | null;
    }[];
    try {
      rows = await this.sql`
        select * from ledger.post_entries(${ids}::text[], ${batch.map((q) => q.entry.cause)}::text[],
          ${batch.map((q) => q.entry.causeId)}::text[], ${batch.map((q) => q.entry.key)}::text[],
          ${batch.map((q) => JSON.stringify(q.entry.memo ?? {}))}::text[]::jsonb[],
          ${batch.map(() => null)}::text[], ${batch.map((q) => q.legs.length)}::int[],
          ${batch.flatMap((q) => q.legs.map((l) => l.accountId))}::text[],
          ${batch.flatMap((q) => q.legs.map((l) => String(l.amount)))}::bigint[])`;
    } catch (err) {
      const e = asLedgerError(err);
      for (const q of batch) q.reject(e);
      return;
    }
    for (const row of rows) {
      const q = batch[row.entry_no - 1]!;
      if (row.refusal) q.reject(new LedgerError(row.refusal as LedgerErrorCode, row.detail ?? ""));
      else q.resolve({ entryId: row.entry_id, duplicate: row.duplicate });
    }
  }

  /** Reserves an amount on a one-shard account (a wallet, coins, a credit line) for a later postHold. */
  async hold(req: HoldRequest): Promise<{ holdId: string; duplicate: boolean }> {
    checkMinorUnits(req.amount, "a hold's amount");
    const id = newId("hold");
    const [row] = await this.call(
      () => this.sql<{ hold_id: string; duplicate: boolean }[]>`
        select * from ledger.hold(${id}, ${req.cause}, ${req.causeId}, ${req.key}, ${req.debitAccountId},
          ${req.creditAccountId}, ${req.amount}, ${req.expiresAt.toISOString()}::timestamptz, ${JSON.stringify(req.memo ?? {})}::jsonb)`,
    );
    return { holdId: row!.hold_id, duplicate: row!.duplicate };
  }

  /** Posts `amount` of a pending hold (at most its amount) and releases the rest. */
  async postHold(req: {
    holdId: string;
    amount: number;
    cause: EntryCause;
    key: string;
    memo?: Record<string, unknown>;
  }): Promise<Posted> {
    checkMinorUnits(req.amount, "a posted amount");
    const id = newId("le");
    const [row] = await this.call(
      () => this.sql<{ entry_id: string; duplicate: boolean }[]>`
        select * from ledger.post_hold(${req.holdId}, ${req.amount}, ${id}, ${req.cause}, ${req.key},
          ${JSON.stringify(req.memo ?? {})}::jsonb)`,
    );
    return { entryId: row!.entry_id, duplicate: row!.duplicate };
  }

  /** Releases a pending hold (a voided one again: nothing changes, `already` says so). */
  async voidHold(holdId: string): Promise<{ already: boolean }> {
    const [row] = await this.call(() => this.sql<{ already: boolean }[]>`select * from ledger.void_hold(${holdId})`);
    return { already: row!.already };
  }

  /** Expires up to `limit` holds past their expiry, releasing them; returns how many. */
  async expireHolds(limit = 500): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`select ledger.expire_holds(${limit}) as n`;
    return row!.n;
  }

  /** A hold as it stands. */
  async getHold(holdId: string) {
    const [row] = await this.sql<
      {
        id: string;
        status: string;
        amount: string;
        posted_amount: string;
        entry_id: string | null;
        expires_at: Date | string;
      }[]
    >`select id, status, amount, posted_amount, entry_id, expires_at from ledger.holds where id = ${holdId}`;
    return row
      ? {
          id: row.id,
          status: row.status as "pending" | "posted" | "voided" | "expired",
          amount: Number(row.amount),
          postedAmount: Number(row.posted_amount),
          entryId: row.entry_id,
          expiresAt: asDate(row.expires_at),
        }
      : null;
  }

  /**
   * Freezes (no debits, no holds; credits still arrive), reactivates or closes an account, with who asked
   * and why in the audit trail (account_changes), written in the same statement.
   */
  async setStatus(id: string, status: AccountStatus, by: Actor): Promise<AccountBalance> {
    checkActor(by);
    const rows = await this.sql`
      with before as (select status from ledger.accounts where id = ${id} and shard = 0 for update),
      changed as (
        update ledger.accounts set status = ${status}, version = version + 1, updated_at = now()
        where id = ${id} and exists (select 1 from before) returning shard
      )
      insert into ledger.account_changes (account_id, change, from_value, to_value, reason, operator)
      select ${id}, 'status', (select status from before), ${status}, ${by.reason.trim()}, ${by.operator.trim()}
      from changed where shard = 0
      returning seq`;
    if (rows.length === 0) throw new LedgerError("ledger.account_unknown", `no account ${id}`);
    return (await this.balance(id))!;
  }

  /**
   * Sets a credit line's limit, audited like a status change. A limit below what is already in use (drawn
   * plus held) is refused: the line would be over its limit at once.
   */
  async setCreditLimit(id: string, limit: number, by: Actor): Promise<AccountBalance> {
    checkActor(by);
    if (!Number.isSafeInteger(limit) || limit < 0)
      throw new LedgerError("ledger.invalid_entry", `a credit limit is a non-negative integer, not ${limit}`);
    const rows = await this.sql<{ kind: string; fits: boolean }[]>`
      with target as (
        select id, kind, floor, balance - held >= ${-limit} as fits from ledger.accounts where id = ${id} and shard = 0 for update
      ),
      changed as (
        update ledger.accounts a set floor = ${-limit}::bigint, version = a.version + 1, updated_at = now()
        from target t where a.id = t.id and a.shard = 0 and t.kind = 'payer_credit' and t.fits
        returning a.id
      ),
      audited as (
        insert into ledger.account_changes (account_id, change, from_value, to_value, reason, operator)
        select t.id, 'credit_limit', (-t.floor)::text, ${String(limit)}, ${by.reason.trim()}, ${by.operator.trim()}
        from target t join changed c on c.id = t.id
      )
      select kind, fits from target`;
    const target = rows[0];
    if (!target) throw new LedgerError("ledger.account_unknown", `no account ${id}`);
    if (target.kind !== "payer_credit")
      throw new LedgerError("ledger.kind_not_supported", `account ${id} is ${target.kind}, not a credit line`);
    if (!target.fits) {
      const line = (await this.balance(id))!;
      throw new LedgerError(
        "ledger.limit_below_used",
        `credit line ${id} has ${line.creditUsed} in use; limit ${limit} is below it`,
      );
    }
    return (await this.balance(id))!;
  }

  /** The account's audit trail (opened, status and limit changes), oldest first. */
  async changes(id: string) {
    const rows = await this.sql<
      {
        change: string;
        from_value: string | null;
        to_value: string;
        reason: string;
        operator: string;
        at: Date | string;
      }[]
    >`select change, from_value, to_value, reason, operator, at from ledger.account_changes where account_id = ${id} order by seq`;
    return rows.map((r) => ({
      change: r.change as "opened" | "status" | "credit_limit",
      from: r.from_value,
      to: r.to_value,
      reason: r.reason,
      operator: r.operator,
      at: asDate(r.at),
    }));
  }

  /**
   * An operator's adjustment: `amount` credited (or debited, when negative) to the account against the
   * platform's adjustment account in its currency, with the reason and the operator kept on the entry.
   */
  async adjust(req: {
    accountId: string;
    amount: number;
    reason: string;
    operator: string;
    key: string;
  }): Promise<Posted> {
    checkActor(req);
    const account = await this.balance(req.accountId);
    if (!account) throw new LedgerError("ledger.account_unknown", `no account ${req.accountId}`);
    const other = await this.platformAccount(
      ACCOUNT_KINDS[account.kind].unit === "coins" ? "coin_adjustments" : "platform_adjustments",
      account.currency,
    );
    return this.operatorEntry("adjustment", req.key, req.accountId, other, req.amount, req);
  }

  /**
   * Grants coins to a payer's coin account from the platform's issuance account in that coin (whose balance
   * is then minus the coins in circulation), once per `grantId`, with who granted them and why on the entry.
   */
  async grantCoins(req: {
    accountId: string;
    amount: number;
    grantId: string;
    operator: string;
    reason: string;
  }): Promise<Posted> {
    checkActor(req);
    checkMinorUnits(req.amount, "a grant");
    const account = await this.balance(req.accountId);
    if (!account) throw new LedgerError("ledger.account_unknown", `no account ${req.accountId}`);
    if (account.kind !== "payer_coins")
      throw new LedgerError(
        "ledger.kind_not_supported",
        `account ${req.accountId} is ${account.kind}, not a coin account`,
      );
    const issuance = await this.platformAccount("coin_issuance", account.currency);
    return this.operatorEntry("coin_grant", req.grantId, req.accountId, issuance, req.amount, req);
  }

  /** An operator's entry: `amount` to the account from `counterAccountId`, once per id, with who and why. */
  private operatorEntry(
    cause: "adjustment" | "coin_grant",
    id: string,
    accountId: string,
    counterAccountId: string,
    amount: number,
    by: Actor,
  ): Promise<Posted> {
    return this.post({
      cause,
      causeId: id,
      key: `${cause}:${id}`,
      legs: [
        { accountId, amount },
        { accountId: counterAccountId, amount: -amount },
      ],
      memo: { reason: by.reason.trim(), operator: by.operator.trim() },
    });
  }

  /** An account's postings, oldest first, after the `after` sequence number (a cursor). */
  async statement(id: string, opts: { after?: number; limit?: number } = {}): Promise<StatementLine[]> {
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
    const rows = await this.sql<
      {
        seq: string;
        entry_id: string;
        cause: EntryCause;
        cause_id: string;
        amount: string;
        currency: string;
        balance_after: string;
        memo: Record<string, unknown>;
        created_at: Date | string;
      }[]
    >`
      select p.seq, p.entry_id, e.cause, e.cause_id, p.amount, p.currency, p.balance_after, e.memo, p.created_at
      from ledger.postings p join ledger.entries e on e.id = p.entry_id
      where p.account_id = ${id} and p.seq > ${opts.after ?? 0}
      order by p.seq limit ${limit}`;
    return rows.map((r) => ({
      seq: Number(r.seq),
      entryId: r.entry_id,
      cause: r.cause,
      causeId: r.cause_id,
      amount: Number(r.amount),
      currency: r.currency,
      balanceAfter: Number(r.balance_after),
      memo: r.memo,
      createdAt: asDate(r.created_at),
    }));
  }
}

/** Timestamps come back as Date or, on a pool drizzle set up (it parses them itself), as text. */
const asDate = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));

function toBalance(row: AccountRow): AccountBalance {
  const balance = Number(row.balance);
  const held = Number(row.held);
  const floor = row.floor === null ? null : Number(row.floor);
  const isCredit = row.kind === "payer_credit";
  return {
    id: row.id,
    kind: row.kind,
    ownerId: row.owner_id,
    currency: row.currency,
    status: row.status,
    balance,
    held,
    floor,
    available: floor === null ? null : balance - held - floor,
    creditLimit: isCredit && floor !== null ? -floor : null,
    creditUsed: isCredit ? held - balance : null,
  };
}
