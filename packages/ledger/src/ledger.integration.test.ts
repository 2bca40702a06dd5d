import { randomUUID } from "node:crypto";
import { createDb } from "@pps/db";
import { isolatedDatabase } from "@pps/test-support";
import type { Sql } from "postgres";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AccountKind, Ledger, LedgerError, type LedgerErrorCode, ledgerViolations } from "./index.ts";

/**
 * The ledger on a real Postgres database of its own: entries, floors under concurrency, holds, refusals.
 * Every test ends with the invariant check.
 */
let database: Awaited<ReturnType<typeof isolatedDatabase>>;
let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  database = await isolatedDatabase("ledger");
  // A pool wide enough for the concurrency tests (200 calls queue on it).
  const db = createDb({ url: database.databaseUrl, max: 20, applicationName: "ledger-test" });
  sql = db.$client;
  ledger = new Ledger(sql);
});

afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await database?.close();
});

afterEach(async () => {
  expect(await ledgerViolations(sql)).toEqual([]);
});

const payer = () => `payer_${randomUUID()}`;
const ops = { operator: "ops@example", reason: "test" };
const merchant = () => `mer_${randomUUID()}`;
const key = () => randomUUID();

async function open(kind: AccountKind, ownerId: string, currency = "CNY", creditLimit?: number) {
  return (await ledger.openAccount({ kind, ownerId, currency, creditLimit })).id;
}

/** A wallet holding `amount`, topped up from a channel's clearing account. */
async function fundedWallet(amount: number, currency = "CNY") {
  const wallet = await open("payer_wallet", payer(), currency);
  const clearing = await open("channel_clearing", "bank", currency);
  await ledger.post({
    cause: "top_up",
    causeId: "pay_topup",
    key: key(),
    legs: [
      { accountId: clearing, amount: -amount },
      { accountId: wallet, amount },
    ],
  });
  return wallet;
}

async function refusal(run: () => Promise<unknown>): Promise<LedgerErrorCode> {
  const err = await run().then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof LedgerError)) throw new Error(`expected a LedgerError, got ${String(err)}`);
  return err.code;
}

const entryCount = async () => Number((await sql`select count(*)::int as n from ledger.entries`)[0]!.n);

describe("entries", () => {
  it("posts a balanced entry to both sides and keeps each posting's running balance", async () => {
    const wallet = await fundedWallet(10_000);
    const pending = await open("merchant_pending", merchant());
    const paid = await ledger.post({
      cause: "payment",
      causeId: "pay_1",
      key: key(),
      legs: [
        { accountId: wallet, amount: -2_500 },
        { accountId: pending, amount: 2_500 },
      ],
      memo: { payment_id: "pay_1" },
    });
    expect(paid.duplicate).toBe(false);
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 7_500, held: 0, available: 7_500, floor: 0 });
    expect(await ledger.balance(pending)).toMatchObject({ balance: 2_500, floor: null, available: null });
    const lines = await ledger.statement(wallet);
    expect(lines.map((l) => [l.cause, l.amount, l.balanceAfter])).toEqual([
      ["top_up", 10_000, 10_000],
      ["payment", -2_500, 7_500],
    ]);
    expect(lines[1]!.memo).toEqual({ payment_id: "pay_1" });
    expect(await ledger.statement(wallet, { after: lines[0]!.seq })).toHaveLength(1);
  });

  it("posts a redelivered cause once, and refuses its key with other legs", async () => {
    const wallet = await fundedWallet(1_000);
    const pending = await open("merchant_pending", merchant());
    const k = key();
    const legs = [
      { accountId: wallet, amount: -400 },
      { accountId: pending, amount: 400 },
    ];
    const first = await ledger.post({ cause: "payment", causeId: "pay_2", key: k, legs });
    const again = await Promise.all(
      [1, 2, 3].map(() => ledger.post({ cause: "payment", causeId: "pay_2", key: k, legs })),
    );
    expect(again.map((p) => p)).toEqual([1, 2, 3].map(() => ({ entryId: first.entryId, duplicate: true })));
    expect((await ledger.balance(wallet))!.balance).toBe(600);
    const other = [
      { accountId: wallet, amount: -500 },
      { accountId: pending, amount: 500 },
    ];
    expect(await refusal(() => ledger.post({ cause: "payment", causeId: "pay_2", key: k, legs: other }))).toBe(
      "ledger.idempotency_key_reused",
    );
    expect((await ledger.balance(wallet))!.balance).toBe(600);
  });

  it("refuses bad entries with a code each, and moves nothing", async () => {
    const wallet = await fundedWallet(1_000);
    const frozen = await fundedWallet(1_000);
    await ledger.setStatus(frozen, "frozen", ops);
    const usd = await open("merchant_pending", merchant(), "USD");
    const pending = await open("merchant_pending", merchant());
    const before = await entryCount();
    const post = (legs: { accountId: string; amount: number }[]) =>
      refusal(() => ledger.post({ cause: "payment", causeId: "pay_bad", key: key(), legs }));
    expect(
      await post([
        { accountId: wallet, amount: -100 },
        { accountId: "acc_nope", amount: 100 },
      ]),
    ).toBe("ledger.account_unknown");
    expect(
      await post([
        { accountId: frozen, amount: -100 },
        { accountId: pending, amount: 100 },
      ]),
    ).toBe("ledger.account_frozen");
    expect(
      await post([
        { accountId: wallet, amount: -100 },
        { accountId: usd, amount: 100 },
      ]),
    ).toBe("ledger.unbalanced_entry");
    expect(
      await post([
        { accountId: wallet, amount: -100 },
        { accountId: pending, amount: 99 },
      ]),
    ).toBe("ledger.unbalanced_entry");
    expect(
      await post([
        { accountId: wallet, amount: -1_001 },
        { accountId: pending, amount: 1_001 },
      ]),
    ).toBe("ledger.insufficient_funds");
    expect(await post([{ accountId: wallet, amount: -100 }])).toBe("ledger.invalid_entry");
    expect(
      await post([
        { accountId: wallet, amount: -100 },
        { accountId: wallet, amount: 100 },
      ]),
    ).toBe("ledger.invalid_entry");
    expect(
      await post([
        { accountId: wallet, amount: 0.5 },
        { accountId: pending, amount: -0.5 },
      ]),
    ).toBe("ledger.invalid_entry");
    expect(await entryCount()).toBe(before);
    expect((await ledger.balance(wallet))!.balance).toBe(1_000);
    // A frozen account still receives credits (a refund coming back), and spends again once unfrozen.
    const clearing = await open("channel_clearing", "bank");
    await ledger.post({
      cause: "refund",
      causeId: "re_1",
      key: key(),
      legs: [
        { accountId: clearing, amount: -1 },
        { accountId: frozen, amount: 1 },
      ],
    });
    expect(await ledger.balance(frozen)).toMatchObject({ balance: 1_001, status: "frozen" });
    await ledger.setStatus(frozen, "active", ops);
    await ledger.post({
      cause: "payment",
      causeId: "pay_after_freeze",
      key: key(),
      legs: [
        { accountId: frozen, amount: -1_001 },
        { accountId: pending, amount: 1_001 },
      ],
    });
    expect((await ledger.balance(frozen))!.balance).toBe(0);
  });

  it("never changes or deletes an entry or a posting", async () => {
    const wallet = await fundedWallet(100);
    for (const attempt of [
      sql`update ledger.postings set amount = amount * 2 where account_id = ${wallet}`,
      sql`delete from ledger.postings where account_id = ${wallet}`,
      sql`update ledger.entries set cause = 'adjustment'`,
      sql`delete from ledger.entries`,
      sql`truncate ledger.postings`,
    ]) {
      await expect(attempt).rejects.toMatchObject({ message: "ledger.immutable" });
    }
  });

  it("the invariant check sees a balance that is not the sum of its postings, and a broken floor", async () => {
    const wallet = await fundedWallet(300);
    await sql`alter table ledger.accounts drop constraint accounts_floor_ck`;
    try {
      await sql`update ledger.accounts set balance = balance - 500 where id = ${wallet}`;
      expect(await ledgerViolations(sql)).toEqual([
        `account ${wallet} shard 0 has balance -200, its postings sum to 300`,
        `account ${wallet} shard 0 is below its floor: balance -200, held 0, floor 0`,
      ]);
    } finally {
      await sql`update ledger.accounts set balance = balance + 500 where id = ${wallet}`;
      await sql`alter table ledger.accounts add constraint accounts_floor_ck check (floor is null or balance - held >= floor)`;
    }
  });

  it("opens an account once however many ask at once, and keeps money and coins apart", async () => {
    const owner = payer();
    const opened = await Promise.all(
      Array.from({ length: 8 }, () =>
        ledger.openAccount({ kind: "merchant_pending", ownerId: owner, currency: "CNY" }),
      ),
    );
    expect(new Set(opened.map((a) => a.id)).size).toBe(1);
    const shards = await sql`select shard from ledger.accounts where id = ${opened[0]!.id}`;
    expect(shards).toHaveLength(16);
    expect(await refusal(() => ledger.openAccount({ kind: "payer_coins", ownerId: owner, currency: "CNY" }))).toBe(
      "ledger.currency_mismatch",
    );
    expect(await refusal(() => ledger.openAccount({ kind: "payer_wallet", ownerId: owner, currency: "GEM" }))).toBe(
      "ledger.currency_mismatch",
    );
  });
});

describe("floors under concurrency", () => {
  /** 200 debits of 100 at once against an account that can afford exactly 100 of them. */
  async function race(debited: string, credited: string, kindOfRefusal: LedgerErrorCode) {
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ledger
          .post({
            cause: "payment",
            causeId: `pay_race_${i}`,
            key: key(),
            legs: [
              { accountId: debited, amount: -100 },
              { accountId: credited, amount: 100 },
            ],
          })
          .then(
            () => "posted",
            (e: unknown) => (e instanceof LedgerError ? e.code : String(e)),
          ),
      ),
    );
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1;
    expect(tally).toEqual({ posted: 100, [kindOfRefusal]: 100 });
    // Never below the floor at any point: every posting's running balance stayed at or above it.
    const lowest = await sql<{ low: string }[]>`
      select min(balance_after) as low from ledger.postings where account_id = ${debited}`;
    return Number(lowest[0]!.low);
  }

  it("a wallet that can afford exactly 100 of 200 concurrent payments pays 100 and ends at zero", async () => {
    const wallet = await fundedWallet(10_000);
    const pending = await open("merchant_pending", merchant());
    expect(await race(wallet, pending, "ledger.insufficient_funds")).toBe(0);
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 0, available: 0 });
    expect((await ledger.balance(pending))!.balance).toBe(10_000);
  });

  it("a credit line draws exactly to its limit", async () => {
    const line = await open("payer_credit", payer(), "CNY", 10_000);
    const pending = await open("merchant_pending", merchant());
    expect(await race(line, pending, "ledger.credit_limit_exceeded")).toBe(-10_000);
    expect(await ledger.balance(line)).toMatchObject({
      balance: -10_000,
      creditLimit: 10_000,
      creditUsed: 10_000,
      available: 0,
    });
  });

  it("coins spend exactly what was granted", async () => {
    const coins = await open("payer_coins", payer(), "GEM");
    const issuance = await ledger.platformAccount("coin_issuance", "GEM");
    await ledger.post({
      cause: "coin_grant",
      causeId: "grant_1",
      key: key(),
      legs: [
        { accountId: issuance, amount: -10_000 },
        { accountId: coins, amount: 10_000 },
      ],
    });
    const sink = await open("merchant_pending", merchant(), "GEM").catch((e: unknown) => e);
    expect(sink).toBeInstanceOf(LedgerError); // merchants are paid in money, not coins
    const spent = await ledger.platformAccount("coin_adjustments", "GEM");
    expect(await race(coins, spent, "ledger.insufficient_funds")).toBe(0);
    expect((await ledger.balance(coins))!.balance).toBe(0);
  });

  it("holds count against the floor while they last", async () => {
    const wallet = await fundedWallet(10_000);
    const pending = await open("merchant_pending", merchant());
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        ledger
          .hold({
            cause: "payment",
            causeId: `pay_hold_${i}`,
            key: key(),
            debitAccountId: wallet,
            creditAccountId: pending,
            amount: 500,
            expiresAt: new Date(Date.now() + 60_000),
          })
          .then(
            () => "held",
            (e: unknown) => (e instanceof LedgerError ? e.code : String(e)),
          ),
      ),
    );
    expect(outcomes.filter((o) => o === "held")).toHaveLength(20);
    expect(outcomes.filter((o) => o === "ledger.insufficient_funds")).toHaveLength(20);
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 10_000, held: 10_000, available: 0 });
    expect(
      await refusal(() =>
        ledger.post({
          cause: "payment",
          causeId: "pay_x",
          key: key(),
          legs: [
            { accountId: wallet, amount: -1 },
            { accountId: pending, amount: 1 },
          ],
        }),
      ),
    ).toBe("ledger.insufficient_funds");
  });
});

describe("group commit", () => {
  it("in one batch, a refused entry moves nothing and the others post; a repeated key answers its first entry", async () => {
    const own = createDb({ url: database.databaseUrl, max: 2, applicationName: "ledger-batch-test" });
    try {
      // One batch at a time: the first entry goes alone, the rest queue behind it and go as one batch.
      const serial = new Ledger(own.$client, { maxInFlight: 1 });
      const wallet = await fundedWallet(100);
      const pending = await open("merchant_pending", merchant());
      const pay = (amount: number, k = key()) =>
        serial
          .post({
            cause: "payment",
            causeId: `pay_${amount}`,
            key: k,
            legs: [
              { accountId: wallet, amount: -amount },
              { accountId: pending, amount },
            ],
          })
          .then(
            (p) => p,
            (e: unknown) => (e instanceof LedgerError ? e.code : String(e)),
          );
      const repeated = key();
      const [a, b, c, d, e] = await Promise.all([pay(60), pay(60), pay(30), pay(5, repeated), pay(5, repeated)]);
      expect(a).toMatchObject({ duplicate: false });
      expect(b).toBe("ledger.insufficient_funds");
      expect(c).toMatchObject({ duplicate: false });
      expect(d).toMatchObject({ duplicate: false });
      expect(e).toEqual({ entryId: (d as { entryId: string }).entryId, duplicate: true });
      expect((await ledger.balance(wallet))!.balance).toBe(5);
      expect((await ledger.statement(wallet)).map((l) => l.balanceAfter)).toEqual([100, 40, 10, 5]);
    } finally {
      await own.$client.end({ timeout: 5 });
    }
  });

  it("replicas on pools of their own racing on one wallet pay exactly what it holds", async () => {
    const pools = Array.from({ length: 4 }, (_, i) =>
      createDb({ url: database.databaseUrl, max: 3, applicationName: `ledger-replica-${i}` }),
    );
    try {
      const replicas = pools.map((p) => new Ledger(p.$client, { maxInFlight: 2 }));
      const wallet = await fundedWallet(10_000);
      const pending = await open("merchant_pending", merchant());
      const outcomes = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          replicas[i % replicas.length]!.post({
            cause: "payment",
            causeId: `pay_replica_${i}`,
            key: key(),
            legs: [
              { accountId: wallet, amount: -100 },
              { accountId: pending, amount: 100 },
            ],
          }).then(
            () => "posted",
            (e: unknown) => (e instanceof LedgerError ? e.code : String(e)),
          ),
        ),
      );
      expect(outcomes.filter((o) => o === "posted")).toHaveLength(100);
      expect(outcomes.filter((o) => o === "ledger.insufficient_funds")).toHaveLength(100);
      expect(await ledger.balance(wallet)).toMatchObject({ balance: 0 });
    } finally {
      await Promise.all(pools.map((p) => p.$client.end({ timeout: 5 })));
    }
  });
});

describe("holds", () => {
  async function held(amount: number, expiresInMs = 60_000) {
    const wallet = await fundedWallet(10_000);
    const pending = await open("merchant_pending", merchant());
    const { holdId } = await ledger.hold({
      cause: "payment",
      causeId: "pay_auth",
      key: key(),
      debitAccountId: wallet,
      creditAccountId: pending,
      amount,
      expiresAt: new Date(Date.now() + expiresInMs),
    });
    return { wallet, pending, holdId };
  }

  it("posts part of a hold and releases the rest; a repeat answers the same entry", async () => {
    const { wallet, pending, holdId } = await held(8_000);
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 10_000, held: 8_000, available: 2_000 });
    const k = key();
    const posted = await ledger.postHold({ holdId, amount: 5_000, cause: "capture", key: k });
    expect(await ledger.postHold({ holdId, amount: 5_000, cause: "capture", key: k })).toEqual({
      entryId: posted.entryId,
      duplicate: true,
    });
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 5_000, held: 0, available: 5_000 });
    expect((await ledger.balance(pending))!.balance).toBe(5_000);
    expect(await ledger.getHold(holdId)).toMatchObject({
      status: "posted",
      postedAmount: 5_000,
      entryId: posted.entryId,
    });
    expect(await refusal(() => ledger.postHold({ holdId, amount: 1_000, cause: "capture", key: key() }))).toBe(
      "ledger.hold_not_pending",
    );
    expect(await refusal(() => ledger.voidHold(holdId))).toBe("ledger.hold_not_pending");
  });

  it("refuses to post more than was held, or anything of a voided hold", async () => {
    const { wallet, holdId } = await held(3_000);
    expect(await refusal(() => ledger.postHold({ holdId, amount: 3_001, cause: "capture", key: key() }))).toBe(
      "ledger.amount_exceeds_hold",
    );
    expect(await ledger.voidHold(holdId)).toEqual({ already: false });
    expect(await ledger.voidHold(holdId)).toEqual({ already: true });
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 10_000, held: 0 });
    expect(await refusal(() => ledger.postHold({ holdId, amount: 100, cause: "capture", key: key() }))).toBe(
      "ledger.hold_not_pending",
    );
    expect(await refusal(() => ledger.voidHold("hold_nope"))).toBe("ledger.hold_not_found");
  });

  it("a hold expires by itself: not postable once past its expiry, released by the sweep", async () => {
    const { wallet, holdId } = await held(4_000, 300);
    await new Promise((r) => setTimeout(r, 500));
    expect(await refusal(() => ledger.postHold({ holdId, amount: 4_000, cause: "capture", key: key() }))).toBe(
      "ledger.hold_expired",
    );
    expect(await ledger.expireHolds()).toBeGreaterThanOrEqual(1);
    expect(await ledger.getHold(holdId)).toMatchObject({ status: "expired" });
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 10_000, held: 0, available: 10_000 });
  });

  it("a frozen account takes no new hold, and its held funds wait", async () => {
    const { wallet, pending, holdId } = await held(1_000);
    await ledger.setStatus(wallet, "frozen", ops);
    const hold = () =>
      ledger.hold({
        cause: "payment",
        causeId: "pay_f",
        key: key(),
        debitAccountId: wallet,
        creditAccountId: pending,
        amount: 10,
        expiresAt: new Date(Date.now() + 60_000),
      });
    expect(await refusal(hold)).toBe("ledger.account_frozen");
    expect(await refusal(() => ledger.postHold({ holdId, amount: 1_000, cause: "capture", key: key() }))).toBe(
      "ledger.account_frozen",
    );
    expect(await ledger.balance(wallet)).toMatchObject({ held: 1_000, status: "frozen" });
    await ledger.setStatus(wallet, "active", ops);
    await ledger.postHold({ holdId, amount: 1_000, cause: "capture", key: key() });
    expect(await ledger.balance(wallet)).toMatchObject({ balance: 9_000, held: 0 });
  });
});

describe("operator actions", () => {
  it("adjusts with a reason and an operator only, against the platform's adjustment account", async () => {
    const wallet = await fundedWallet(100);
    expect(
      await refusal(() => ledger.adjust({ accountId: wallet, amount: 50, reason: " ", operator: "ops", key: key() })),
    ).toBe("ledger.reason_required");
    const posted = await ledger.adjust({
      accountId: wallet,
      amount: 50,
      reason: "goodwill credit, ticket 123",
      operator: "ops@example",
      key: key(),
    });
    const [line] = (await ledger.statement(wallet)).filter((l) => l.entryId === posted.entryId);
    expect(line).toMatchObject({ cause: "adjustment", amount: 50, memo: { reason: "goodwill credit, ticket 123" } });
    expect(
      await refusal(() =>
        ledger.adjust({ accountId: wallet, amount: -151, reason: "clawback", operator: "ops", key: key() }),
      ),
    ).toBe("ledger.insufficient_funds");
  });

  it("keeps who changed an account and why, and refuses a change without both", async () => {
    const line = await open("payer_credit", payer(), "CNY", 1_000);
    expect(await refusal(() => ledger.setStatus(line, "frozen", { operator: "ops", reason: "" }))).toBe(
      "ledger.reason_required",
    );
    expect(await refusal(() => ledger.setCreditLimit(line, 5, { operator: " ", reason: "x" }))).toBe(
      "ledger.reason_required",
    );
    await ledger.setStatus(line, "frozen", { operator: "risk@example", reason: "fraud ticket 7" });
    await ledger.setCreditLimit(line, 2_000, { operator: "credit@example", reason: "annual review" });
    await ledger.setStatus(line, "active", { operator: "risk@example", reason: "ticket 7 closed" });
    expect((await ledger.changes(line)).map((c) => [c.change, c.from, c.to, c.operator, c.reason])).toEqual([
      ["opened", null, "payer_credit CNY floor -1000", "system", "opened on first use"],
      ["status", "active", "frozen", "risk@example", "fraud ticket 7"],
      ["credit_limit", "1000", "2000", "credit@example", "annual review"],
      ["status", "frozen", "active", "risk@example", "ticket 7 closed"],
    ]);
    // A refused limit change leaves no trace.
    const pending = await open("merchant_pending", merchant());
    await ledger.post({
      cause: "payment",
      causeId: "pay_audit",
      key: key(),
      legs: [
        { accountId: line, amount: -1_500 },
        { accountId: pending, amount: 1_500 },
      ],
    });
    expect(await refusal(() => ledger.setCreditLimit(line, 1_000, ops))).toBe("ledger.limit_below_used");
    expect(await ledger.changes(line)).toHaveLength(4);
  });

  it("sets a credit limit, never below what is in use", async () => {
    const line = await open("payer_credit", payer(), "CNY", 5_000);
    const pending = await open("merchant_pending", merchant());
    await ledger.post({
      cause: "payment",
      causeId: "pay_c",
      key: key(),
      legs: [
        { accountId: line, amount: -3_000 },
        { accountId: pending, amount: 3_000 },
      ],
    });
    expect(await refusal(() => ledger.setCreditLimit(line, 2_999, ops))).toBe("ledger.limit_below_used");
    expect(await ledger.setCreditLimit(line, 8_000, ops)).toMatchObject({
      creditLimit: 8_000,
      creditUsed: 3_000,
      available: 5_000,
    });
    expect(await refusal(() => ledger.setCreditLimit(pending, 1, ops))).toBe("ledger.kind_not_supported");
    expect(await refusal(() => ledger.setCreditLimit("acc_nope", 1, ops))).toBe("ledger.account_unknown");
  });
});
