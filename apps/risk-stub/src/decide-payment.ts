import type { Database } from "@pps/db";
import { newId } from "@pps/domain";
import { makeEnvelope, outboxRow, riskEvents, type Envelope, type PaymentSnapshot, type RiskDecision } from "@pps/messaging";
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

type ActivityRow = { claimed: number; fresh: number; payments: number | null; last_device_new: boolean | null; in_window: number | null };

/**
 * Decides one payment in one transaction of two statements, so a redelivered or duplicate event changes
 * nothing twice and publishes nothing twice:
 *  1. claim the envelope id in the inbox and, only if claimed and the payment has no decision yet, upsert the
 *     payer's activity row (velocity window, known devices). The upsert's row lock queues concurrent payments
 *     of the same payer, from any partition or replica, so each sees the others' effects.
 *  2. evaluate the rules in memory, then insert the decision and its outbox row together. The decision's
 *     primary key (payment id) is the last guard: if another event decided the payment meanwhile, the insert
 *     fails and the whole transaction, activity update included, rolls back.
 * Throughput: this runs for every payment, so it talks to postgres.js directly on a reserved connection and
 * pipelines BEGIN with statement 1 and statement 2 with COMMIT: two round trips instead of four, and the
 * fixed statement texts are prepared once per connection. (A failed statement aborts the transaction, so the
 * pipelined COMMIT then rolls back.)
 */
export async function decidePayment(db: Database, consumer: string, config: RiskConfig, envelope: Envelope<PaymentSnapshot>): Promise<DecideResult> {
  const payment = envelope.payload;
  const { rules } = config;
  // Velocity is counted in event time (when the payment entered review), so a consumer catching up on a
  // backlog does not see a burst that never happened.
  const at = envelope.occurredAt;
  const payerId = payment.payer.id;
  const deviceId = payment.payer.deviceId;
  const windowSeconds = rules.velocity.windowSeconds;

  const sql = await db.$client.reserve();
  let open = false;
  try {
    const [begun, first] = await Promise.allSettled([
      sql`begin`,
      sql<ActivityRow[]>`
        with claim as (
          insert into risk.inbox (consumer, message_id) values (${consumer}::text, ${envelope.id}::uuid)
          on conflict do nothing
          returning 1
        ), fresh as (
          select 1 from claim where not exists (select 1 from risk.decisions d where d.payment_id = ${payment.paymentId}::text)
        ), activity as (
          insert into risk.payer_activity as a (payer_id, payments, recent, devices, last_device_new)
          select ${payerId}::text, 1, array[${at}::timestamptz],
            case when ${deviceId}::text is null then '{}'::text[] else array[${deviceId}::text] end, false
          from fresh
          on conflict (payer_id) do update set
            payments = a.payments + 1,
            recent = array(
              select t from unnest(a.recent || ${at}::timestamptz) as u(t)
              where t > greatest(${at}::timestamptz, (select max(x) from unnest(a.recent) as r(x))) - make_interval(secs => ${windowSeconds}::int)
              order by t desc limit ${RECENT_CAP}::int
            ),
            devices = case
              when ${deviceId}::text is null or ${deviceId}::text = any(a.devices) then a.devices
              else (a.devices || ${deviceId}::text)[greatest(1, cardinality(a.devices) + 2 - ${DEVICE_CAP}::int):]
            end,
            last_device_new = (${deviceId}::text is not null and not (${deviceId}::text = any(a.devices))),
            updated_at = now()
          returning a.payments, a.last_device_new,
            (select count(*) from unnest(a.recent) as r(t)
              where t > ${at}::timestamptz - make_interval(secs => ${windowSeconds}::int) and t <= ${at}::timestamptz)::int as in_window
        )
        select (select count(*) from claim)::int as claimed, (select count(*) from fresh)::int as fresh,
          activity.payments, activity.last_device_new, activity.in_window
        from (values (1)) as one(x) left join activity on true`,
    ]);
    // Settle both before going on: the connection must never go back to the pool with a query in flight
    // or a transaction open.
    if (begun.status === "rejected") throw begun.reason;
    open = true;
    if (first.status === "rejected") throw first.reason;
    const [row] = first.value;

    // Nothing was written but, for a payment already decided, the inbox claim: keep that.
    if (!row || row.claimed === 0 || row.fresh === 0 || row.payments === null) {
      await sql`commit`;
      open = false;
      return row && row.claimed > 0 ? { kind: "already_decided" } : { kind: "duplicate_event" };
    }

    const paidBefore = row.payments > 1;
    const history: PayerHistory = {
      paidBefore,
      deviceKnown: paidBefore && deviceId !== null && row.last_device_new === false,
      paymentsInWindow: row.in_window ?? 1,
    };
    const input: RiskInput = { amount: payment.amount, currency: payment.currency, payerId, deviceId, ip: payment.payer.ip };
    const { outcome, reasons } = evaluateRisk(rules, config.blocklist, input, history);

    const decision: RiskDecision = {
      decisionId: newId("rdc"),
      paymentId: payment.paymentId,
      merchantId: payment.merchantId,
      outcome,
      reasons,
      decidedAt: new Date().toISOString(),
    };
    const out = makeEnvelope({ type: riskEvents.decided.type, version: riskEvents.decided.version, aggregateId: payment.paymentId, payload: decision });
    const outbox = outboxRow(riskEvents.decided, out);
    const inputs = { eventId: envelope.id, eventType: envelope.type, occurredAt: at, ...input, ...history };
    // Reason codes are a fixed set of identifiers, so the array literal needs no quoting.
    const reasonsLiteral = `{${reasons.join(",")}}`;

    const [inserted, committed] = await Promise.allSettled([
      sql`
        with d as (
          insert into risk.decisions (payment_id, decision_id, event_id, merchant_id, payer_id, outcome, reasons, rules_version, inputs, decided_at)
          values (${decision.paymentId}::text, ${decision.decisionId}::text, ${envelope.id}::uuid, ${decision.merchantId}::text, ${payerId}::text,
            ${outcome}::text, ${reasonsLiteral}::text[], ${config.rulesVersion}::int, ${JSON.stringify(inputs)}::jsonb, ${decision.decidedAt}::timestamptz)
          returning 1
        )
        insert into risk.outbox (event_id, topic, key, envelope)
        select ${outbox.eventId}::uuid, ${outbox.topic}::text, ${outbox.key}::text, ${JSON.stringify(outbox.envelope)}::jsonb from d`,
      sql`commit`,
    ]);
    open = false;
    if (inserted.status === "rejected") {
      if ((inserted.reason as { code?: string }).code === UNIQUE_VIOLATION) return { kind: "already_decided" };
      throw inserted.reason;
    }
    if (committed.status === "rejected") throw committed.reason;
    return { kind: "decided", decision, rulesVersion: config.rulesVersion };
  } catch (err) {
    if (open) await sql`rollback`.catch(() => {});
    throw err;
  } finally {
    sql.release();
  }
}
