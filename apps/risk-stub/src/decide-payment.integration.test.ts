import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@pps/db";
import { newId } from "@pps/domain";
import {
  makeEnvelope,
  paymentInternalEvents,
  type Envelope,
  type EventDefinition,
  type InternalPaymentSnapshot,
} from "@pps/messaging";
import { isolatedDatabase, waitFor } from "@pps/test-support";
import { EMPTY_BLOCKLIST } from "./blocklist.ts";
import { type DecideResult, DecisionConflictError, decidePayment, decidePayments } from "./decide-payment.ts";
import type { RiskConfig } from "./risk-config.ts";
import { DEFAULT_RULES } from "./rules.ts";
import { snapshot } from "./risk-test-kit.ts";

const CONSUMER = "risk-stub.test";
/** Velocity: the 6th payment within 60 s is challenged. */
const config: RiskConfig = { rulesVersion: 1, rules: DEFAULT_RULES, blocklistVersion: 0, blocklist: EMPTY_BLOCKLIST };
const T0 = Date.parse("2026-03-01T12:00:00.000Z");

/** Its own database: a risk-stub started by another test file relays (and deletes) the outbox rows of the shared one. */
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let db: Database;

function payment(paymentId: string, payerId: string, deviceId: string | null): InternalPaymentSnapshot {
  return snapshot({ paymentId, payer: { id: payerId, deviceId, phone: null } });
}

function event(
  p: InternalPaymentSnapshot,
  atSeconds: number,
  def: EventDefinition = paymentInternalEvents.created,
): Envelope<InternalPaymentSnapshot> {
  return makeEnvelope({
    type: def.type,
    version: def.version,
    aggregateId: p.paymentId,
    payload: p,
    occurredAt: new Date(T0 + atSeconds * 1000),
  });
}

/**
 * The same story for fresh payers each time: one payer's payments across devices and the velocity window
 * (one of them late and out of order), a second payer, events twice, second events for decided payments.
 * `before` is decided first on its own; `chunk` is what is then decided, in this order.
 */
function story() {
  const [a, b, c] = [`u_a_${randomUUID()}`, `u_b_${randomUUID()}`, `u_c_${randomUUID()}`];
  const pays = Array.from({ length: 11 }, () => newId("pay"));
  const p = (i: number, payer: string, device: string | null) => payment(pays[i]!, payer, device);
  const first = event(p(0, a, "dev_1"), 0);
  const decidedBefore = event(p(10, c, "dev_9"), 0);
  const chunk = [
    first,
    event(p(1, a, "dev_2"), 1),
    event(p(2, a, "dev_1"), 2),
    first, // the same event again
    { ...first, id: first.id.toUpperCase() }, // and again, its id spelled in capitals
    event(p(3, b, null), 3),
    event(p(4, a, "dev_1"), 3),
    event(p(1, a, "dev_2"), 3, paymentInternalEvents.submitted), // a second event for a payment decided just before
    event(p(5, a, "dev_1"), 4),
    event(p(6, a, "dev_1"), 5),
    event(p(7, a, "dev_1"), 100),
    event(p(8, a, "dev_2"), -10), // late: older than the window the payer's row keeps
    event(p(9, b, "dev_3"), 6),
    decidedBefore, // redelivered
    event(p(10, c, "dev_9"), 7, paymentInternalEvents.submitted), // a second event for a payment decided before
  ];
  return { payers: [a, b, c], before: [decidedBefore], chunk };
}

const summary = (r: DecideResult) => (r.kind === "decided" ? [r.decision.outcome, r.decision.reasons] : r.kind);

async function activityOf(payerIds: string[]) {
  const rows = await db.$client<
    { payer_id: string; payments: number; recent: string[]; devices: string[]; last_device_new: boolean }[]
  >`
    select payer_id, payments, recent::text[] as recent, devices, last_device_new from risk.payer_activity where payer_id = any(${payerIds}::text[])`;
  return payerIds.map((id) => {
    const { payer_id: _, ...rest } = rows.find((r) => r.payer_id === id)!;
    return rest;
  });
}

async function decisionInputs(paymentIds: string[]) {
  const rows = await db.$client<{ payment_id: string; inputs: Record<string, unknown> }[]>`
    select payment_id, inputs from risk.decisions where payment_id = any(${paymentIds}::text[])`;
  return paymentIds.map((id) => {
    const inputs = rows.find((r) => r.payment_id === id)?.inputs;
    return (
      inputs && {
        paidBefore: inputs.paidBefore,
        deviceKnown: inputs.deviceKnown,
        paymentsInWindow: inputs.paymentsInWindow,
      }
    );
  });
}

async function outboxKeys(paymentIds: string[]): Promise<string[]> {
  const rows = await db.$client<
    { key: string }[]
  >`select key from risk.outbox where key = any(${paymentIds}::text[]) order by id`;
  return rows.map((r) => r.key);
}

describe("deciding a chunk of payments in one transaction", () => {
  beforeAll(async () => {
    isolated = await isolatedDatabase("decide");
    db = isolated.db;
  });

  afterAll(async () => {
    await isolated.close();
  });

  it("decides exactly what one-by-one decides: payers in order, duplicates and redeliveries once", async () => {
    const batch = story();
    for (const e of batch.before) await decidePayment(db, CONSUMER, config, e);
    const batched = await decidePayments(db, CONSUMER, config, batch.chunk);

    expect(batched.map(summary)).toEqual([
      ["allow", []],
      ["challenge", ["new_device"]],
      ["allow", []],
      "duplicate_event",
      "duplicate_event",
      ["allow", []],
      ["allow", []],
      "already_decided",
      ["allow", []],
      ["challenge", ["velocity_exceeded"]],
      ["allow", []],
      ["allow", []],
      ["challenge", ["new_device"]],
      "duplicate_event",
      "already_decided",
    ]);

    const single = story();
    for (const e of single.before) await decidePayment(db, CONSUMER, config, e);
    const oneByOne: DecideResult[] = [];
    for (const e of single.chunk) oneByOne.push(await decidePayment(db, CONSUMER, config, e));

    expect(batched.map(summary)).toEqual(oneByOne.map(summary));
    expect(await activityOf(batch.payers)).toEqual(await activityOf(single.payers));
    const paymentsOf = (s: ReturnType<typeof story>) => s.chunk.map((e) => e.payload.paymentId);
    expect(await decisionInputs(paymentsOf(batch))).toEqual(await decisionInputs(paymentsOf(single)));
    // One event per payment decided in the chunk, none for duplicates.
    const decidedIds = batch.chunk.filter((_, i) => batched[i]!.kind === "decided").map((e) => e.payload.paymentId);
    expect((await outboxKeys(paymentsOf(batch))).sort()).toEqual(
      [batch.before[0]!.payload.paymentId, ...decidedIds].sort(),
    );
  });

  it("rolls the whole chunk back when a payment gets its decision elsewhere meanwhile; one by one, only that one is skipped", async () => {
    const payer = `u_${randomUUID()}`;
    const [contested, other] = [
      event(payment(newId("pay"), payer, "dev_1"), 0),
      event(payment(newId("pay"), `u_${randomUUID()}`, null), 0),
    ];

    // Another transaction decides the contested payment after this chunk's check, before its insert.
    const rival = await db.$client.reserve();
    try {
      await rival`begin`;
      await rival`insert into risk.decisions (payment_id, decision_id, event_id, merchant_id, payer_id, outcome, reasons, rules_version, inputs, decided_at)
        values (${contested.payload.paymentId}, ${newId("rdc")}, ${randomUUID()}::uuid, 'm', ${payer}, 'allow', '{}', 1, '{}'::jsonb, now())`;
      const chunk = decidePayments(db, CONSUMER, config, [other, contested]);
      const outcome = chunk.then(
        () => null,
        (err: unknown) => err,
      );
      await waitFor(
        async () =>
          (
            await db.$client`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
          ).length > 0,
        {
          what: "the chunk to wait for the rival's decision",
        },
      );
      await rival`commit`;
      expect(await outcome).toBeInstanceOf(DecisionConflictError);
    } finally {
      rival.release();
    }

    // Nothing of the chunk stayed: no claims, no activity, no decisions.
    const [claims] = await db.$client<
      { n: number }[]
    >`select count(*)::int as n from risk.inbox where message_id in (${contested.id}::uuid, ${other.id}::uuid)`;
    expect(claims?.n).toBe(0);
    expect(
      await db.$client`select 1 from risk.payer_activity where payer_id in (${payer}, ${other.payload.payer.id})`,
    ).toHaveLength(0);
    expect(await outboxKeys([other.payload.paymentId, contested.payload.paymentId])).toEqual([]);

    expect(summary(await decidePayment(db, CONSUMER, config, other))).toEqual(["allow", []]);
    expect(summary(await decidePayment(db, CONSUMER, config, contested))).toBe("already_decided");
    expect(await db.$client`select 1 from risk.payer_activity where payer_id = ${payer}`).toHaveLength(0);
  });
});
