import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "@pps/db";
import { attemptIdOf, newId, parseAttemptId } from "@pps/domain";
import type { AttemptResult, Envelope } from "@pps/messaging";
import { isolatedDatabase } from "@pps/test-support";
import { attemptResultEnvelope, NO_RESULT_DATA } from "./attempt-result.ts";
import {
  type AttemptUpdate,
  AttemptStore,
  type BeginItem,
  type CompleteItem,
  type DecisionRecord,
  type NewAttempt,
} from "./attempt-store.ts";
import type { AttemptStatus } from "./resolution-policy.ts";

/**
 * Its own database: a router started by another test file relays (and deletes) the outbox rows of the shared
 * one, and its resolver takes attempts that come due there.
 */
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let db: Database;
let store: AttemptStore;

const HOUR_MS = 3_600_000;

function decisionFor(paymentId: string, winner: string | null, attemptNo = 1): DecisionRecord {
  return {
    paymentId,
    attemptNo,
    input: {
      product: "online_banking",
      amount: 10_000,
      currency: "CNY",
      bankCode: "CMB",
      wallet: null,
      captureMethod: "automatic",
    },
    candidates: [],
    winner,
    reason: attemptNo === 1 ? "initial" : "failover",
  };
}

function attemptFor(paymentId: string, status: AttemptStatus = "sending", attemptNo = 1): NewAttempt {
  // Due only in an hour: nothing here is ever the resolver's.
  return {
    id: attemptIdOf(paymentId, attemptNo),
    paymentId,
    attemptNo,
    channel: "bank_direct",
    amount: 10_000,
    currency: "CNY",
    status,
    expiresAt: Date.now() + HOUR_MS,
    nextQueryAt: Date.now() + HOUR_MS,
  };
}

function failedEvent(attempt: NewAttempt, willRetry = false): Envelope<AttemptResult> {
  return attemptResultEnvelope(
    attempt,
    { ...NO_RESULT_DATA, outcome: "failed", failureCode: "x", failureMessage: "x" },
    willRetry,
  );
}

function routed(messageId: string, paymentId: string): BeginItem {
  return {
    messageId,
    decision: decisionFor(paymentId, "bank_direct"),
    attempt: attemptFor(paymentId),
    noRouteEvent: null,
  };
}

function update(status: AttemptStatus, failureCode: string | null = null): AttemptUpdate {
  return {
    status,
    channelTxnId: `txn_${status}`,
    failureCode,
    lastError: null,
    nextQueryAt: null,
    resetQueryCount: true,
  };
}

const values = <T>(settled: { ok: boolean; value?: T; error?: unknown }[]) =>
  settled.map((s) => (s.ok ? s.value : s.error));

async function attemptsOf(paymentId: string) {
  return db.$client<
    { id: string; attempt_no: number; status: string; completed_at: Date | null; channel_txn_id: string | null }[]
  >`
    select id, attempt_no, status, completed_at, channel_txn_id from routing.attempts where payment_id = ${paymentId} order by attempt_no`;
}

async function decisionCount(paymentId: string): Promise<number> {
  const [row] = await db.$client<
    { n: number }[]
  >`select count(*)::int as n from routing.decisions where payment_id = ${paymentId}`;
  return row!.n;
}

async function outboxCount(eventId: string): Promise<number> {
  const [row] = await db.$client<
    { n: number }[]
  >`select count(*)::int as n from routing.outbox where event_id = ${eventId}::uuid`;
  return row!.n;
}

describe("attempt store batches", () => {
  beforeAll(async () => {
    isolated = await isolatedDatabase("attempt_store");
    db = isolated.db;
    store = new AttemptStore(db);
  });

  afterAll(async () => {
    await isolated.close();
  });

  it("begins a batch with a message thrice, a redelivery, a routed payment and a payment twice, each exactly", async () => {
    const [p0, p1, p2, p3] = [newId("pay"), newId("pay"), newId("pay"), newId("pay")];
    const [m0, m1, m2, m3, m4, m5] = [
      randomUUID(),
      randomUUID(),
      randomUUID(),
      randomUUID(),
      randomUUID(),
      randomUUID(),
    ];
    expect(await store.begin(m0, decisionFor(p0, "bank_direct"), attemptFor(p0), null)).toEqual({
      claimed: true,
      started: true,
    });

    const noRoute = attemptFor(p2, "failed");
    const noRouteEvent = failedEvent(noRoute);
    const batch: BeginItem[] = [
      routed(m1, p1),
      routed(m1, p1), // the same message again in this batch
      routed(m1.toUpperCase(), p1), // and again, spelled in capitals
      routed(m0, p0), // redelivered: claimed before
      routed(m2, p0), // another message for a payment already routed
      {
        messageId: m3,
        decision: decisionFor(p2, null),
        attempt: { ...noRoute, failureCode: "no_channel_available", lastError: "none" },
        noRouteEvent,
      },
      routed(m4, p3),
      routed(m5, p3), // a second message for a payment of this batch
    ];
    expect(values(await store.beginAll(batch))).toEqual([
      { claimed: true, started: true },
      { claimed: false, started: false },
      { claimed: false, started: false },
      { claimed: false, started: false },
      { claimed: true, started: false },
      { claimed: true, started: true },
      { claimed: true, started: true },
      { claimed: true, started: false },
    ]);

    expect((await attemptsOf(p1)).map((a) => a.id)).toEqual([batch[0]!.attempt.id]);
    expect(await decisionCount(p1)).toBe(1);
    expect(await attemptsOf(p0)).toHaveLength(1);
    expect(await decisionCount(p0)).toBe(1);
    expect((await attemptsOf(p3)).map((a) => a.id)).toEqual([batch[6]!.attempt.id]);
    const [failed] = await attemptsOf(p2);
    expect(failed).toMatchObject({ id: noRoute.id, status: "failed" });
    expect(failed?.completed_at).not.toBeNull();
    expect(await outboxCount(noRouteEvent.id)).toBe(1);
  });

  it("answers concurrent begins of the same messages exactly once each, whatever batches they fall into", async () => {
    const firsts = Array.from({ length: 10 }, () => routed(randomUUID(), newId("pay")));
    const again = firsts.map((b) => routed(b.messageId, b.decision.paymentId));
    const results = await Promise.all(
      [...firsts, ...again].map((b) => store.begin(b.messageId, b.decision, b.attempt, null)),
    );
    for (let i = 0; i < firsts.length; i++) {
      const pair = [results[i]!, results[i + firsts.length]!];
      expect(pair).toEqual(
        expect.arrayContaining([
          { claimed: true, started: true },
          { claimed: false, started: false },
        ]),
      );
      expect(await attemptsOf(firsts[i]!.decision.paymentId)).toHaveLength(1);
    }
  });

  it("completes a batch where each item answers whether its condition held", async () => {
    const [a, b, c, d] = Array.from({ length: 4 }, () => routed(randomUUID(), newId("pay")));
    await store.beginAll([a!, b!, c!, d!]);
    const events = [a, b, c, c].map((x) => failedEvent(x!.attempt));
    const batch: CompleteItem[] = [
      { id: a!.attempt.id, from: { status: "sending" }, update: update("succeeded"), event: events[0]! },
      { id: b!.attempt.id, from: { status: "pending" }, update: update("succeeded"), event: events[1]! }, // not in that status
      { id: c!.attempt.id, from: { status: "sending" }, update: update("failed", "declined"), event: events[2]! },
      { id: c!.attempt.id, from: { status: "sending" }, update: update("succeeded"), event: events[3]! }, // the same attempt again
      { id: d!.attempt.id, from: { status: "sending", queryCount: 5 }, update: update("unknown"), event: null }, // no longer our claim
    ];
    expect(values(await store.completeAll(batch))).toEqual([true, false, true, false, false]);

    expect((await attemptsOf(a!.decision.paymentId))[0]).toMatchObject({
      status: "succeeded",
      channel_txn_id: "txn_succeeded",
    });
    expect((await attemptsOf(a!.decision.paymentId))[0]?.completed_at).not.toBeNull();
    expect((await attemptsOf(b!.decision.paymentId))[0]).toMatchObject({ status: "sending", completed_at: null });
    expect((await attemptsOf(c!.decision.paymentId))[0]).toMatchObject({
      status: "failed",
      channel_txn_id: "txn_failed",
    });
    expect((await attemptsOf(d!.decision.paymentId))[0]).toMatchObject({ status: "sending" });
    expect(await Promise.all(events.map((e) => outboxCount(e.id)))).toEqual([1, 0, 1, 0]);
  });

  it("fails over in one statement, and writes nothing when the failed attempt is no longer sending", async () => {
    const first = routed(randomUUID(), newId("pay"));
    const paymentId = first.decision.paymentId;
    await store.beginAll([first]);
    const event = failedEvent(first.attempt, true);
    const next = { ...attemptFor(paymentId, "sending", 2), channel: "unionpay" };
    expect(
      await store.failover(
        { id: first.attempt.id, update: update("failed", "channel_unavailable"), event },
        decisionFor(paymentId, "unionpay", 2),
        next,
      ),
    ).toBe(true);
    expect((await attemptsOf(paymentId)).map((a) => [a.attempt_no, a.status])).toEqual([
      [1, "failed"],
      [2, "sending"],
    ]);
    expect(await decisionCount(paymentId)).toBe(2);
    expect(await outboxCount(event.id)).toBe(1);

    const late = failedEvent(first.attempt, true);
    const third = { ...attemptFor(paymentId, "sending", 3), channel: "wechat" };
    expect(
      await store.failover(
        { id: first.attempt.id, update: update("failed", "channel_unavailable"), event: late },
        decisionFor(paymentId, "wechat", 3),
        third,
      ),
    ).toBe(false);
    expect(await attemptsOf(paymentId)).toHaveLength(2);
    expect(await decisionCount(paymentId)).toBe(2);
    expect(await outboxCount(late.id)).toBe(0);
  });

  it("stops querying an attempt a callback settled: the open one takes its outcome, the runner's report is refused", async () => {
    const open = routed(randomUUID(), newId("pay"));
    const final = routed(randomUUID(), newId("pay"));
    const watched = routed(randomUUID(), newId("pay"));
    await store.beginAll([open, final, watched]);
    // The ids name their payments.
    expect(parseAttemptId(open.attempt.id)).toEqual({ paymentId: open.decision.paymentId, attemptNo: 1 });
    await store.complete(final.attempt.id, { status: "sending" }, update("failed", "card_declined"), null);
    await store.complete(
      watched.attempt.id,
      { status: "sending" },
      { ...update("requires_action"), nextQueryAt: Date.now() - 1_000 },
      null,
    );

    const message = randomUUID();
    expect(await store.settleByCallback(message, open.attempt.id, "succeeded")).toEqual({
      claimed: true,
      settled: true,
    });
    const [settled] = await db.$client<{ status: string; next_query_at: string | null; completed_at: string | null }[]>`
      select status, next_query_at, completed_at from routing.attempts where id = ${open.attempt.id}`;
    expect(settled).toMatchObject({ status: "succeeded", next_query_at: null });
    expect(settled?.completed_at).not.toBeNull();
    // The call that was still in flight comes back: nothing recorded, nothing reported.
    const late = failedEvent(open.attempt);
    expect(await store.complete(open.attempt.id, { status: "sending" }, update("failed", "x"), late)).toBe(false);
    expect(await outboxCount(late.id)).toBe(0);
    // A redelivery changes nothing.
    expect(await store.settleByCallback(message, open.attempt.id, "failed")).toEqual({
      claimed: false,
      settled: false,
    });
    expect((await attemptsOf(open.decision.paymentId))[0]?.status).toBe("succeeded");

    // A final attempt keeps its own status (payment-api applies the late callback).
    expect(await store.settleByCallback(randomUUID(), final.attempt.id, "succeeded")).toMatchObject({ settled: true });
    expect((await attemptsOf(final.decision.paymentId))[0]?.status).toBe("failed");

    // A watched one (due for a query) is no longer claimed by the resolver.
    expect(await store.settleByCallback(randomUUID(), watched.attempt.id, "authorized")).toMatchObject({
      settled: true,
    });
    expect((await attemptsOf(watched.decision.paymentId))[0]?.status).toBe("authorized");
    const due = await store.claimDue(1_000, 10_000);
    expect(due.map((d) => d.id)).not.toContain(watched.attempt.id);

    expect(await store.settleByCallback(randomUUID(), "at1_NOSUCHATTEMPT", "succeeded")).toEqual({
      claimed: true,
      settled: false,
    });
  });
});
