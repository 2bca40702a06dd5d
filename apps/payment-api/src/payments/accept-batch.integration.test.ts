import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@pps/db";
import type { AppError } from "@pps/domain";
import { TOPICS } from "@pps/messaging";
import { isolatedDatabase } from "@pps/test-support";
import { acceptOne, createAcceptor, type AcceptItem, type AcceptResult } from "./accept-batch.ts";

/**
 * The group-commit accept path against real Postgres: every request of a batch gets the answer the
 * one-by-one path would give it, and a refused request leaves nothing behind.
 */
/** Its own database: a payment-api started by another test file relays (and deletes) the shared one's outbox rows. */
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let db: Database;
const merchantId = `m_batch_${randomBytes(4).toString("hex")}`;
const hex = (n = 6) => randomBytes(n).toString("hex");

function item(
  overrides: Partial<Omit<AcceptItem, "values">> & { orderNo?: string; values?: Partial<AcceptItem["values"]> } = {},
): AcceptItem {
  const id = `pay_${hex(13).toUpperCase().slice(0, 26).padEnd(26, "0")}`;
  return {
    merchantId,
    key: overrides.key ?? `k_${hex()}`,
    hash: overrides.hash ?? `h_${hex()}`,
    nonce: overrides.nonce === undefined ? `n_${hex()}` : overrides.nonce,
    requestId: `req_${hex()}`,
    values: {
      id,
      merchantId,
      merchantOrderNo: overrides.orderNo ?? `o_${hex()}`,
      product: "online_banking",
      amount: 1_000,
      currency: "CNY",
      subject: "batch test",
      status: "risk_review",
      captureMethod: "automatic",
      payerId: `u_${hex()}`,
      payerIp: null,
      payerDeviceId: null,
      payerPhone: null,
      method: { bankCode: "CMB", cardType: null, wallet: null, flow: null },
      notifyUrl: "https://shop.example/notify",
      returnUrl: "https://shop.example/return",
      metadata: {},
      expiresAt: new Date(Date.now() + 600_000),
      ...overrides.values,
    },
  };
}

/** Rows written for these payments; `outbox` counts public events, `internal` their restricted twins. */
async function rowsFor(paymentIds: string[]) {
  const sql = db.$client;
  const [r] = await sql<{ payments: number; transitions: number; outbox: number; internal: number }[]>`
    select (select count(*) from payment.payments where id = any(${paymentIds}::text[]))::int as payments,
      (select count(*) from payment.payment_transitions where payment_id = any(${paymentIds}::text[]))::int as transitions,
      (select count(*) from payment.outbox where key = any(${paymentIds}::text[]) and topic = ${TOPICS.paymentEvents.name})::int as outbox,
      (select count(*) from payment.outbox where key = any(${paymentIds}::text[]) and topic = ${TOPICS.paymentInternal.name})::int as internal`;
  return r!;
}

async function nonceCount(nonces: string[]) {
  const [r] = await db.$client<
    { n: number }[]
  >`select count(*)::int as n from payment.request_nonces where merchant_id = ${merchantId} and nonce = any(${nonces}::text[])`;
  return r!.n;
}

const codeOf = (r: PromiseSettledResult<AcceptResult>) =>
  r.status === "rejected" ? (r.reason as AppError).code : r.value.status;

beforeAll(async () => {
  isolated = await isolatedDatabase("accept");
  db = isolated.db;
});
afterAll(async () => {
  await isolated.close();
});

describe("group-commit accept", () => {
  it("writes a batch of new payments with their audit row, outbox event, nonce and stored response", async () => {
    // One batch at a time: the first request runs alone, the next nine are gathered into one batch.
    const acceptor = createAcceptor(db, { maxInFlight: 1 });
    const items = Array.from({ length: 10 }, () => item());
    const results = await Promise.all(items.map((i) => acceptor.submit(i)));
    expect(results.map((r) => [r.status, r.replayed])).toEqual(items.map(() => [201, false]));
    expect(results.map((r) => (r.body as { id: string }).id)).toEqual(items.map((i) => i.values.id));
    expect(await rowsFor(items.map((i) => i.values.id))).toEqual({
      payments: 10,
      transitions: 10,
      outbox: 10,
      internal: 10,
    });
    expect(await nonceCount(items.map((i) => i.nonce!))).toBe(10);
    // The stored response is what a retry with the same key replays.
    const replay = await acceptOne(db, items[3]!);
    expect(replay).toEqual({ ...results[3], replayed: true });
  });

  it("keeps the payer's contact data off the public event and the audit row: only the restricted twin, and only in risk review", async () => {
    const acceptor = createAcceptor(db, { maxInFlight: 1 });
    const contact = (n: number) => ({
      payerIp: `198.51.100.${n}`,
      payerDeviceId: `dev-${hex()}`,
      payerPhone: `+86139${String(10_000_000 + n)}`,
    });
    // The first runs alone (one by one), the rest as one batch; every third is a pre-order awaiting payment.
    const items = Array.from({ length: 6 }, (_, n) =>
      item({ values: { ...contact(n + 1), status: n % 3 === 2 ? "awaiting_payment" : "risk_review" } }),
    );
    await Promise.all(items.map((i) => acceptor.submit(i)));
    const ids = items.map((i) => i.values.id);
    const rows = await db.$client<{ key: string; topic: string; envelope: string; audit: string }[]>`
      select o.key, o.topic, o.envelope::text as envelope, t.envelope::text as audit
      from payment.outbox o join payment.payment_transitions t on t.payment_id = o.key
      where o.key = any(${ids}::text[])`;
    for (const i of items) {
      const mine = rows.filter((r) => r.key === i.values.id);
      const values = [i.values.payerIp!, i.values.payerDeviceId!, i.values.payerPhone!];
      const leaks = (text: string) => values.filter((v) => text.includes(v));
      const pub = mine.filter((r) => r.topic === TOPICS.paymentEvents.name);
      const internal = mine.filter((r) => r.topic === TOPICS.paymentInternal.name);
      expect(pub, i.values.id).toHaveLength(1);
      expect(leaks(pub[0]!.envelope)).toEqual([]);
      expect(leaks(pub[0]!.audit)).toEqual([]); // the audit row's envelope is the public one (the merchant events feed serves it)
      if (i.values.status === "awaiting_payment") expect(internal).toHaveLength(0);
      else {
        expect(internal).toHaveLength(1);
        expect(leaks(internal[0]!.envelope)).toEqual(values);
        expect(JSON.parse(internal[0]!.envelope)).toMatchObject({
          type: "payment.internal.created",
          version: 1,
          occurredAt: JSON.parse(pub[0]!.envelope).occurredAt,
        });
      }
    }
  });

  it("answers each request of a mixed batch as the one-by-one path would, and writes nothing for the refused", async () => {
    const done = item();
    await acceptOne(db, done);
    const doneToo = item();
    await acceptOne(db, doneToo);
    const usedNonce = item();
    await acceptOne(db, usedNonce);
    const takenOrder = item();
    await acceptOne(db, takenOrder);

    const acceptor = createAcceptor(db, { maxInFlight: 1 });
    const blocker = acceptor.submit(item()); // runs alone; the rest queue behind it and form one batch
    const fresh = item();
    const sameKeyTwice = item();
    const twinOrder = `o_${hex()}`;
    const cases = {
      fresh,
      replay: { ...done },
      reusedKey: { ...doneToo, hash: "another request" },
      nonceReplayed: item({ nonce: usedNonce.nonce }),
      orderTaken: item({ orderNo: takenOrder.values.merchantOrderNo }),
      sameKeyFirst: sameKeyTwice,
      sameKeySecond: item({ key: sameKeyTwice.key }),
      twinA: item({ orderNo: twinOrder }),
      twinB: item({ orderNo: twinOrder }),
    };
    const entries = Object.entries(cases);
    const settled = await Promise.allSettled(entries.map(([, i]) => acceptor.submit(i)));
    await blocker;
    const byCase = Object.fromEntries(entries.map(([name], n) => [name, codeOf(settled[n]!)]));
    expect(byCase).toEqual({
      fresh: 201,
      replay: 201,
      reusedKey: "request.idempotency_key_reused",
      nonceReplayed: "auth.nonce_replayed",
      orderTaken: "payment.duplicate_order_no",
      sameKeyFirst: 201,
      sameKeySecond: "request.idempotency_in_progress",
      twinA: 201,
      twinB: "payment.duplicate_order_no",
    });
    expect((settled[1] as PromiseFulfilledResult<AcceptResult>).value.replayed).toBe(true);
    // (reusedKey and replay carry the ids of payments that exist already.)
    const refused = [cases.nonceReplayed, cases.orderTaken, cases.sameKeySecond, cases.twinB];
    expect(await rowsFor(refused.map((i) => i.values.id))).toEqual({
      payments: 0,
      transitions: 0,
      outbox: 0,
      internal: 0,
    });
    // Nonces of refused requests stay unused (the replayed one was stored by its first request only).
    expect(await nonceCount([cases.orderTaken.nonce!, cases.sameKeySecond.nonce!, cases.twinB.nonce!])).toBe(0);
    expect(await rowsFor([fresh.values.id, sameKeyTwice.values.id])).toEqual({
      payments: 2,
      transitions: 2,
      outbox: 2,
      internal: 2,
    });
  });

  it("falls back to one by one when a concurrent transaction wins a race the batch's checks could not see", async () => {
    const contested = item();
    // Another transaction holds the order number uncommitted while the batch checks and writes.
    const sql = await db.$client.reserve();
    try {
      await sql`begin`;
      await sql`insert into payment.payments (id, merchant_id, merchant_order_no, product, amount, currency, subject, status, payer_id,
        method, notify_url, return_url, metadata, expires_at)
        values (${`pay_RACE${hex(11).toUpperCase()}`.slice(0, 30)}, ${merchantId}, ${contested.values.merchantOrderNo}, 'online_banking', 1, 'CNY', 's',
        'risk_review', 'u', '{}'::jsonb, 'https://x.example', 'https://x.example', '{}'::jsonb, now() + interval '1 hour')`;
      const acceptor = createAcceptor(db, { maxInFlight: 1 });
      const other = item();
      const pending = Promise.allSettled([acceptor.submit(contested), acceptor.submit(other)]);
      await new Promise((r) => setTimeout(r, 300));
      await sql`commit`;
      const [a, b] = await pending;
      expect(codeOf(a!)).toBe("payment.duplicate_order_no");
      expect(codeOf(b!)).toBe(201);
      expect(await rowsFor([contested.values.id])).toEqual({ payments: 0, transitions: 0, outbox: 0, internal: 0 });
      expect(await nonceCount([contested.nonce!])).toBe(0);
    } finally {
      sql.release();
    }
  });
});
