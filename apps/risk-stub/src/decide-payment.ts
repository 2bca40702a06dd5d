import type { Database } from "@pps/db";
import { newId } from "@pps/domain";
import {
  makeEnvelope,
  outboxRow,
  riskEvents,
  type Envelope,
  type InternalPaymentSnapshot,
  type RiskDecision,
} from "@pps/messaging";
import { roundsByKey } from "@pps/runtime";
import { evaluateRisk, type PayerHistory, type RiskInput } from "./evaluate.ts";
import type { RiskConfig } from "./risk-config.ts";

/** Newest payment times kept per payer: more than the largest velocity limit (MAX_VELOCITY_PAYMENTS + 1). */
const RECENT_CAP = 128;
/** Devices remembered per payer; the one first seen longest ago is forgotten first. */
const DEVICE_CAP = 50;
/** unique_violation: the decision insert found a decision for the payment. */
const UNIQUE_VIOLATION = "23505";

export type DecideResult =
  | { kind: "decided"; decision: RiskDecision; rulesVersion: number }
  /** This envelope was processed before (redelivery): nothing changed. */
  | { kind: "duplicate_event" }
  /** Another event already got this payment its decision: nothing changed, nothing published. */
  | { kind: "already_decided" };

/**
 * A payment of the batch got its decision from another transaction after this one checked: the whole
 * transaction rolled back, nothing changed. Deciding the payments one at a time tells which one it was.
 */
export class DecisionConflictError extends Error {
  override readonly name = "DecisionConflictError";
}

type ReservedSql = Awaited<ReturnType<Database["$client"]["reserve"]>>;
type ClaimRow = {
  message_id: string;
  claimed: boolean;
  payments: number | null;
  last_device_new: boolean | null;
  in_window: number | null;
};
type DecisionRow = ReturnType<typeof decisionRow>;

/**
 * Statement 1 of a round: claims each envelope id in the inbox and, for those claimed whose payment has no
 * decision yet, upserts the payer's activity row (velocity window, known devices). The upsert's row lock
 * queues concurrent payments of the same payer, from any partition or replica, so each sees the others'
 * effects. A round holds each payer once: ON CONFLICT DO UPDATE takes the event time and device of its own
 * row from `excluded` (recent = {at}, devices = {} or {device}).
 */
function claimStatement(
  sql: ReservedSql,
  consumer: string,
  windowSeconds: number,
  envelopes: Envelope<InternalPaymentSnapshot>[],
) {
  // Payer order, so concurrent transactions meeting on the same payers lock their rows in one order.
  const rows = envelopes
    .map((e) => ({
      message_id: e.id,
      payment_id: e.payload.paymentId,
      payer_id: e.payload.payer.id,
      at: e.occurredAt,
      device_id: e.payload.payer.deviceId,
    }))
    .sort((a, b) => (a.payer_id < b.payer_id ? -1 : a.payer_id > b.payer_id ? 1 : 0));
  return sql<ClaimRow[]>`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as i(message_id text, payment_id text, payer_id text, at timestamptz, device_id text)
    ), claim as (
      insert into risk.inbox (consumer, message_id) select ${consumer}::text, message_id::uuid from input
      on conflict do nothing
      returning message_id
    ), fresh as (
      select i.* from input i join claim on claim.message_id = i.message_id::uuid
      where (select 1 from risk.decisions d where d.payment_id = i.payment_id limit 1) is null  -- a per-row index probe; "not exists" becomes a hash anti-join over the whole table
    ), activity as (
      insert into risk.payer_activity as a (payer_id, payments, recent, devices, last_device_new)
      select payer_id, 1, array[at], case when device_id is null then '{}'::text[] else array[device_id] end, false
      from fresh
      on conflict (payer_id) do update set
        payments = a.payments + 1,
        recent = array(
          select t from unnest(a.recent || excluded.recent) as u(t)
          where t > greatest(excluded.recent[1], (select max(x) from unnest(a.recent) as r(x))) - make_interval(secs => ${windowSeconds}::int)
          order by t desc limit ${RECENT_CAP}::int
        ),
        devices = case
          when cardinality(excluded.devices) = 0 or excluded.devices[1] = any(a.devices) then a.devices
          else (a.devices || excluded.devices)[greatest(1, cardinality(a.devices) + 2 - ${DEVICE_CAP}::int):]
        end,
        last_device_new = (cardinality(excluded.devices) > 0 and not (excluded.devices[1] = any(a.devices))),
        updated_at = now()
      returning a.payer_id, a.payments, a.last_device_new, a.recent
    )
    select i.message_id, claim.message_id is not null as claimed, activity.payments, activity.last_device_new,
      (select count(*) from unnest(activity.recent) as r(t)
        where t > i.at - make_interval(secs => ${windowSeconds}::int) and t <= i.at)::int as in_window
    from input i
    left join claim on claim.message_id = i.message_id::uuid
    left join fresh on fresh.message_id = i.message_id
    left join activity on activity.payer_id = fresh.payer_id`;
}

/** Statement 2 of a round: the decisions and their outbox rows. */
function recordStatement(sql: ReservedSql, rows: DecisionRow[]) {
  return sql`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as i(
        payment_id text, decision_id text, event_id uuid, merchant_id text, payer_id text, outcome text, reasons text[], rules_version int,
        inputs jsonb, decided_at timestamptz, outbox_event_id uuid, topic text, key text, envelope jsonb)
    ), d as (
      insert into risk.decisions (payment_id, decision_id, event_id, merchant_id, payer_id, outcome, reasons, rules_version, inputs, decided_at)
      select payment_id, decision_id, event_id, merchant_id, payer_id, outcome, reasons, rules_version, inputs, decided_at from input
      returning payment_id
    )
    insert into risk.outbox (event_id, topic, key, envelope)
    select i.outbox_event_id, i.topic, i.key, i.envelope from input i join d using (payment_id)`;
}

/** The payer's activity row as the claim statement left it for this payment. */
type Activity = { payments: number; lastDeviceNew: boolean | null; inWindow: number | null };

/** Evaluates the rules for a payment whose payer activity was just updated, and what to record for it. */
function decide(config: RiskConfig, envelope: Envelope<InternalPaymentSnapshot>, activity: Activity) {
  const payment = envelope.payload;
  const payerId = payment.payer.id;
  const deviceId = payment.payer.deviceId;
  const paidBefore = activity.payments > 1;
  const history: PayerHistory = {
    paidBefore,
    deviceKnown: paidBefore && deviceId !== null && activity.lastDeviceNew === false,
    paymentsInWindow: activity.inWindow ?? 1,
  };
  const input: RiskInput = {
    amount: payment.amount,
    currency: payment.currency,
    payerId,
    deviceId,
    ip: payment.payer.ip,
  };
  const { outcome, reasons } = evaluateRisk(config.rules, config.blocklist, input, history);
  const decision: RiskDecision = {
    decisionId: newId("rdc"),
    paymentId: payment.paymentId,
    merchantId: payment.merchantId,
    outcome,
    reasons,
    decidedAt: new Date().toISOString(),
  };
  const inputs = {
    eventId: envelope.id,
    eventType: envelope.type,
    occurredAt: envelope.occurredAt,
    ...input,
    ...history,
  };
  return { decision, row: decisionRow(envelope, decision, config.rulesVersion, inputs) };
}

function decisionRow(
  envelope: Envelope<InternalPaymentSnapshot>,
  decision: RiskDecision,
  rulesVersion: number,
  inputs: Record<string, unknown>,
) {
  const out = makeEnvelope({
    type: riskEvents.decided.type,
    version: riskEvents.decided.version,
    aggregateId: decision.paymentId,
    payload: decision,
  });
  const outbox = outboxRow(riskEvents.decided, out);
  return {
    payment_id: decision.paymentId,
    decision_id: decision.decisionId,
    event_id: envelope.id,
    merchant_id: decision.merchantId,
    payer_id: envelope.payload.payer.id,
    outcome: decision.outcome,
    reasons: decision.reasons,
    rules_version: rulesVersion,
    inputs,
    decided_at: decision.decidedAt,
    outbox_event_id: outbox.eventId,
    topic: outbox.topic,
    key: outbox.key,
    envelope: outbox.envelope,
  };
}

/**
 * Runs statements pipelined on one connection (postgres.js sends a query when it is first awaited, so in
 * this order) and waits for all of them: the connection must never go back to the pool with a query in
 * flight. Throws the first failure (the later ones only say the transaction is aborted).
 */
async function pipeline(statements: PromiseLike<unknown>[]): Promise<void> {
  const settled = await Promise.allSettled(statements);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (!failed) return;
  if ((failed.reason as { code?: string }).code === UNIQUE_VIOLATION)
    throw new DecisionConflictError("a payment of the batch was decided elsewhere", { cause: failed.reason });
  throw failed.reason;
}

/**
 * Decides one payment: `decidePayments` with one envelope, where a payment decided elsewhere meanwhile is
 * simply already decided.
 */
export async function decidePayment(
  db: Database,
  consumer: string,
  config: RiskConfig,
  envelope: Envelope<InternalPaymentSnapshot>,
): Promise<DecideResult> {
  try {
    const [result] = await decidePayments(db, consumer, config, [envelope]);
    return result!;
  } catch (err) {
    if (err instanceof DecisionConflictError) return { kind: "already_decided" };
    throw err;
  }
}

/**
 * Decides payments (in the order given) in one transaction, so a redelivered or duplicate event changes
 * nothing twice and publishes nothing twice. The batch runs in rounds that hold each envelope, payment and
 * payer at most once, in order, so a payer's second payment sees the first one's activity and a payment's
 * second event sees its decision; a round is two statements:
 *  1. claim the envelope ids and update the activity of the payers of fresh payments (`claimStatement`);
 *  2. evaluate the rules in memory, then insert the decisions and their outbox rows together. The decision's
 *     primary key (payment id) is the last guard: if another transaction decided one of the payments
 *     meanwhile, the insert fails and the whole transaction rolls back (DecisionConflictError).
 * Throughput: this talks to postgres.js directly on a reserved connection and pipelines BEGIN with the first
 * round's statement 1, each statement 2 with the next round's statement 1, and the last with COMMIT: rounds + 1
 * round trips for the whole batch (two for one payment), and the fixed statement texts are prepared once per
 * connection. (A failed statement aborts the transaction, so a pipelined COMMIT then rolls back.)
 */
export async function decidePayments(
  db: Database,
  consumer: string,
  config: RiskConfig,
  envelopes: Envelope<InternalPaymentSnapshot>[],
): Promise<DecideResult[]> {
  if (envelopes.length === 0) return [];
  const results: DecideResult[] = new Array(envelopes.length);
  // Velocity is counted in event time (when the payment entered review), so a consumer catching up on a
  // backlog does not see a burst that never happened.
  const windowSeconds = config.rules.velocity.windowSeconds;
  // Envelope ids compare as uuids (any letter case), and rows are matched back by the id as given.
  const rounds = roundsByKey(envelopes, (e) => [
    `event:${e.id.toLowerCase()}`,
    `payment:${e.payload.paymentId}`,
    `payer:${e.payload.payer.id}`,
  ]);

  const sql = await db.$client.reserve();
  let open = true;
  try {
    let sent: Promise<unknown>[] = [sql`begin`];
    for (const round of rounds) {
      const claim = claimStatement(
        sql,
        consumer,
        windowSeconds,
        round.map((i) => envelopes[i]!),
      );
      await pipeline([...sent, claim]);
      const byMessage = new Map((await claim).map((c) => [c.message_id, c]));
      const decided: DecisionRow[] = [];
      for (const index of round) {
        const envelope = envelopes[index]!;
        const row = byMessage.get(envelope.id);
        if (!row?.claimed) results[index] = { kind: "duplicate_event" };
        // Claimed, but the payment has its decision: nothing was written but the inbox claim; keep that.
        else if (row.payments === null) results[index] = { kind: "already_decided" };
        else {
          const { decision, row: record } = decide(config, envelope, {
            payments: row.payments,
            lastDeviceNew: row.last_device_new,
            inWindow: row.in_window,
          });
          results[index] = { kind: "decided", decision, rulesVersion: config.rulesVersion };
          decided.push(record);
        }
      }
      sent = decided.length > 0 ? [recordStatement(sql, decided)] : [];
    }
    const commit = sql`commit`;
    open = false;
    await pipeline([...sent, commit]);
    return results;
  } catch (err) {
    if (open) await sql`rollback`.catch(() => {});
    throw err;
  } finally {
    sql.release();
  }
}
