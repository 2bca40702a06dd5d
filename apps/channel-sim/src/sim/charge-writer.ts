import { and, eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { simCharges } from "@pps/db/schema";
import { Coalescer, type Settled } from "@pps/runtime";
import type { Charge } from "../channels/protocol.ts";
import { insertCallbacksOfDone, type NewCallback } from "./callbacks.ts";
import type { Sql } from "./deps.ts";

/** A new transaction, complete as stored, with the callbacks to queue if it is indeed created. */
export type ChargeCreation = { charge: Charge; callbacks: NewCallback[] };
export type CreatedOrFound = { charge: Charge; created: boolean };

const keyOf = (c: Charge) => `${c.channel}\0${c.merchantId}\0${c.merchantRef}`;

/** The stored transaction with the same (channel, merchant, reference) as `charge`. */
async function findSameOrder(db: Database, charge: Charge): Promise<Charge> {
  const [existing] = await db
    .select()
    .from(simCharges)
    .where(
      and(
        eq(simCharges.channel, charge.channel),
        eq(simCharges.merchantId, charge.merchantId),
        eq(simCharges.merchantRef, charge.merchantRef),
      ),
    );
  if (!existing) throw new Error("charge vanished after a unique conflict");
  return existing;
}

/**
 * One statement: inserts the charges unless their (channel, merchant, reference) exists (the unique index,
 * not a read-then-write, prevents a second charge; a reference twice in the batch is inserted once) and
 * queues the callbacks of those it inserted. Returns the ids inserted.
 */
async function insertCharges(sql: Sql, items: ChargeCreation[]): Promise<Set<string>> {
  const c = items.map((i) => i.charge);
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const rows = await sql<{ id: string }[]>`
    with done as (
      insert into sim.charges (id, channel, merchant_id, merchant_ref, product, amount, currency, settle_amount, settle_currency, fx_rate,
        status, failure_reason, subject, bank_code, flow, payer_phone, callback_url, return_url, passthrough, faults, extra, sms_code,
        sms_attempts, auto_action, auto_action_at, expires_at, paid_at, closed_at, created_at, updated_at, capture_mode,
        authorized_amount, auth_expires_at, captured_amount, captured_at, refunded_amount, refund_count)
      select id, channel, merchant_id, merchant_ref, product, amount, currency, settle_amount, settle_currency, fx_rate,
        status, failure_reason, subject, bank_code, flow, payer_phone, callback_url, return_url, passthrough, faults::jsonb, extra::jsonb, sms_code,
        sms_attempts, auto_action, auto_action_at, expires_at, paid_at, closed_at, created_at, updated_at, capture_mode,
        authorized_amount, auth_expires_at, captured_amount, captured_at, refunded_amount, refund_count
      from unnest(${c.map((x) => x.id)}::text[], ${c.map((x) => x.channel)}::text[], ${c.map((x) => x.merchantId)}::text[],
        ${c.map((x) => x.merchantRef)}::text[], ${c.map((x) => x.product)}::text[], ${c.map((x) => String(x.amount))}::bigint[],
        ${c.map((x) => x.currency)}::text[], ${c.map((x) => (x.settleAmount === null ? null : String(x.settleAmount)))}::bigint[],
        ${c.map((x) => x.settleCurrency)}::text[], ${c.map((x) => x.fxRate)}::text[], ${c.map((x) => x.status)}::text[],
        ${c.map((x) => x.failureReason)}::text[], ${c.map((x) => x.subject)}::text[], ${c.map((x) => x.bankCode)}::text[],
        ${c.map((x) => x.flow)}::text[], ${c.map((x) => x.payerPhone)}::text[], ${c.map((x) => x.callbackUrl)}::text[],
        ${c.map((x) => x.returnUrl)}::text[], ${c.map((x) => x.passthrough)}::text[], ${c.map((x) => JSON.stringify(x.faults))}::text[],
        ${c.map((x) => JSON.stringify(x.extra))}::text[], ${c.map((x) => x.smsCode)}::text[], ${c.map((x) => x.smsAttempts)}::int[],
        ${c.map((x) => x.autoAction)}::text[], ${c.map((x) => iso(x.autoActionAt))}::text[]::timestamptz[], ${c.map((x) => iso(x.expiresAt))}::text[]::timestamptz[],
        ${c.map((x) => iso(x.paidAt))}::text[]::timestamptz[], ${c.map((x) => iso(x.closedAt))}::text[]::timestamptz[], ${c.map((x) => iso(x.createdAt))}::text[]::timestamptz[],
        ${c.map((x) => iso(x.updatedAt))}::text[]::timestamptz[], ${c.map((x) => x.captureMode)}::text[],
        ${c.map((x) => String(x.authorizedAmount))}::bigint[], ${c.map((x) => iso(x.authExpiresAt))}::text[]::timestamptz[],
        ${c.map((x) => String(x.capturedAmount))}::bigint[], ${c.map((x) => iso(x.capturedAt))}::text[]::timestamptz[],
        ${c.map((x) => String(x.refundedAmount))}::bigint[], ${c.map((x) => x.refundCount)}::int[])
        as u(id, channel, merchant_id, merchant_ref, product, amount, currency, settle_amount, settle_currency, fx_rate,
          status, failure_reason, subject, bank_code, flow, payer_phone, callback_url, return_url, passthrough, faults, extra, sms_code,
          sms_attempts, auto_action, auto_action_at, expires_at, paid_at, closed_at, created_at, updated_at, capture_mode,
        authorized_amount, auth_expires_at, captured_amount, captured_at, refunded_amount, refund_count)
      on conflict do nothing
      returning id
    ), queued as (${insertCallbacksOfDone(
      sql,
      items.flatMap((i) => i.callbacks),
    )})
    select id from done`;
  return new Set(rows.map((r) => r.id));
}

/** Creates the batch's charges, or finds the ones whose order exists (its own earlier item included). */
async function createOrFindAll(db: Database, items: ChargeCreation[]): Promise<Settled<CreatedOrFound>[]> {
  // Inserted in key order (a stable sort: of one reference, the earlier item wins), so that concurrent
  // batches with references in common take their index entries in the same order and cannot deadlock.
  const sorted = [...items].sort((a, b) =>
    keyOf(a.charge) < keyOf(b.charge) ? -1 : keyOf(a.charge) > keyOf(b.charge) ? 1 : 0,
  );
  const inserted = await insertCharges(db.$client, sorted);
  return Promise.all(
    items.map(async (item): Promise<Settled<CreatedOrFound>> => {
      if (inserted.has(item.charge.id)) return { ok: true, value: { charge: item.charge, created: true } };
      try {
        return { ok: true, value: { charge: await findSameOrder(db, item.charge), created: false } };
      } catch (error) {
        return { ok: false, error };
      }
    }),
  );
}

/**
 * Creates many charges, each with the answer it would get on its own: created, or the existing transaction
 * of its order (an earlier item of the batch included). Should the batch statement fail, each item is
 * tried alone, so that one bad item fails only itself.
 */
export async function createOrFindCharges(db: Database, items: ChargeCreation[]): Promise<Settled<CreatedOrFound>[]> {
  try {
    return await createOrFindAll(db, items);
  } catch (batchError) {
    if (items.length === 1) return [{ ok: false, error: batchError }];
    return Promise.all(
      items.map(
        async (item) =>
          (await createOrFindAll(db, [item]).catch((error: unknown) => [{ ok: false as const, error }]))[0]!,
      ),
    );
  }
}

/**
 * Group commit for pay requests: the charges of concurrent requests are created by one statement, with
 * their callbacks when announced at once (createOrFindCharges).
 */
export function createChargeWriter(db: Database, opts: { maxBatch?: number; maxInFlight?: number } = {}) {
  return new Coalescer<ChargeCreation, CreatedOrFound>({
    maxBatch: opts.maxBatch ?? 128,
    maxInFlight: opts.maxInFlight ?? 2,
    run: (items) => createOrFindCharges(db, items),
  });
}

export type ChargeWriter = ReturnType<typeof createChargeWriter>;
