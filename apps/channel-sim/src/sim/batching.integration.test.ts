import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "@pps/channels";
import { closeDb, createDb, type Database, dropDatabase, runMigrations } from "@pps/db";
import { createLogger } from "@pps/logger";
import { TEST_DATABASE_URL, waitFor } from "@pps/test-support";
import { createProtocols } from "../channels/index.ts";
import type { Charge } from "../channels/protocol.ts";
import { finalCallbacks, type NewCallback } from "./callbacks.ts";
import { createChargeWriter, createOrFindCharges } from "./charge-writer.ts";
import type { SimDeps } from "./deps.ts";
import { createDispatcher } from "./dispatcher.ts";
import { createFaultStore, type FaultStore } from "./faults.ts";
import { applyPayerAction, applyPayerActionsAtOnce } from "./payer-actions.ts";

/**
 * The simulator's set-based statements against real Postgres: every item of a batch gets what it would get
 * on its own. Its own database: a channel-sim started by another test file would claim the callbacks and
 * payer actions of the shared one.
 */
const SIM_DB_URL = (() => {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname += "_sim_batching";
  return url.toString();
})();

const logger = createLogger({ service: "channel-sim-test", level: "warn" });
let db: Database;
let deps: SimDeps;
let faults: FaultStore;

const hex = () => randomBytes(6).toString("hex");

function chargeOf(over: Partial<Charge> = {}): Charge {
  const now = new Date();
  const id = over.id ?? `T${hex()}`;
  return {
    id,
    channel: "carrier",
    merchantId: "m_batch",
    merchantRef: `ref_${hex()}`,
    product: "carrier_billing",
    amount: 1_234,
    currency: "CNY",
    settleAmount: null,
    settleCurrency: null,
    fxRate: null,
    status: "awaiting_payer",
    captureMode: "auto",
    authorizedAmount: 0,
    authExpiresAt: null,
    capturedAmount: 0,
    capturedAt: null,
    refundedAmount: 0,
    refundCount: 0,
    failureReason: null,
    subject: "batch test",
    bankCode: null,
    flow: null,
    payerPhone: "13900000000",
    callbackUrl: "http://127.0.0.1:9/cb",
    returnUrl: null,
    passthrough: "order=42",
    faults: [],
    extra: {},
    smsCode: null,
    smsAttempts: 0,
    autoAction: null,
    autoActionAt: null,
    expiresAt: new Date(now.getTime() + 3_600_000),
    paidAt: null,
    closedAt: null,
    createdAt: now,
    updatedAt: now,
    ...over,
  };
}

/** A succeeded charge with the final callback the pay request would queue with it. */
function announced(over: Partial<Charge> = {}): { charge: Charge; callbacks: NewCallback[] } {
  const charge = chargeOf({ status: "succeeded", paidAt: new Date(), ...over });
  return { charge, callbacks: finalCallbacks(deps, charge, []) };
}

async function chargesOfRef(ref: string) {
  return db.$client<
    { id: string; status: string; amount: string }[]
  >`select id, status, amount from sim.charges where merchant_ref = ${ref}`;
}

async function callbacksOf(chargeId: string) {
  return db.$client<
    { id: string; kind: string; status: string; attempts: number; last_error: string | null; due_in_future: boolean }[]
  >`
    select id, kind, status, attempts, last_error, due_at > now() as due_in_future from sim.callbacks where charge_id = ${chargeId} order by id`;
}

async function deliveriesOf(chargeId: string) {
  return db.$client<{ http_status: number | null; accepted: string; attempt: number }[]>`
    select d.http_status, d.accepted, d.attempt from sim.callback_deliveries d join sim.callbacks c on c.id = d.callback_id
    where c.charge_id = ${chargeId} order by d.id`;
}

beforeAll(async () => {
  await dropDatabase(SIM_DB_URL);
  await runMigrations(SIM_DB_URL);
  db = createDb({ url: SIM_DB_URL, max: 4 });
  faults = createFaultStore(db, logger);
  await faults.start();
  deps = {
    db,
    logger,
    faults,
    charges: createChargeWriter(db),
    protocols: createProtocols(DEV_CHANNEL_KEYS),
    config: {
      publicUrl: null,
      timeoutHoldMs: 1_000,
      autoPayerDelayMs: 0,
      callbackPollMs: 25,
      callbackMaxAttempts: 2,
      callbackRetryBaseMs: 60_000,
      callbackTimeoutMs: 2_000,
    },
    shutdown: new AbortController().signal,
  };
});

afterAll(async () => {
  await faults?.stop();
  if (db) await closeDb(db);
  await dropDatabase(SIM_DB_URL);
});

describe("charges of concurrent pay requests, in one statement", () => {
  it("answers a reference twice, a reference already booked and new ones each as on its own; queues callbacks of created charges only", async () => {
    const booked = chargeOf({ amount: 500 });
    expect(await createOrFindCharges(db, [{ charge: booked, callbacks: [] }])).toEqual([
      { ok: true, value: { charge: booked, created: true } },
    ]);

    const first = announced();
    const again = announced({ merchantRef: first.charge.merchantRef });
    const conflicting = chargeOf({ merchantRef: booked.merchantRef, amount: 999 });
    const fresh = chargeOf();
    const results = await createOrFindCharges(db, [
      first,
      again,
      { charge: conflicting, callbacks: [] },
      { charge: fresh, callbacks: [] },
    ]);

    expect(results[0]).toEqual({ ok: true, value: { charge: first.charge, created: true } });
    // The repeat finds the first one's transaction, as a request arriving just after it would.
    expect(results[1]).toMatchObject({ ok: true, value: { created: false, charge: { id: first.charge.id } } });
    // The caller sees the booked order's own amount and refuses the request as a conflict.
    expect(results[2]).toMatchObject({ ok: true, value: { created: false, charge: { id: booked.id, amount: 500 } } });
    expect(results[3]).toEqual({ ok: true, value: { charge: fresh, created: true } });

    expect(await chargesOfRef(first.charge.merchantRef)).toEqual([
      { id: first.charge.id, status: "succeeded", amount: "1234" },
    ]);
    expect(await chargesOfRef(booked.merchantRef)).toEqual([
      { id: booked.id, status: "awaiting_payer", amount: "500" },
    ]);
    expect((await callbacksOf(first.charge.id)).map((c) => c.kind)).toEqual(["final"]);
    expect(await callbacksOf(again.charge.id)).toEqual([]);
  });

  it("stores the charge exactly as the caller built it (what it answers and signs callbacks from)", async () => {
    const charge = chargeOf({
      channel: "paypal",
      settleAmount: 8_860,
      settleCurrency: "CNY",
      fxRate: "7.1800",
      faults: ["callback_delayed:5"],
      extra: { cancel_url: "https://m.test/c" },
      status: "paying",
      autoAction: "confirm",
      autoActionAt: new Date(),
    });
    await createOrFindCharges(db, [{ charge, callbacks: [] }]);
    const [stored] = await createOrFindCharges(db, [
      { charge: chargeOf({ channel: "paypal", merchantRef: charge.merchantRef }), callbacks: [] },
    ]);
    expect(stored).toEqual({ ok: true, value: { charge, created: false } });
  });

  it("a batch with a bad item: the others are created, the bad one alone fails and leaves nothing", async () => {
    const good1 = chargeOf();
    const bad = chargeOf({ subject: "nul \u0000 byte" });
    const good2 = announced();
    const results = await createOrFindCharges(db, [
      { charge: good1, callbacks: [] },
      { charge: bad, callbacks: [] },
      good2,
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(await chargesOfRef(good1.merchantRef)).toHaveLength(1);
    expect(await chargesOfRef(bad.merchantRef)).toHaveLength(0);
    expect(await callbacksOf(good2.charge.id)).toHaveLength(1);
  });

  it("the group commit answers concurrent submissions one by one", async () => {
    const writer = createChargeWriter(db, { maxInFlight: 1 });
    const shared = chargeOf();
    const items = [shared, chargeOf({ merchantRef: shared.merchantRef }), chargeOf(), chargeOf()];
    const results = await Promise.all(items.map((charge) => writer.submit({ charge, callbacks: [] })));
    expect(results.map((r) => [r.charge.id, r.created])).toEqual([
      [shared.id, true],
      [shared.id, false],
      [items[2]!.id, true],
      [items[3]!.id, true],
    ]);
  });
});

describe("automated payer actions, in one statement", () => {
  it("settles the charges still unpaid and unchanged, with callbacks; leaves the expired and the changed ones to the one-by-one path", async () => {
    const paying = (over: Partial<Charge> = {}) =>
      chargeOf({ status: "paying", autoAction: "confirm", autoActionAt: new Date(), ...over });
    const [pay, cancel, changed, expired, final] = [
      paying(),
      paying({ autoAction: "cancel" }),
      paying(),
      paying({ expiresAt: new Date(Date.now() - 1_000) }),
      chargeOf({ status: "succeeded", paidAt: new Date() }),
    ];
    await createOrFindCharges(
      db,
      [pay, cancel, changed, expired, final].map((charge) => ({ charge, callbacks: [] })),
    );
    // Changed after it was read (as a payer page or a query's expiry would): the read copy is stale.
    await db.$client`update sim.charges set updated_at = now() + interval '1 second' where id = ${changed.id}`;

    const settled = await applyPayerActionsAtOnce(deps, [
      { charge: pay, action: { type: "pay" } },
      { charge: cancel, action: { type: "cancel" } },
      { charge: changed, action: { type: "pay" } },
      { charge: expired, action: { type: "pay" } },
      { charge: final, action: { type: "pay" } },
    ]);
    expect([...settled].sort()).toEqual([pay.id, cancel.id].sort());

    const state = async (id: string) =>
      (
        await db.$client<
          {
            status: string;
            failure_reason: string | null;
            paid: boolean;
            closed: boolean;
            auto_action: string | null;
          }[]
        >`
        select status, failure_reason, paid_at is not null as paid, closed_at is not null as closed, auto_action from sim.charges where id = ${id}`
      )[0];
    expect(await state(pay.id)).toEqual({
      status: "succeeded",
      failure_reason: null,
      paid: true,
      closed: false,
      auto_action: null,
    });
    expect(await state(cancel.id)).toEqual({
      status: "closed",
      failure_reason: "payer_canceled",
      paid: false,
      closed: true,
      auto_action: null,
    });
    expect(await state(changed.id)).toMatchObject({ status: "paying", auto_action: "confirm" });
    expect(await state(expired.id)).toMatchObject({ status: "paying" });
    expect((await callbacksOf(pay.id)).map((c) => c.kind)).toEqual(["final"]);
    expect(await callbacksOf(cancel.id)).toHaveLength(1);
    expect(await callbacksOf(changed.id)).toHaveLength(0);

    // What the dispatcher does with the rest.
    expect((await applyPayerAction(deps, changed.id, { type: "pay" })).outcome).toBe("applied");
    expect((await applyPayerAction(deps, expired.id, { type: "pay" })).outcome).toBe("expired");
    expect((await applyPayerAction(deps, final.id, { type: "pay" })).outcome).toBe("already_final");
    expect(await callbacksOf(changed.id)).toHaveLength(1);
    expect(await callbacksOf(expired.id)).toHaveLength(0);
  });

  it("a settled charge's callback is rendered from its final state", async () => {
    const charge = chargeOf({ status: "paying", autoAction: "confirm", autoActionAt: new Date() });
    await createOrFindCharges(db, [{ charge, callbacks: [] }]);
    await applyPayerActionsAtOnce(deps, [{ charge, action: { type: "pay" } }]);
    const [row] = await db.$client<{ body: string }[]>`select body from sim.callbacks where charge_id = ${charge.id}`;
    expect(JSON.parse(row!.body)).toMatchObject({
      charge: { chargeId: charge.id, status: "SUCCEEDED", amount: 1_234 },
    });
  });
});

describe("the callback dispatcher's round", () => {
  let receiver: Server;
  let url: string;
  const received: { path: string; body: string }[] = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        received.push({ path: req.url ?? "", body });
        res.writeHead(req.url?.startsWith("/fail") ? 500 : 200).end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });

  afterAll(() => receiver?.close());

  it("claims and reads in one statement, records every result of the round: delivered, due again, abandoned", async () => {
    const ok = announced({ callbackUrl: `${url}/ok`, faults: ["callback_out_of_order", "callback_duplicated"] });
    const failing = announced({ callbackUrl: `${url}/fail` });
    const lastTry = announced({ callbackUrl: `${url}/fail/last` });
    await createOrFindCharges(db, [ok, failing, lastTry]);
    // Due at once, the stale one included: the round gets all of them together.
    await db.$client`update sim.callbacks set due_at = now() where charge_id in (${ok.charge.id}, ${failing.charge.id}, ${lastTry.charge.id})`;
    await db.$client`update sim.callbacks set attempts = 1 where charge_id = ${lastTry.charge.id}`;

    const dispatcher = createDispatcher(deps);
    await dispatcher.tick();

    expect((await callbacksOf(ok.charge.id)).map((c) => [c.kind, c.status, c.attempts])).toEqual([
      ["final", "delivered", 1],
      ["final", "delivered", 1],
      ["stale", "delivered", 1],
    ]);
    // One charge's callbacks went out one after another, in the order they were queued.
    const okBodies = received
      .filter((r) => r.path === "/ok")
      .map((r) => JSON.parse(r.body) as { charge: { status: string } });
    expect(okBodies.map((b) => b.charge.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "PENDING_CONFIRMATION"]);
    expect(await deliveriesOf(ok.charge.id)).toEqual([
      { http_status: 200, accepted: "yes", attempt: 1 },
      { http_status: 200, accepted: "yes", attempt: 1 },
      { http_status: 200, accepted: "yes", attempt: 1 },
    ]);

    expect(await callbacksOf(failing.charge.id)).toMatchObject([
      { status: "pending", attempts: 1, last_error: "HTTP 500", due_in_future: true },
    ]);
    expect(await deliveriesOf(failing.charge.id)).toEqual([{ http_status: 500, accepted: "no", attempt: 1 }]);
    expect(await callbacksOf(lastTry.charge.id)).toMatchObject([
      { status: "abandoned", attempts: 2, last_error: "HTTP 500" },
    ]);
    expect(await deliveriesOf(lastTry.charge.id)).toEqual([{ http_status: 500, accepted: "no", attempt: 2 }]);
  });
});

describe("channel-wide fault settings, kept in memory", () => {
  it("a change is in force here before it answers, and reaches another replica by NOTIFY", async () => {
    const other = createFaultStore(db, logger);
    await other.start();
    try {
      const ref = `ref_${hex()}`;
      expect(await other.active("wechat", "pay", ref)).toEqual([]);
      await faults.set("wechat", ["unavailable", "callback_duplicated"], ["pay"], 100, "ref_");
      expect(await faults.active("wechat", "pay", ref)).toEqual(["unavailable", "callback_duplicated"]);
      expect(await faults.active("wechat", "query", ref)).toEqual([]);
      expect(await faults.active("wechat", "pay", "bench_1")).toEqual([]);
      expect(await faults.activeForCallbacks("wechat", ref)).toEqual(["callback_duplicated"]);
      // Well within the backstop re-read (5 s): the notification did it.
      await waitFor(async () => (await other.active("wechat", "pay", ref)).length === 2, {
        timeoutMs: 2_000,
        intervalMs: 20,
        what: "the other replica",
      });

      await faults.clear("wechat");
      expect(await faults.active("wechat", "pay", ref)).toEqual([]);
      await waitFor(async () => (await other.active("wechat", "pay", ref)).length === 0, {
        timeoutMs: 2_000,
        intervalMs: 20,
        what: "the other replica",
      });
    } finally {
      await other.stop();
    }
  });
});
