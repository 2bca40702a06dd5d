import { paymentStateMachine, type PaymentStatus } from "@pps/domain";
import { type EventDefinition, paymentEvents } from "@pps/messaging";
import { roundsBy } from "@pps/runtime";
import type { TransactionSql } from "postgres";
import { EVENT_FOR, fromRaw, type Cause, type TransitionPatch } from "./repository.ts";
import { changeMessages, type PaymentRow } from "./snapshot.ts";

export type TransitionRequest = {
  paymentId: string;
  to: PaymentStatus;
  cause: Cause;
  onlyFrom?: PaymentStatus[];
  patch?: TransitionPatch;
  /** The event to announce it with, if not the usual one for `to` (may depend on the status it left). */
  event?: EventDefinition | ((previous: PaymentStatus) => EventDefinition | undefined);
};

export type TransitionDone = { row: PaymentRow; previous: PaymentStatus } | null;

// Arrays travel as text[] and are cast in SQL (drizzle swaps the shared client's timestamp serializers).
const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
const flag = (b: boolean) => (b ? "t" : "f");
const num = (v: number | null | undefined) => (v === undefined || v === null ? null : String(v));
const iso = (v: Date | null | undefined) => (v === undefined || v === null ? null : v.toISOString());

/** A success announced for a payment we had failed or expired is its own event (money taken is never hidden). */
export function lateSuccessEvent(previous: PaymentStatus): EventDefinition | undefined {
  return previous === "failed" || previous === "expired" ? paymentEvents.lateSucceeded : undefined;
}

/**
 * `transition` (repository.ts) for many payments at once, in the caller's transaction: per round one
 * conditional UPDATE over all of them, then one statement for their audit rows and outbox events. Each
 * request gets the same answer it would alone: the updated row and previous status, or null when its
 * payment was not in a state it may leave for `to`. Rows are locked in id order, so two batches never
 * wait on each other in a cycle.
 */
export async function transitionMany(sql: TransactionSql, reqs: TransitionRequest[]): Promise<TransitionDone[]> {
  const done: TransitionDone[] = reqs.map(() => null);
  const indexed = reqs.map((req, i) => ({ req, i }));
  for (const round of roundsBy(indexed, (x) => x.req.paymentId)) {
    const live = round.filter(({ req }) => allowedFrom(req).length > 0);
    if (live.length === 0) continue;
    const col = <T>(f: (r: TransitionRequest) => T) => live.map(({ req }) => f(req));
    const has = (k: keyof TransitionPatch) => col((r) => flag(r.patch !== undefined && k in r.patch));
    const rows = await sql<Record<string, unknown>[]>`
      update payment.payments p set
        status = u.to_status, version = p.version + 1, updated_at = now(),
        channel = case when u.set_channel then u.channel else p.channel end,
        channel_txn_id = case when u.set_txn then u.txn else p.channel_txn_id end,
        action = case when u.set_action then u.action::jsonb else p.action end,
        settlement = case when u.set_settlement then u.settlement::jsonb else p.settlement end,
        failure_code = case when u.set_fcode then u.fcode else p.failure_code end,
        failure_message = case when u.set_fmsg then u.fmsg else p.failure_message end,
        paid_attempt_id = case when u.set_paid then u.paid else p.paid_attempt_id end,
        amount_authorized = case when u.set_auth then u.auth::bigint else p.amount_authorized end,
        amount_captured = case when u.set_capt then u.capt::bigint else p.amount_captured end,
        authorized_at = case when u.set_auth_at then u.auth_at::timestamptz else p.authorized_at end,
        authorization_expires_at = case when u.set_auth_exp then u.auth_exp::timestamptz else p.authorization_expires_at end,
        captured_at = case when u.set_capt_at then u.capt_at::timestamptz else p.captured_at end
      from (
        select o.status as previous, x.*
        from unnest(${live.map((x) => String(x.i))}::text[], ${col((r) => r.paymentId)}::text[], ${col((r) => r.to)}::text[],
          ${col((r) => allowedFrom(r).join(","))}::text[],
          ${has("channel")}::text[], ${col((r) => r.patch?.channel ?? null)}::text[],
          ${has("channelTxnId")}::text[], ${col((r) => r.patch?.channelTxnId ?? null)}::text[],
          ${has("action")}::text[], ${col((r) => json(r.patch?.action))}::text[],
          ${has("settlement")}::text[], ${col((r) => json(r.patch?.settlement))}::text[],
          ${has("failureCode")}::text[], ${col((r) => r.patch?.failureCode ?? null)}::text[],
          ${has("failureMessage")}::text[], ${col((r) => r.patch?.failureMessage ?? null)}::text[],
          ${has("paidAttemptId")}::text[], ${col((r) => r.patch?.paidAttemptId ?? null)}::text[],
          ${has("amountAuthorized")}::text[], ${col((r) => num(r.patch?.amountAuthorized))}::text[],
          ${has("amountCaptured")}::text[], ${col((r) => num(r.patch?.amountCaptured))}::text[],
          ${has("authorizedAt")}::text[], ${col((r) => iso(r.patch?.authorizedAt))}::text[],
          ${has("authorizationExpiresAt")}::text[], ${col((r) => iso(r.patch?.authorizationExpiresAt))}::text[],
          ${has("capturedAt")}::text[], ${col((r) => iso(r.patch?.capturedAt))}::text[])
          as t(i, pid, to_status, allowed, s1, channel, s2, txn, s3, action, s4, settlement, s5, fcode, s6, fmsg,
            s7, paid, s8, auth, s9, capt, s10, auth_at, s11, auth_exp, s12, capt_at)
        cross join lateral (select t.i::int as i, t.pid, t.to_status, t.allowed, t.s1::bool as set_channel, t.channel, t.s2::bool as set_txn, t.txn,
          t.s3::bool as set_action, t.action, t.s4::bool as set_settlement, t.settlement, t.s5::bool as set_fcode, t.fcode,
          t.s6::bool as set_fmsg, t.fmsg, t.s7::bool as set_paid, t.paid, t.s8::bool as set_auth, t.auth, t.s9::bool as set_capt, t.capt,
          t.s10::bool as set_auth_at, t.auth_at, t.s11::bool as set_auth_exp, t.auth_exp, t.s12::bool as set_capt_at, t.capt_at) x
        join payment.payments o on o.id = x.pid
        order by o.id
        for update of o
      ) u
      where p.id = u.pid and p.status = any(string_to_array(u.allowed, ','))
      returning p.*, u.previous, u.i`;
    const changes: { row: PaymentRow; previous: PaymentStatus; req: TransitionRequest }[] = [];
    for (const raw of rows) {
      const i = Number(raw.i);
      const row = fromRaw(raw);
      const previous = raw.previous as PaymentStatus;
      done[i] = { row, previous };
      changes.push({ row, previous, req: reqs[i]! });
    }
    await recordChanges(sql, changes);
  }
  return done;
}

function allowedFrom(req: TransitionRequest): PaymentStatus[] {
  return paymentStateMachine.sourcesOf(req.to).filter((s) => !req.onlyFrom || req.onlyFrom.includes(s));
}

/** The audit rows and outbox events (public, and restricted twins where due) of many changes, in one statement. */
async function recordChanges(
  sql: TransactionSql,
  changes: { row: PaymentRow; previous: PaymentStatus; req: TransitionRequest }[],
): Promise<void> {
  if (changes.length === 0) return;
  const messages = changes.map(({ row, previous, req }) => {
    const chosen = typeof req.event === "function" ? req.event(previous) : req.event;
    return changeMessages(chosen ?? EVENT_FOR[row.status as PaymentStatus], row, previous);
  });
  const envelopes = messages.map((m) => m.public);
  const outbox = messages.flatMap((m) => (m.internal ? [m.public, m.internal] : [m.public]));
  await sql`
    with t as (
      insert into payment.payment_transitions (payment_id, merchant_id, from_status, to_status, version, cause, cause_ref, detail, event_id, envelope)
      select pid, m, prev, st, v::int, cause, ref, detail::jsonb, eid, env::jsonb
      from unnest(${changes.map((c) => c.row.id)}::text[], ${changes.map((c) => c.row.merchantId)}::text[], ${changes.map((c) => c.previous)}::text[],
        ${changes.map((c) => c.row.status)}::text[], ${changes.map((c) => String(c.row.version))}::text[], ${changes.map((c) => c.req.cause.cause)}::text[],
        ${changes.map((c) => c.req.cause.causeRef ?? null)}::text[], ${changes.map((c) => json(c.req.cause.detail))}::text[],
        ${envelopes.map((e) => e.envelope.id)}::text[], ${envelopes.map((e) => JSON.stringify(e.envelope))}::text[])
        as u(pid, m, prev, st, v, cause, ref, detail, eid, env)
      returning 1
    )
    insert into payment.outbox (event_id, topic, key, envelope)
    select eid::uuid, topic, key, env::jsonb
    from unnest(${outbox.map((e) => e.envelope.id)}::text[], ${outbox.map((e) => e.def.topic)}::text[], ${outbox.map((e) => e.envelope.aggregateId)}::text[],
      ${outbox.map((e) => JSON.stringify(e.envelope))}::text[]) as u(eid, topic, key, env)`;
}
