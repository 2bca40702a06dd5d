import type { Database } from "@pps/db";
import { AppError } from "@pps/domain";
import { paymentEvents } from "@pps/messaging";
import { Coalescer, type Settled } from "@pps/runtime";
import type { TransactionSql } from "postgres";
import { idempotencyLockKey, runIdempotent, type StoredResponse } from "../http/idempotency.ts";
import { insertPayment } from "./repository.ts";
import { toApiPayment } from "./payment-view.ts";
import { changeMessages, type PaymentRow } from "./snapshot.ts";

/** A payment (or pre-order) that passed every check but the idempotency key, the nonce and the order number. */
export type AcceptItem = {
  merchantId: string;
  key: string;
  hash: string;
  nonce: string | null;
  /** The new row's values; the database fills version and timestamps. */
  values: Omit<
    PaymentRow,
    | "version"
    | "createdAt"
    | "updatedAt"
    | "channel"
    | "channelTxnId"
    | "action"
    | "settlement"
    | "failureCode"
    | "failureMessage"
    | "amountAuthorized"
    | "amountCaptured"
    | "amountRefunded"
    | "amountRefundPending"
    | "authorizedAt"
    | "authorizationExpiresAt"
    | "capturedAt"
    | "paidAttemptId"
  >;
  requestId: string;
  payUrl?: string;
};

export type AcceptResult = StoredResponse & { replayed: boolean };

const PAYMENT_CREATED = paymentEvents.created;

/** The stored row a freshly inserted payment has (what `insert ... returning *` would give). */
function newRow(values: AcceptItem["values"], now: Date): PaymentRow {
  return {
    ...values,
    version: 1,
    channel: null,
    channelTxnId: null,
    action: null,
    settlement: null,
    failureCode: null,
    failureMessage: null,
    amountAuthorized: 0,
    amountCaptured: 0,
    amountRefunded: 0,
    amountRefundPending: 0,
    authorizedAt: null,
    authorizationExpiresAt: null,
    capturedAt: null,
    paidAttemptId: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** The one-by-one path: the reference semantics, used for a lone request and whenever a batch cannot be exact. */
export function acceptOne(db: Database, item: AcceptItem): Promise<AcceptResult> {
  return runIdempotent(
    db,
    { merchantId: item.merchantId, key: item.key, hash: item.hash, nonce: item.nonce },
    async (tx) => {
      const row = await insertPayment(tx, item.values, { cause: "api", causeRef: item.requestId });
      return { status: 201, body: toApiPayment(row, { payUrl: item.payUrl }) };
    },
  );
}

// Arrays travel as text[] and are cast per column in SQL: drizzle replaces the driver's serializers of
// timestamp arrays (and parsers of timestamps: they come back as strings) on the shared client.

/** A conflict found only when writing (a concurrent request won a race): the batch rolls back and goes one by one. */
class BatchConflict extends Error {}

type Check = {
  i: number;
  ok: boolean;
  request_hash: string | null;
  response_status: number | null;
  response_body: unknown;
  nonce_seen: boolean;
  order_seen: boolean;
  now: Date;
};

/**
 * Accepts many payments in one transaction of two statements, with the same answers the one-by-one path
 * gives: statement 1 takes every request's idempotency lock and reads, for each, a stored response, whether
 * its nonce was seen and whether its order number is taken; the requests that may proceed are written by
 * statement 2 (payments, audit rows, outbox rows, nonces, idempotency keys), each insert guarded by its
 * unique key. If any guard finds a row that statement 1 did not see (a concurrent transaction committed in
 * between), the batch rolls back and every request in it runs on its own.
 */
async function acceptBatch(db: Database, items: AcceptItem[]): Promise<Settled<AcceptResult>[]> {
  const results: (Settled<AcceptResult> | undefined)[] = new Array(items.length);
  const alone: number[] = [];
  const batch: number[] = [];
  // Same key twice in one batch: the second is a concurrent duplicate of the first, as on its own.
  // Same nonce or order number twice: left to the one-by-one path, which orders them.
  const keys = new Set<string>();
  const uniques = new Set<string>();
  items.forEach((item, i) => {
    const key = `${item.merchantId}\0${item.key}`;
    if (keys.has(key)) {
      results[i] = {
        ok: false,
        error: new AppError(
          "request.idempotency_in_progress",
          "a request with this Idempotency-Key is still being processed",
        ),
      };
      return;
    }
    keys.add(key);
    const order = `o\0${item.merchantId}\0${item.values.merchantOrderNo}`;
    const nonce = item.nonce === null ? null : `n\0${item.merchantId}\0${item.nonce}`;
    if (uniques.has(order) || (nonce && uniques.has(nonce))) {
      alone.push(i);
      return;
    }
    uniques.add(order);
    if (nonce) uniques.add(nonce);
    batch.push(i);
  });

  if (batch.length > 0) {
    try {
      await db.$client.begin((sql) => writeBatch(sql, items, batch, results));
    } catch {
      // A race lost to a concurrent request (BatchConflict), a deadlock with one, or a database failure:
      // the one-by-one path gives each request its exact answer, or its own error.
      for (const i of batch) results[i] = undefined;
      alone.push(...batch);
    }
  }
  await Promise.all(
    alone.map(async (i) => {
      try {
        results[i] = { ok: true, value: await acceptOne(db, items[i]!) };
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }),
  );
  return results.map((r) => r ?? { ok: false, error: new Error("request was not answered") });
}

async function writeBatch(
  sql: TransactionSql,
  items: AcceptItem[],
  batch: number[],
  results: (Settled<AcceptResult> | undefined)[],
): Promise<void> {
  const picked = batch.map((i) => items[i]!);
  const checks = await sql<Check[]>`
    select u.i, pg_try_advisory_xact_lock(u.l) as ok, k.request_hash, k.response_status, k.response_body,
      exists (select 1 from payment.request_nonces n where n.merchant_id = u.m and n.nonce = u.n) as nonce_seen,
      exists (select 1 from payment.payments p where p.merchant_id = u.m and p.merchant_order_no = u.o) as order_seen,
      now() as now
    from unnest(${batch}::int[], ${picked.map((it) => idempotencyLockKey(it.merchantId, it.key).toString())}::bigint[],
      ${picked.map((it) => it.merchantId)}::text[], ${picked.map((it) => it.key)}::text[],
      ${picked.map((it) => it.nonce)}::text[], ${picked.map((it) => it.values.merchantOrderNo)}::text[]) as u(i, l, m, k, n, o)
    left join payment.idempotency_keys k on k.merchant_id = u.m and k.key = u.k`;

  const go: { i: number; item: AcceptItem; row: PaymentRow; body: ReturnType<typeof toApiPayment> }[] = [];
  for (const c of checks) {
    const item = items[c.i]!;
    // The order of the one-by-one path: the key's lock, its stored response, the nonce, the order number.
    if (!c.ok)
      results[c.i] = {
        ok: false,
        error: new AppError(
          "request.idempotency_in_progress",
          "a request with this Idempotency-Key is still being processed",
        ),
      };
    else if (c.request_hash !== null && c.request_hash !== item.hash)
      results[c.i] = {
        ok: false,
        error: new AppError("request.idempotency_key_reused", "this Idempotency-Key was used with a different request"),
      };
    else if (c.request_hash !== null)
      results[c.i] = { ok: true, value: { status: c.response_status!, body: c.response_body, replayed: true } };
    else if (c.nonce_seen)
      results[c.i] = { ok: false, error: new AppError("auth.nonce_replayed", "this nonce was already used") };
    else if (c.order_seen)
      results[c.i] = {
        ok: false,
        error: new AppError("payment.duplicate_order_no", "this merchant_order_no already has a payment"),
      };
    else {
      const row = newRow(item.values, new Date(c.now));
      go.push({ i: c.i, item, row, body: toApiPayment(row, { payUrl: item.payUrl }) });
    }
  }
  if (go.length === 0) return;

  // The public event of each, and the restricted twin risk-stub decides on for those entering risk review
  // (a pre-order awaiting payment has none).
  const messages = go.map(({ row }) => changeMessages(PAYMENT_CREATED, row, null));
  const envelopes = messages.map((m) => m.public.envelope);
  const outbox = messages.flatMap((m) => (m.internal ? [m.public, m.internal] : [m.public]));
  const v = go.map((g) => g.item.values);
  const withNonce = go.filter((g) => g.item.nonce !== null);
  const json = (x: unknown) => JSON.stringify(x);
  const [counts] = await sql<{ payments: number; nonces: number; keys: number }[]>`
    with n as (
      insert into payment.request_nonces (merchant_id, nonce)
      select * from unnest(${withNonce.map((g) => g.item.merchantId)}::text[], ${withNonce.map((g) => g.item.nonce)}::text[])
      on conflict do nothing returning 1
    ), p as (
      insert into payment.payments (id, merchant_id, merchant_order_no, product, amount, currency, subject, status, payer_id, payer_ip,
        payer_device_id, payer_phone, method, notify_url, return_url, metadata, expires_at, capture_method)
      select id, m, o, product, amount, currency, subject, status, payer, ip, device, phone, method::jsonb, notify, ret, meta::jsonb, exp::timestamptz, capture
      from unnest(${v.map((x) => x.id)}::text[], ${v.map((x) => x.merchantId)}::text[], ${v.map((x) => x.merchantOrderNo)}::text[],
        ${v.map((x) => x.product)}::text[], ${v.map((x) => String(x.amount))}::bigint[], ${v.map((x) => x.currency)}::text[],
        ${v.map((x) => x.subject)}::text[], ${v.map((x) => x.status)}::text[], ${v.map((x) => x.payerId)}::text[],
        ${v.map((x) => x.payerIp)}::text[], ${v.map((x) => x.payerDeviceId)}::text[], ${v.map((x) => x.payerPhone)}::text[],
        ${v.map((x) => json(x.method))}::text[], ${v.map((x) => x.notifyUrl)}::text[], ${v.map((x) => x.returnUrl)}::text[],
        ${v.map((x) => json(x.metadata))}::text[], ${v.map((x) => x.expiresAt.toISOString())}::text[],
        ${v.map((x) => x.captureMethod)}::text[])
        as u(id, m, o, product, amount, currency, subject, status, payer, ip, device, phone, method, notify, ret, meta, exp, capture)
      on conflict (merchant_id, merchant_order_no) do nothing returning 1
    ), t as (
      insert into payment.payment_transitions (payment_id, merchant_id, from_status, to_status, version, cause, cause_ref, event_id, envelope)
      select id, m, null, status, 1, 'api', ref, eid, env::jsonb
      from unnest(${v.map((x) => x.id)}::text[], ${v.map((x) => x.merchantId)}::text[], ${v.map((x) => x.status)}::text[],
        ${go.map((g) => g.item.requestId)}::text[], ${envelopes.map((e) => e.id)}::text[], ${envelopes.map(json)}::text[]) as u(id, m, status, ref, eid, env)
      returning 1
    ), o as (
      insert into payment.outbox (event_id, topic, key, envelope)
      select eid, topic, key, env::jsonb
      from unnest(${outbox.map((e) => e.envelope.id)}::uuid[], ${outbox.map((e) => e.def.topic)}::text[], ${outbox.map((e) => e.envelope.aggregateId)}::text[],
        ${outbox.map((e) => json(e.envelope))}::text[]) as u(eid, topic, key, env)
      returning 1
    ), k as (
      insert into payment.idempotency_keys (merchant_id, key, request_hash, response_status, response_body)
      select m, k, h, 201, body::jsonb
      from unnest(${go.map((g) => g.item.merchantId)}::text[], ${go.map((g) => g.item.key)}::text[], ${go.map((g) => g.item.hash)}::text[],
        ${go.map((g) => json(g.body))}::text[]) as u(m, k, h, body)
      on conflict do nothing returning 1
    )
    select (select count(*) from p)::int as payments, (select count(*) from n)::int as nonces, (select count(*) from k)::int as keys`;
  if (!counts || counts.payments !== go.length || counts.nonces !== withNonce.length || counts.keys !== go.length)
    throw new BatchConflict();
  for (const g of go) results[g.i] = { ok: true, value: { status: 201, body: g.body, replayed: false } };
}

/** Group commit for POST /v1/payments and /v1/orders (see acceptBatch). */
export function createAcceptor(db: Database, opts: { maxBatch?: number; maxInFlight?: number } = {}) {
  return new Coalescer<AcceptItem, AcceptResult>({
    maxBatch: opts.maxBatch ?? 128,
    maxInFlight: opts.maxInFlight ?? 3,
    run: (items) => acceptBatch(db, items),
  });
}

export type Acceptor = ReturnType<typeof createAcceptor>;
