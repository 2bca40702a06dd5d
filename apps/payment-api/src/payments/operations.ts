import type { paymentOperations } from "@pps/db/schema";
import { type OperationKind, type OperationStatus, operationStateMachine, type PaymentStatus } from "@pps/domain";
import {
  type EventDefinition,
  makeEnvelope,
  type OperationSnapshot,
  operationEvents,
  paymentOperationInternalEvents,
} from "@pps/messaging";
import { roundsBy } from "@pps/runtime";
import type { TransactionSql } from "postgres";
import { type Cause, fromRaw } from "./repository.ts";
import type { OutboxMessage, PaymentRow } from "./snapshot.ts";
import { type TransitionRequest, transitionMany } from "./transitions-batch.ts";

export type OperationRow = typeof paymentOperations.$inferSelect;

/** The event announcing that an operation entered `status`. */
const EVENT_OF: Record<OperationKind, Record<OperationStatus, EventDefinition>> = {
  capture: {
    pending: operationEvents.captureCreated,
    succeeded: operationEvents.captureSucceeded,
    failed: operationEvents.captureFailed,
    requires_review: operationEvents.captureRequiresReview,
  },
  void: {
    pending: operationEvents.voidCreated,
    succeeded: operationEvents.voidSucceeded,
    failed: operationEvents.voidFailed,
    requires_review: operationEvents.voidRequiresReview,
  },
  cancel: {
    pending: operationEvents.cancelCreated,
    succeeded: operationEvents.cancelSucceeded,
    failed: operationEvents.cancelFailed,
    requires_review: operationEvents.cancelRequiresReview,
  },
  refund: {
    pending: operationEvents.refundCreated,
    succeeded: operationEvents.refundSucceeded,
    failed: operationEvents.refundFailed,
    requires_review: operationEvents.refundRequiresReview,
  },
};

/** Whether an operation in this kind and status holds a reservation in amount_refund_pending. */
const reserves = (kind: OperationKind, status: OperationStatus) =>
  (kind === "refund" || kind === "cancel") && (status === "pending" || status === "requires_review");

export function operationFromRaw(r: Record<string, unknown>): OperationRow {
  const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
  return {
    id: r.id as string,
    paymentId: r.payment_id as string,
    merchantId: r.merchant_id as string,
    kind: r.kind as string,
    merchantRef: (r.merchant_ref as string | null) ?? null,
    amount: Number(r.amount),
    currency: r.currency as string,
    status: r.status as string,
    version: Number(r.version),
    channel: r.channel as string,
    channelOpId: (r.channel_op_id as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
    origin: r.origin as string,
    failureCode: (r.failure_code as string | null) ?? null,
    failureMessage: (r.failure_message as string | null) ?? null,
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    completedAt: r.completed_at ? date(r.completed_at) : null,
  };
}

export function operationSnapshot(
  op: OperationRow,
  payment: PaymentRow,
  previous: OperationStatus | null,
): OperationSnapshot {
  return {
    operationId: op.id,
    kind: op.kind as OperationKind,
    paymentId: op.paymentId,
    merchantId: op.merchantId,
    merchantOrderNo: payment.merchantOrderNo,
    merchantRef: op.merchantRef,
    amount: op.amount,
    currency: op.currency,
    status: op.status as OperationStatus,
    previousStatus: previous,
    version: op.version,
    channel: op.channel,
    channelOpId: op.channelOpId,
    reason: op.reason,
    origin: op.origin,
    failureCode: op.failureCode,
    failureMessage: op.failureMessage,
    payment: {
      status: payment.status as PaymentStatus,
      amount: payment.amount,
      amountAuthorized: payment.amountAuthorized,
      amountCaptured: payment.amountCaptured,
      amountRefunded: payment.amountRefunded,
      amountRefundPending: payment.amountRefundPending,
    },
    notifyUrl: payment.notifyUrl,
    createdAt: op.createdAt.toISOString(),
    updatedAt: op.updatedAt.toISOString(),
  };
}

type OperationChange = { op: OperationRow; previous: OperationStatus | null; cause: Cause };

/**
 * The audit rows (payment_transitions with operation_id) and outbox events of operation changes, in one
 * statement: the public event for each, and for a new operation the restricted request the router runs.
 */
async function recordOperationChanges(sql: TransactionSql, changes: OperationChange[]): Promise<void> {
  if (changes.length === 0) return;
  const ids = [...new Set(changes.map((c) => c.op.paymentId))];
  const rows = await sql<Record<string, unknown>[]>`select * from payment.payments where id = any(${ids}::text[])`;
  const byId = new Map(rows.map((r) => [r.id as string, fromRaw(r)]));
  const audits: { change: OperationChange; message: OutboxMessage }[] = [];
  const outbox: OutboxMessage[] = [];
  const occurredAt = new Date();
  for (const change of changes) {
    const payment = byId.get(change.op.paymentId)!;
    const def = EVENT_OF[change.op.kind as OperationKind][change.op.status as OperationStatus];
    const envelope = makeEnvelope({
      type: def.type,
      version: def.version,
      aggregateId: change.op.paymentId,
      payload: operationSnapshot(change.op, payment, change.previous),
      occurredAt,
    });
    audits.push({ change, message: { def, envelope } });
    outbox.push({ def, envelope });
    if (change.previous === null) {
      const request = paymentOperationInternalEvents.operationRequested;
      outbox.push({
        def: request,
        envelope: makeEnvelope({
          type: request.type,
          version: request.version,
          aggregateId: change.op.paymentId,
          payload: {
            operationId: change.op.id,
            kind: change.op.kind as OperationKind,
            paymentId: change.op.paymentId,
            merchantId: change.op.merchantId,
            channel: change.op.channel,
            attemptId: payment.paidAttemptId ?? "",
            channelTxnId: payment.channelTxnId,
            amount: change.op.amount,
            currency: change.op.currency,
            paymentAmount: payment.amount,
            reason: change.op.reason,
            requestedAt: occurredAt.toISOString(),
          },
          occurredAt,
        }),
      });
    }
  }
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
  await sql`
    with t as (
      insert into payment.payment_transitions (payment_id, merchant_id, operation_id, from_status, to_status, version, cause, cause_ref, detail, event_id, envelope)
      select pid, m, oid, prev, st, v::int, cause, ref, detail::jsonb, eid, env::jsonb
      from unnest(${audits.map((a) => a.change.op.paymentId)}::text[], ${audits.map((a) => a.change.op.merchantId)}::text[],
        ${audits.map((a) => a.change.op.id)}::text[], ${audits.map((a) => a.change.previous)}::text[], ${audits.map((a) => a.change.op.status)}::text[],
        ${audits.map((a) => String(a.change.op.version))}::text[], ${audits.map((a) => a.change.cause.cause)}::text[],
        ${audits.map((a) => a.change.cause.causeRef ?? null)}::text[], ${audits.map((a) => json(a.change.cause.detail))}::text[],
        ${audits.map((a) => a.message.envelope.id)}::text[], ${audits.map((a) => JSON.stringify(a.message.envelope))}::text[])
        as u(pid, m, oid, prev, st, v, cause, ref, detail, eid, env)
      returning 1
    )
    insert into payment.outbox (event_id, topic, key, envelope)
    select eid::uuid, topic, key, env::jsonb
    from unnest(${outbox.map((e) => e.envelope.id)}::text[], ${outbox.map((e) => e.def.topic)}::text[], ${outbox.map((e) => e.envelope.aggregateId)}::text[],
      ${outbox.map((e) => JSON.stringify(e.envelope))}::text[]) as u(eid, topic, key, env)`;
}

export type NewOperation = {
  id: string;
  kind: OperationKind;
  paymentId: string;
  merchantId: string;
  merchantRef: string | null;
  amount: number;
  reason: string | null;
  origin: "api" | "reverse" | "auto_refund";
  cause: Cause;
};

export type ReserveRefusal =
  | "payment_state"
  | "exceeds_refundable"
  | "exceeds_authorized"
  | "authorization_expired"
  | "in_progress"
  | "duplicate_ref";

/**
 * Records a new operation on a payment in the caller's transaction, with the money condition and the
 * reservation in ONE conditional statement on the payment row:
 * - refund: status succeeded and refunded + pending + amount <= captured; reserves the amount;
 * - cancel: status succeeded and nothing refunded or reserved; reserves the whole captured amount;
 * - capture: status requires_capture, the authorization not expired, amount <= authorized;
 * - void: status requires_capture, the authorization not expired, amount = authorized.
 * The operation row is inserted by the same statement (only if the condition held), and the partial
 * unique indexes make a second live capture/void/cancel, or a reused merchant number, insert nothing.
 * Returns the operation; throws OperationRefused, saying why, when nothing may be written.
 */
export class OperationRefused extends Error {
  override readonly name = "OperationRefused";
  constructor(readonly refusal: ReserveRefusal) {
    super(`operation refused: ${refusal}`);
  }
}

export async function reserveOperation(sql: TransactionSql, n: NewOperation): Promise<OperationRow> {
  const rows = await sql<Record<string, unknown>[]>`
    with p as (
      update payment.payments set
        amount_refund_pending = amount_refund_pending + case
          when ${n.kind} = 'refund' then ${n.amount}::bigint
          when ${n.kind} = 'cancel' then amount_captured
          else 0 end,
        updated_at = now()
      where id = ${n.paymentId} and merchant_id = ${n.merchantId}
        and case ${n.kind}
          when 'refund' then status = 'succeeded' and amount_refunded + amount_refund_pending + ${n.amount}::bigint <= amount_captured
          when 'cancel' then status = 'succeeded' and amount_refunded = 0 and amount_refund_pending = 0 and amount_captured = ${n.amount}::bigint
          when 'capture' then status = 'requires_capture' and authorization_expires_at > now() and ${n.amount}::bigint <= amount_authorized
          when 'void' then status = 'requires_capture' and authorization_expires_at > now() and ${n.amount}::bigint = amount_authorized
          else false end
      returning id, merchant_id, currency, channel
    )
    insert into payment.payment_operations as o (id, payment_id, merchant_id, kind, merchant_ref, amount, currency, status, channel, reason, origin)
    select ${n.id}, p.id, p.merchant_id, ${n.kind}, ${n.merchantRef}, ${n.amount}::bigint, p.currency, 'pending', p.channel, ${n.reason}, ${n.origin}
    from p
    on conflict do nothing
    returning o.*`;
  const raw = rows[0];
  if (!raw) throw new OperationRefused(await whyRefused(sql, n));
  const op = operationFromRaw(raw);
  await recordOperationChanges(sql, [{ op, previous: null, cause: n.cause }]);
  return op;
}

/**
 * Why reserveOperation wrote nothing. When the payment matched but the insert conflicted, the statement
 * has already reserved: hence OperationRefused is thrown, so the caller's transaction (or savepoint) rolls
 * back and no reservation outlives its refusal.
 */
async function whyRefused(sql: TransactionSql, n: NewOperation): Promise<ReserveRefusal> {
  const [p] = await sql<Record<string, unknown>[]>`select * from payment.payments where id = ${n.paymentId}`;
  if (n.merchantRef !== null) {
    const [dup] = await sql`select 1 from payment.payment_operations
      where merchant_id = ${n.merchantId} and kind = ${n.kind} and merchant_ref = ${n.merchantRef}`;
    if (dup) return "duplicate_ref";
  }
  const live =
    await sql`select 1 from payment.payment_operations where payment_id = ${n.paymentId} and status <> 'failed'
      and (kind = ${n.kind} or (${n.kind} in ('capture', 'void') and kind in ('capture', 'void')))
      and kind <> 'refund'`;
  if (live.length > 0) return "in_progress";
  if (!p) return "payment_state";
  const row = fromRaw(p);
  if (n.kind === "capture" || n.kind === "void") {
    if (row.status !== "requires_capture") return "payment_state";
    if (row.authorizationExpiresAt && row.authorizationExpiresAt.getTime() <= Date.now())
      return "authorization_expired";
    return "exceeds_authorized";
  }
  if (row.status !== "succeeded") return "payment_state";
  if (n.kind === "cancel") return row.amountRefunded + row.amountRefundPending > 0 ? "in_progress" : "payment_state";
  return "exceeds_refundable";
}

export type OperationResultRequest = {
  operationId: string;
  to: OperationStatus;
  cause: Cause;
  patch?: { channelOpId?: string | null; failureCode?: string | null; failureMessage?: string | null };
};

export type OperationDone = { op: OperationRow; previous: OperationStatus } | null;

/**
 * Moves operations along their state machine, many at once, in the caller's transaction: the one
 * implementation of an operation's state change. Per round (one operation per payment), one conditional
 * UPDATE of the operations (locked in id order, a status they may leave for `to`), then what each change
 * does to its payment: its amounts in one statement (a refund's reservation released, into refunded when
 * it succeeded; a capture's amount captured) and the payment's own transitions (captured → succeeded,
 * voided or canceled → canceled) through transitionMany, then the audit rows and events of them all. Each
 * request gets the answer it would alone: the operation after the change, or null when it did not apply.
 */
export async function applyOperationResults(
  sql: TransactionSql,
  reqs: OperationResultRequest[],
): Promise<OperationDone[]> {
  const done: OperationDone[] = reqs.map(() => null);
  const owners = await sql<{ id: string; payment_id: string }[]>`
    select id, payment_id from payment.payment_operations where id = any(${reqs.map((r) => r.operationId)}::text[])`;
  const paymentOf = new Map(owners.map((o) => [o.id, o.payment_id]));
  const indexed = reqs.map((req, i) => ({ req, i })).filter((x) => paymentOf.has(x.req.operationId));
  for (const round of roundsBy(indexed, (x) => paymentOf.get(x.req.operationId)!)) {
    const col = <T>(f: (r: OperationResultRequest) => T) => round.map(({ req }) => f(req));
    const has = (k: "channelOpId" | "failureCode" | "failureMessage") =>
      col((r) => (r.patch !== undefined && k in r.patch ? "t" : "f"));
    const rows = await sql<Record<string, unknown>[]>`
      update payment.payment_operations o set
        status = u.to_status, version = o.version + 1, updated_at = now(),
        completed_at = case when u.to_status in ('succeeded', 'failed') then now() else o.completed_at end,
        channel_op_id = case when u.s1 then coalesce(u.chop, o.channel_op_id) else o.channel_op_id end,
        failure_code = case when u.s2 then u.fcode else o.failure_code end,
        failure_message = case when u.s3 then u.fmsg else o.failure_message end
      from (
        select x.*, c.status as previous
        from (select t.i::int as i, t.oid, t.to_status, t.allowed, t.s1::bool as s1, t.chop, t.s2::bool as s2, t.fcode, t.s3::bool as s3, t.fmsg
          from unnest(${round.map((x) => String(x.i))}::text[], ${col((r) => r.operationId)}::text[], ${col((r) => r.to)}::text[],
            ${col((r) => operationStateMachine.sourcesOf(r.to).join(","))}::text[],
            ${has("channelOpId")}::text[], ${col((r) => r.patch?.channelOpId ?? null)}::text[],
            ${has("failureCode")}::text[], ${col((r) => r.patch?.failureCode ?? null)}::text[],
            ${has("failureMessage")}::text[], ${col((r) => r.patch?.failureMessage ?? null)}::text[])
          as t(i, oid, to_status, allowed, s1, chop, s2, fcode, s3, fmsg)) x
        join payment.payment_operations c on c.id = x.oid
        order by c.id
        for update of c
      ) u
      where o.id = u.oid and o.status = any(string_to_array(u.allowed, ','))
      returning o.*, u.previous, u.i`;
    const changes: (OperationChange & { i: number })[] = rows.map((raw) => ({
      op: operationFromRaw(raw),
      previous: raw.previous as OperationStatus,
      cause: reqs[Number(raw.i)]!.cause,
      i: Number(raw.i),
    }));
    for (const c of changes) done[c.i] = { op: c.op, previous: c.previous as OperationStatus };
    await applyToPayments(sql, changes);
    await recordOperationChanges(sql, changes);
  }
  return done;
}

/** What operation changes do to their payments: amounts first, then the payments' own transitions. */
async function applyToPayments(sql: TransactionSql, changes: OperationChange[]): Promise<void> {
  const effects = changes.map(({ op, previous }) => {
    const kind = op.kind as OperationKind;
    const to = op.status as OperationStatus;
    const held = previous !== null && reserves(kind, previous);
    const refunded = (kind === "refund" || kind === "cancel") && to === "succeeded" ? op.amount : 0;
    // A reservation is released when the operation leaves the states that hold one; a late success of a
    // failed refund (its reservation long released) takes the amount straight into refunded.
    const pending = held && !reserves(kind, to) ? -op.amount : 0;
    const captured = kind === "capture" && to === "succeeded" ? op.amount : null;
    return { paymentId: op.paymentId, refunded, pending, captured };
  });
  const moving = effects.filter((e) => e.refunded !== 0 || e.pending !== 0 || e.captured !== null);
  if (moving.length > 0) {
    await sql`
      update payment.payments p set
        amount_refunded = p.amount_refunded + u.refunded::bigint,
        amount_refund_pending = p.amount_refund_pending + u.pending::bigint,
        amount_captured = coalesce(u.captured::bigint, p.amount_captured),
        captured_at = case when u.captured is null then p.captured_at else now() end,
        updated_at = now()
      from unnest(${moving.map((e) => e.paymentId)}::text[], ${moving.map((e) => String(e.refunded))}::text[],
        ${moving.map((e) => String(e.pending))}::text[], ${moving.map((e) => (e.captured === null ? null : String(e.captured)))}::text[])
        as u(pid, refunded, pending, captured)
      where p.id = u.pid`;
  }
  const transitions: TransitionRequest[] = changes.flatMap(({ op, cause }): TransitionRequest[] => {
    if (op.status !== "succeeded") return [];
    const detail = { operationId: op.id, kind: op.kind };
    const base = { paymentId: op.paymentId, cause: { ...cause, detail } };
    switch (op.kind as OperationKind) {
      case "capture":
        return [{ ...base, to: "succeeded", onlyFrom: ["requires_capture"] }];
      case "void":
        return [
          {
            ...base,
            to: "canceled",
            onlyFrom: ["requires_capture"],
            patch: { failureCode: "voided", failureMessage: op.reason ?? "the authorization was voided" },
          },
        ];
      case "cancel":
        return [
          {
            ...base,
            to: "canceled",
            onlyFrom: ["succeeded"],
            patch: { failureCode: "canceled", failureMessage: op.reason ?? "canceled the day it was paid" },
          },
        ];
      default:
        return [];
    }
  });
  await transitionMany(sql, transitions);
}
