import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CHANNEL_FLOWS, type ChannelId } from "@pps/channels";
import { closeDb, createDb, type Database } from "@pps/db";
import { BEIJING_OFFSET_MS } from "@pps/domain";
import { createLogger } from "@pps/logger";
import { createMetrics, createServiceApp, runService, type RunningService } from "@pps/runtime";
import { isolatedDatabase, waitFor } from "@pps/test-support";
import type {
  Charge,
  ChannelProtocol,
  SimOperation,
  SimOperationKind,
  SimOperationRequest,
  SimPayRequest,
} from "../channels/protocol.ts";
import { adminRoutes } from "./admin-routes.ts";
import { releaseExpiredAuthorizations } from "./book.ts";
import { createChargeWriter } from "./charge-writer.ts";
import type { SimDeps } from "./deps.ts";
import { createDispatcher } from "./dispatcher.ts";
import { createFaultStore, type FaultStore } from "./faults.ts";
import { handleOperation, handleOperationQuery } from "./operations.ts";
import { handlePay } from "./pay-flow.ts";
import { applyPayerAction } from "./payer-actions.ts";

// The operation engine against real Postgres over real HTTP, through a test-only channel that speaks plain
// JSON (each test channel has a real channel's flows from CHANNEL_FLOWS), so the rules are tested apart
// from the channels' wire formats. Its own database: the dispatcher here claims due rows.

const logger = createLogger({ service: "channel-sim-ops-test", level: "warn" });
const RUN = `op${Date.now().toString(36)}`;
const MERCHANT = "m_ops";
const HOUR_MS = 3_600_000;

let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;
let db: Database;
let faults: FaultStore;
let deps: SimDeps;
let service: RunningService;
let base: string;
let receiver: Server;
let receiverUrl: string;
const received: { path: string; body: Record<string, unknown> }[] = [];
const shutdown = new AbortController();

const hex = () => randomBytes(5).toString("hex");
const ref = (tag: string) => `${RUN}_${tag}_${hex()}`;

/** A channel that answers in JSON: the neutral records themselves. */
function jsonProtocol(id: ChannelId): ChannelProtocol {
  let seq = 0;
  return {
    id,
    capabilities: { products: ["online_banking"], currencies: ["CNY", "USD"], flows: CHANNEL_FLOWS[id] },
    staleStatus: "awaiting_payer",
    newTxnId: () => `T${id.slice(0, 2)}${Date.now().toString(36)}${hex()}${++seq}`,
    validate: () => null,
    renderCharge: ({ c, created }, charge) => c.json({ charge, created }),
    renderRejection: ({ c, op }, rejection) => c.json({ op, rejection }, 409),
    renderBusy: ({ c }) => c.json({ busy: true }, 503),
    renderCallback: (charge, notificationId) => ({
      contentType: "application/json",
      headers: {},
      body: JSON.stringify({ type: "payment", notificationId, status: charge.status }),
    }),
    ackAccepted: (status) => status === 200,
    renderOperation: ({ c, op: asked, created }, op, charge) => c.json({ asked, created, op, charge }),
    renderOperationCallback: (op, charge, notificationId, at) => ({
      contentType: "application/json",
      headers: {},
      body: JSON.stringify({
        type: "operation",
        notificationId,
        at: at.toISOString(),
        opId: op.id,
        ref: op.merchantRef,
        status: op.status,
        amount: op.amount,
        refunded: charge.refundedAmount,
      }),
    }),
  };
}

const CHANNELS: ChannelId[] = ["bank_direct", "unionpay", "wechat", "alipay", "paypal", "carrier"];

type Json = Record<string, unknown>;
type Answer = { status: number; body: Json };
type OpAnswer = { status: number; op: SimOperation; charge: Charge; created: boolean; rejection?: undefined };
type Refusal = { status: number; rejection: { kind: string; message: string }; op?: undefined };

async function call(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, body: text.startsWith("{") ? (JSON.parse(text) as Json) : { text } };
}

/** Pays at once (the payer confirms inside the request): a sale is succeeded, a manual one authorized. */
async function pay(
  channel: ChannelId,
  over: { amount?: number; currency?: string; captureMode?: "auto" | "manual" } = {},
): Promise<Charge> {
  const r = await call("POST", `/${channel}/pay`, {
    merchantRef: ref("pay"),
    amount: over.amount ?? 10_000,
    currency: over.currency ?? "CNY",
    captureMode: over.captureMode ?? "auto",
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body["charge"] as Charge;
}

type OpInput = {
  kind: SimOperationKind;
  charge: Charge;
  merchantRef?: string;
  amount?: number | null;
  currency?: string | null;
  callbackUrl?: string | null;
};

async function operate(channel: ChannelId, o: OpInput, timeoutMs?: number): Promise<OpAnswer | Refusal> {
  const req: SimOperationRequest = {
    kind: o.kind,
    merchantId: MERCHANT,
    charge: { merchantRef: o.charge.merchantRef },
    merchantRef: o.merchantRef ?? ref(o.kind),
    amount: o.amount === undefined ? null : o.amount,
    currency: o.currency ?? null,
    callbackUrl: o.callbackUrl ?? null,
    reason: "test",
  };
  const r = await call("POST", `/${channel}/operations`, req, timeoutMs);
  return { status: r.status, ...(r.body as Omit<OpAnswer, "status">) } as OpAnswer | Refusal;
}

/** An accepted operation's answer, or the test fails with what came instead. */
async function accepted(channel: ChannelId, o: OpInput): Promise<OpAnswer> {
  const r = await operate(channel, o);
  if (!r.op) throw new Error(`expected ${o.kind} accepted, got ${r.status} ${JSON.stringify(r.rejection)}`);
  return r;
}

async function refused(channel: ChannelId, o: OpInput): Promise<string> {
  const r = await operate(channel, o);
  if (!r.rejection) throw new Error(`expected ${o.kind} refused, got ${r.status} ${JSON.stringify(r)}`);
  expect(r.status).toBe(409);
  return r.rejection.kind;
}

async function chargeRow(id: string) {
  const [row] = await db.$client<
    {
      status: string;
      failure_reason: string | null;
      authorized_amount: string;
      captured_amount: string;
      refunded_amount: string;
      refund_count: number;
      auth_expires_at: string | null;
      captured_at: string | null;
      paid_at: string | null;
    }[]
  >`select status, failure_reason, authorized_amount, captured_amount, refunded_amount, refund_count, auth_expires_at,
      captured_at, paid_at from sim.charges where id = ${id}`;
  if (!row) throw new Error(`no charge ${id}`);
  // The raw client hands timestamps back as text (drizzle's pass-through serializers).
  const at = (v: string | null) => (v === null ? null : new Date(v));
  return {
    ...row,
    auth_expires_at: at(row.auth_expires_at),
    captured_at: at(row.captured_at),
    paid_at: at(row.paid_at),
    authorized: Number(row.authorized_amount),
    captured: Number(row.captured_amount),
    refunded: Number(row.refunded_amount),
  };
}

async function operationsOf(chargeId: string) {
  return db.$client<
    { id: string; kind: string; merchant_ref: string; amount: string; status: string; failure_reason: string | null }[]
  >`
    select id, kind, merchant_ref, amount, status, failure_reason from sim.operations where charge_id = ${chargeId} order by created_at, id`;
}

async function age(channel: ChannelId, txnId: string, hours: number): Promise<Json> {
  const r = await call("POST", `/sim/book/${channel}/${txnId}/age`, { hours });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

async function setFaults(channel: ChannelId, body: Json) {
  const r = await call("PUT", `/sim/faults/${channel}`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

beforeAll(async () => {
  isolated = await isolatedDatabase("sim_ops");
  // Room for the concurrent requests of the race tests.
  db = createDb({ url: isolated.databaseUrl, max: 12 });
  faults = createFaultStore(db, logger);
  await faults.start();
  deps = {
    db,
    logger,
    faults,
    charges: createChargeWriter(db),
    protocols: new Map(CHANNELS.map((id) => [id, jsonProtocol(id)])),
    config: {
      publicUrl: null,
      timeoutHoldMs: 1_500,
      autoPayerDelayMs: 0,
      callbackPollMs: 25,
      callbackMaxAttempts: 3,
      callbackRetryBaseMs: 100,
      callbackTimeoutMs: 2_000,
      operationCompleteDelayMs: 200,
    },
    shutdown: shutdown.signal,
  };

  receiver = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: JSON.parse(raw) as Record<string, unknown> });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  const app = createServiceApp({ logger, metrics: createMetrics("channel-sim-ops-test"), readiness: [] });
  for (const id of CHANNELS) {
    // Looked up per request: a test may swap a channel's rules.
    const proto = () => deps.protocols.get(id)!;
    app.post(`/${id}/pay`, async (c) => {
      const b = await c.req.json<{
        merchantRef: string;
        amount: number;
        currency: string;
        captureMode: "auto" | "manual";
        later?: boolean;
      }>();
      const req: SimPayRequest = {
        merchantId: MERCHANT,
        merchantRef: b.merchantRef,
        product: "online_banking",
        amount: b.amount,
        currency: b.currency,
        subject: "operations test",
        bankCode: null,
        flow: null,
        payerPhone: null,
        callbackUrl: `${receiverUrl}/pay`,
        returnUrl: null,
        passthrough: "sim_payer=auto_confirm",
        expiresAt: new Date(Date.now() + HOUR_MS),
        extra: {},
        captureMode: b.captureMode,
      };
      // later: the automated payer acts from the dispatcher instead of inside the request.
      return handlePay(c, deps, proto(), { ok: true, value: req }, { payerActsSynchronously: !b.later });
    });
    app.post(`/${id}/operations`, async (c) =>
      handleOperation(c, deps, proto(), { ok: true, value: await c.req.json<SimOperationRequest>() }),
    );
    app.post(`/${id}/operations/query`, async (c) =>
      handleOperationQuery(c, deps, proto(), {
        ok: true,
        value: await c.req.json<{ merchantId: string; kind: SimOperationKind; merchantRef?: string; opId?: string }>(),
      }),
    );
    app.post(`/${id}/operations/garbled`, async (c) =>
      handleOperation(
        c,
        deps,
        proto(),
        { ok: false, rejection: { kind: "signature_invalid", message: "bad sign" } },
        "capture",
      ),
    );
  }
  app.route("/sim", adminRoutes(deps));
  service = await runService({
    service: "channel-sim-ops-test",
    logger,
    app,
    host: "127.0.0.1",
    port: 0,
    components: [createDispatcher(deps)],
    shutdownTimeoutMs: 5_000,
    exit: () => undefined,
    handleSignals: false,
  });
  base = `http://127.0.0.1:${service.port}`;
});

afterAll(async () => {
  shutdown.abort();
  await service?.shutdown("tests done");
  await faults?.stop();
  await new Promise((r) => receiver?.close(r));
  await closeDb(db).catch(() => undefined);
  await isolated?.close();
});

beforeEach(async () => {
  await faults.clear();
});

describe("pay with capture later", () => {
  it("a manual payment is authorized for the channel's window; a sale is captured at once", async () => {
    const before = Date.now();
    const held = await pay("paypal", { captureMode: "manual", amount: 5_000, currency: "USD" });
    expect(held.status).toBe("authorized");
    const row = await chargeRow(held.id);
    expect(row).toMatchObject({ status: "authorized", authorized: 5_000, captured: 0, captured_at: null });
    expect(row.paid_at).not.toBeNull();
    const windowMs = CHANNEL_FLOWS.paypal.authorize!.windowMs;
    expect(row.auth_expires_at!.getTime()).toBeGreaterThanOrEqual(before + windowMs);
    expect(row.auth_expires_at!.getTime()).toBeLessThanOrEqual(Date.now() + windowMs);

    const sale = await pay("paypal", { amount: 5_000, currency: "USD" });
    expect(await chargeRow(sale.id)).toMatchObject({ status: "succeeded", authorized: 5_000, captured: 5_000 });
    expect((await chargeRow(sale.id)).captured_at).not.toBeNull();
  });

  it("a manual payment paid later (the dispatcher's payer, or the payer alone) is authorized too", async () => {
    const answers = await Promise.all(
      [1, 2, 3].map(() =>
        call("POST", "/unionpay/pay", {
          merchantRef: ref("later"),
          amount: 4_200,
          currency: "CNY",
          captureMode: "manual",
          later: true,
        }),
      ),
    );
    const ids = answers.map((a) => (a.body["charge"] as Charge).id);
    expect(answers.map((a) => (a.body["charge"] as Charge).status)).toEqual(["paying", "paying", "paying"]);
    await waitFor(async () => (await Promise.all(ids.map(chargeRow))).every((r) => r.status === "authorized"), {
      timeoutMs: 5_000,
      intervalMs: 25,
      what: "the automated payers",
    });
    for (const id of ids) {
      const row = await chargeRow(id);
      expect(row).toMatchObject({ authorized: 4_200, captured: 0, captured_at: null });
      expect(row.auth_expires_at!.getTime()).toBeGreaterThan(
        Date.now() + CHANNEL_FLOWS.unionpay.authorize!.windowMs - 60_000,
      );
    }
    // The payer's one-by-one path (pages, scan, SMS code): a sale is captured, a manual one authorized.
    const sale = await call("POST", "/unionpay/pay", {
      merchantRef: ref("page"),
      amount: 300,
      currency: "CNY",
      captureMode: "auto",
    });
    const charge = sale.body["charge"] as Charge;
    await db.$client`update sim.charges set status = 'awaiting_payer', paid_at = null, captured_amount = 0, captured_at = null where id = ${charge.id}`;
    expect((await applyPayerAction(deps, charge.id, { type: "pay" })).outcome).toBe("applied");
    expect(await chargeRow(charge.id)).toMatchObject({ status: "succeeded", captured: 300, authorized: 300 });
  });

  it("a channel without pre-authorization refuses a manual payment and records nothing", async () => {
    const merchantRef = ref("nomanual");
    const r = await call("POST", "/wechat/pay", { merchantRef, amount: 100, currency: "CNY", captureMode: "manual" });
    expect(r.status).toBe(409);
    expect((r.body["rejection"] as Json)["kind"]).toBe("flow_not_supported");
    expect(await db.$client`select 1 from sim.charges where merchant_ref = ${merchantRef}`).toHaveLength(0);
  });
});

describe("capture", () => {
  it("captures part of an authorization once: a repeat returns the same capture, another number is refused", async () => {
    const held = await pay("bank_direct", { captureMode: "manual", amount: 10_000 });
    const merchantRef = ref("cap");
    const first = await accepted("bank_direct", { kind: "capture", charge: held, merchantRef, amount: 6_000 });
    expect(first).toMatchObject({ created: true, op: { kind: "capture", status: "succeeded", amount: 6_000 } });
    expect(first.charge).toMatchObject({ status: "succeeded", capturedAmount: 6_000, authorizedAmount: 10_000 });

    const repeat = await accepted("bank_direct", { kind: "capture", charge: held, merchantRef, amount: 6_000 });
    expect(repeat.created).toBe(false);
    expect(repeat.op.id).toBe(first.op.id);
    expect(await refused("bank_direct", { kind: "capture", charge: held, merchantRef, amount: 7_000 })).toBe(
      "order_conflict",
    );
    expect(await refused("bank_direct", { kind: "capture", charge: held, amount: 1_000 })).toBe("invalid_state");
    expect(await chargeRow(held.id)).toMatchObject({ status: "succeeded", captured: 6_000 });
    expect(await operationsOf(held.id)).toHaveLength(1);
  });

  it("captures the whole authorization when no amount is given, and never more than it", async () => {
    const held = await pay("alipay", { captureMode: "manual", amount: 2_500 });
    expect(await refused("alipay", { kind: "capture", charge: held, amount: 2_501 })).toBe("amount_exceeds_authorized");
    const full = await accepted("alipay", { kind: "capture", charge: held });
    expect(full.op.amount).toBe(2_500);
    expect(await chargeRow(held.id)).toMatchObject({ status: "succeeded", captured: 2_500 });
  });

  it("refuses a capture of a sale, and a capture of an unknown transaction", async () => {
    const sale = await pay("paypal", { currency: "USD" });
    expect(await refused("paypal", { kind: "capture", charge: sale })).toBe("invalid_state");
    const ghost = { ...sale, merchantRef: ref("ghost") };
    expect(await refused("paypal", { kind: "capture", charge: ghost })).toBe("not_found");
  });

  it("a channel without the flow refuses it before reading the book", async () => {
    const sale = await pay("wechat");
    expect(await refused("wechat", { kind: "capture", charge: sale })).toBe("flow_not_supported");
    expect(await refused("carrier", { kind: "void", charge: sale })).toBe("flow_not_supported");
    expect(await refused("alipay", { kind: "cancel", charge: sale })).toBe("flow_not_supported");
  });

  it("a request that did not parse is refused with the route's own kind", async () => {
    const r = await call("POST", "/paypal/operations/garbled", {});
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ op: "capture", rejection: { kind: "signature_invalid" } });
  });
});

describe("void", () => {
  it("releases an authorization in full; a partial amount, or a void after capture, is refused", async () => {
    const held = await pay("unionpay", { captureMode: "manual", amount: 3_000 });
    expect(await refused("unionpay", { kind: "void", charge: held, amount: 1_000 })).toBe("invalid_request");
    const v = await accepted("unionpay", { kind: "void", charge: held, amount: 3_000 });
    expect(v.op).toMatchObject({ status: "succeeded", amount: 3_000 });
    expect(await chargeRow(held.id)).toMatchObject({ status: "voided", captured: 0 });
    expect(await refused("unionpay", { kind: "capture", charge: held })).toBe("invalid_state");

    const captured = await pay("unionpay", { captureMode: "manual", amount: 3_000 });
    await accepted("unionpay", { kind: "capture", charge: captured });
    expect(await refused("unionpay", { kind: "void", charge: captured })).toBe("invalid_state");
  });
});

describe("authorization expiry", () => {
  it("an authorization past its window is released when touched: capture and void are refused as expired", async () => {
    const held = await pay("paypal", { captureMode: "manual", amount: 1_000, currency: "USD" });
    const windowH = CHANNEL_FLOWS.paypal.authorize!.windowMs / HOUR_MS;
    await age("paypal", held.id, windowH + 1);
    expect(await refused("paypal", { kind: "capture", charge: held })).toBe("authorization_expired");
    expect(await chargeRow(held.id)).toMatchObject({ status: "voided", failure_reason: "expired", captured: 0 });
    expect(await refused("paypal", { kind: "void", charge: held })).toBe("authorization_expired");
    expect(await operationsOf(held.id)).toHaveLength(0);
  });

  it("one just inside its window can still be captured", async () => {
    const held = await pay("paypal", { captureMode: "manual", amount: 1_000, currency: "USD" });
    await age("paypal", held.id, CHANNEL_FLOWS.paypal.authorize!.windowMs / HOUR_MS - 1);
    await accepted("paypal", { kind: "capture", charge: held });
  });

  it("the sweep releases the authorizations nobody touches, and leaves live ones", async () => {
    const stale = await pay("bank_direct", { captureMode: "manual", amount: 1_000 });
    const live = await pay("bank_direct", { captureMode: "manual", amount: 1_000 });
    await age("bank_direct", stale.id, 7 * 24 + 1);
    expect(await releaseExpiredAuthorizations(db, 1_000)).toBeGreaterThanOrEqual(1);
    expect(await chargeRow(stale.id)).toMatchObject({ status: "voided", failure_reason: "expired" });
    expect((await chargeRow(live.id)).status).toBe("authorized");
    // No callback for a release: the channels let an authorization go silently.
    const callbacks =
      await db.$client`select 1 from sim.callbacks where charge_id = ${stale.id} and operation_id is not null`;
    expect(callbacks).toHaveLength(0);
  });
});

describe("cancel (same day)", () => {
  it("reverses a capture on its settlement day, in full, once", async () => {
    const sale = await pay("bank_direct", { amount: 8_800 });
    expect(await refused("bank_direct", { kind: "cancel", charge: sale, amount: 100 })).toBe("invalid_request");
    const merchantRef = ref("cxl");
    const cxl = await accepted("bank_direct", { kind: "cancel", charge: sale, merchantRef });
    expect(cxl.op).toMatchObject({ kind: "cancel", status: "succeeded", amount: 8_800 });
    expect(await chargeRow(sale.id)).toMatchObject({ status: "canceled", refunded: 8_800, captured: 8_800 });
    expect((await accepted("bank_direct", { kind: "cancel", charge: sale, merchantRef })).created).toBe(false);
    expect(await refused("bank_direct", { kind: "cancel", charge: sale })).toBe("invalid_state");
    expect(await refused("bank_direct", { kind: "refund", charge: sale, amount: 1 })).toBe("invalid_state");
  });

  it("is refused once the capture's settlement day has closed (aged past the cut-off)", async () => {
    const sale = await pay("unionpay", { amount: 8_800 });
    await age("unionpay", sale.id, 30);
    expect(await refused("unionpay", { kind: "cancel", charge: sale })).toBe("cancel_window_closed");
    expect(await chargeRow(sale.id)).toMatchObject({ status: "succeeded", refunded: 0 });
  });

  it("is refused after a refund, even on the capture's settlement day", async () => {
    // bank_direct and unionpay refund only settled payments: a test channel with bank_direct's rules but
    // refunds at any time shows the refund rule alone.
    const anyTime = jsonProtocol("bank_direct");
    const flows = {
      ...CHANNEL_FLOWS.bank_direct,
      refund: { ...CHANNEL_FLOWS.bank_direct.refund!, afterSettlementOnly: false },
    };
    deps.protocols = new Map([
      ...deps.protocols,
      ["bank_direct", { ...anyTime, capabilities: { ...anyTime.capabilities, flows } }],
    ]);
    try {
      const sale = await pay("bank_direct");
      await accepted("bank_direct", { kind: "refund", charge: sale, amount: 100 });
      expect(await refused("bank_direct", { kind: "cancel", charge: sale })).toBe("invalid_state");
    } finally {
      deps.protocols = new Map([...deps.protocols, ["bank_direct", jsonProtocol("bank_direct")]]);
    }
  });
});

describe("refund", () => {
  it("a channel that refunds only settled payments refuses before the cut-off and refunds after it", async () => {
    const sale = await pay("bank_direct", { amount: 10_000 });
    expect(await refused("bank_direct", { kind: "refund", charge: sale, amount: 1_000 })).toBe("not_settled");
    await age("bank_direct", sale.id, 30);
    const r1 = await accepted("bank_direct", { kind: "refund", charge: sale, amount: 4_000 });
    expect(r1.op).toMatchObject({ status: "succeeded", amount: 4_000 });
    expect(r1.charge).toMatchObject({ status: "succeeded", refundedAmount: 4_000, refundCount: 1 });
    const r2 = await accepted("bank_direct", { kind: "refund", charge: sale, amount: 5_000 });
    expect(r2.charge.refundedAmount).toBe(9_000);
    expect(await refused("bank_direct", { kind: "refund", charge: sale, amount: 1_001 })).toBe(
      "amount_exceeds_refundable",
    );
    // No amount: the rest.
    const rest = await accepted("bank_direct", { kind: "refund", charge: sale });
    expect(rest.op.amount).toBe(1_000);
    expect(await refused("bank_direct", { kind: "refund", charge: sale })).toBe("amount_exceeds_refundable");
    expect(await chargeRow(sale.id)).toMatchObject({ status: "succeeded", refunded: 10_000, refund_count: 3 });
  });

  it("a repeated request number moves money once; with another amount it is a conflict", async () => {
    const sale = await pay("alipay", { amount: 10_000 });
    const merchantRef = ref("re");
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => operate("alipay", { kind: "refund", charge: sale, merchantRef, amount: 700 })),
    );
    const ids = new Set(answers.map((a) => a.op?.id));
    expect(ids.size).toBe(1);
    expect(answers.filter((a) => a.op?.status === "succeeded")).toHaveLength(10);
    expect(answers.filter((a) => (a as OpAnswer).created)).toHaveLength(1);
    expect(await refused("alipay", { kind: "refund", charge: sale, merchantRef, amount: 701 })).toBe("order_conflict");
    const other = await pay("alipay", { amount: 10_000 });
    expect(await refused("alipay", { kind: "refund", charge: other, merchantRef, amount: 700 })).toBe("order_conflict");
    expect(await chargeRow(sale.id)).toMatchObject({ refunded: 700, refund_count: 1 });
    expect(await chargeRow(other.id)).toMatchObject({ refunded: 0, refund_count: 0 });
  });

  it("50 concurrent refunds whose sum exceeds the capture never return more than was captured", async () => {
    const sale = await pay("paypal", { amount: 1_000, currency: "USD" });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => operate("paypal", { kind: "refund", charge: sale, amount: 30 })),
    );
    const ok = answers.filter((a) => a.op?.status === "succeeded");
    const no = answers.filter((a) => a.rejection);
    expect(ok).toHaveLength(33);
    expect(no).toHaveLength(17);
    expect(new Set(no.map((a) => a.rejection!.kind))).toEqual(new Set(["amount_exceeds_refundable"]));
    const row = await chargeRow(sale.id);
    expect(row).toMatchObject({ refunded: 990, refund_count: 33, captured: 1_000 });
    const ops = await operationsOf(sale.id);
    expect(ops.reduce((s, o) => s + Number(o.amount), 0)).toBe(990);
  });

  it("wechat takes at most 50 refunds per payment", async () => {
    const sale = await pay("wechat", { amount: 10_000 });
    await Promise.all(
      Array.from({ length: 50 }, async () => accepted("wechat", { kind: "refund", charge: sale, amount: 1 })),
    );
    expect(await refused("wechat", { kind: "refund", charge: sale, amount: 1 })).toBe("refund_limit_reached");
    expect(await chargeRow(sale.id)).toMatchObject({ refunded: 50, refund_count: 50 });
  });

  it("carrier refunds small amounts, once, within the bill period", async () => {
    const sale = await pay("carrier", { amount: 20_000 });
    expect(await refused("carrier", { kind: "refund", charge: sale, amount: 10_001 })).toBe("amount_limit_exceeded");
    await accepted("carrier", { kind: "refund", charge: sale, amount: 10_000 });
    expect(await refused("carrier", { kind: "refund", charge: sale, amount: 100 })).toBe("refund_limit_reached");

    // Into the previous month (Beijing): out of the bill period, though within the 31-day window.
    const other = await pay("carrier", { amount: 5_000 });
    const beijing = new Date(Date.now() + BEIJING_OFFSET_MS);
    const periodStart = Date.UTC(beijing.getUTCFullYear(), beijing.getUTCMonth(), 1) - BEIJING_OFFSET_MS;
    await age("carrier", other.id, (Date.now() - periodStart) / HOUR_MS + 1);
    expect(await refused("carrier", { kind: "refund", charge: other, amount: 100 })).toBe("refund_window_closed");
  });

  it("a refund past the channel's window is refused", async () => {
    const sale = await pay("paypal", { currency: "USD" });
    await age("paypal", sale.id, 181 * 24);
    expect(await refused("paypal", { kind: "refund", charge: sale, amount: 1 })).toBe("refund_window_closed");
  });

  it("refuses a refund of an authorization, and one in another currency", async () => {
    const held = await pay("alipay", { captureMode: "manual" });
    expect(await refused("alipay", { kind: "refund", charge: held, amount: 1 })).toBe("invalid_state");
    const sale = await pay("alipay");
    expect(await refused("alipay", { kind: "refund", charge: sale, amount: 1, currency: "USD" })).toBe(
      "invalid_request",
    );
  });
});

describe("async refunds", () => {
  it("answer processing with the amount reserved, complete by themselves and notify the callback URL", async () => {
    const sale = await pay("unionpay", { amount: 5_000 });
    await age("unionpay", sale.id, 30);
    const merchantRef = ref("are");
    const r = await accepted("unionpay", {
      kind: "refund",
      charge: sale,
      merchantRef,
      amount: 1_200,
      callbackUrl: `${receiverUrl}/op`,
    });
    expect(r.op).toMatchObject({ status: "processing", completedAt: null });
    expect(r.charge.refundedAmount).toBe(1_200);

    await waitFor(async () => received.some((m) => m.body["ref"] === merchantRef), {
      timeoutMs: 5_000,
      intervalMs: 25,
      what: "the refund's notification",
    });
    const note = received.find((m) => m.body["ref"] === merchantRef)!;
    expect(note).toMatchObject({
      path: "/op",
      body: { type: "operation", status: "succeeded", amount: 1_200, opId: r.op.id },
    });
    const [cb] = await db.$client<{ operation_id: string; merchant_ref: string; status: string }[]>`
      select operation_id, merchant_ref, status from sim.callbacks where operation_id = ${r.op.id}`;
    expect(cb).toMatchObject({ operation_id: r.op.id, merchant_ref: merchantRef });
    await waitFor(
      async () => (await call("GET", `/sim/callbacks/unionpay?ref=${merchantRef}`)).body["callbacks"] !== undefined,
    );
    const listed = (await call("GET", `/sim/callbacks/unionpay?ref=${merchantRef}`)).body["callbacks"] as Json[];
    expect(listed[0]).toMatchObject({ operationId: r.op.id, kind: "final" });

    const q = await call("POST", "/unionpay/operations/query", { merchantId: MERCHANT, kind: "refund", merchantRef });
    expect(q.body).toMatchObject({ asked: "query_operation", op: { id: r.op.id, status: "succeeded" } });
    const byId = await call("POST", "/unionpay/operations/query", {
      merchantId: MERCHANT,
      kind: "refund",
      opId: r.op.id,
    });
    expect(byId.body).toMatchObject({ op: { merchantRef } });
    expect(await chargeRow(sale.id)).toMatchObject({ refunded: 1_200, refund_count: 1 });
  });

  it("an async refund the channel declines fails when it completes, and releases what it reserved", async () => {
    const prefix = ref("decl");
    await setFaults("wechat", { faults: ["decline"], ops: ["refund"], refPrefix: prefix });
    const sale = await pay("wechat", { amount: 5_000 });
    const merchantRef = `${prefix}_1`;
    const r = await accepted("wechat", {
      kind: "refund",
      charge: sale,
      merchantRef,
      amount: 2_000,
      callbackUrl: `${receiverUrl}/op`,
    });
    expect(r.op.status).toBe("processing");
    expect(r.charge.refundedAmount).toBe(2_000);
    await waitFor(async () => received.some((m) => m.body["ref"] === merchantRef), {
      timeoutMs: 5_000,
      intervalMs: 25,
    });
    expect(received.find((m) => m.body["ref"] === merchantRef)!.body).toMatchObject({ status: "failed", refunded: 0 });
    expect(await chargeRow(sale.id)).toMatchObject({ refunded: 0, refund_count: 0 });
    const [op] = await operationsOf(sale.id);
    expect(op).toMatchObject({ status: "failed", failure_reason: "declined" });
    // The released amount can be refunded again.
    await accepted("wechat", { kind: "refund", charge: sale, amount: 5_000 });
  });

  it("an async refund without a notification URL completes all the same, told by query only", async () => {
    const sale = await pay("wechat", { amount: 5_000 });
    const r = await accepted("wechat", { kind: "refund", charge: sale, amount: 100 });
    await waitFor(async () => (await operationsOf(sale.id))[0]?.status === "succeeded", {
      timeoutMs: 5_000,
      intervalMs: 25,
    });
    expect(await db.$client`select 1 from sim.callbacks where operation_id = ${r.op.id}`).toHaveLength(0);
  });
});

describe("faults on operations", () => {
  it("a sync channel's decline records a failed operation and moves nothing", async () => {
    const prefix = ref("sdecl");
    await setFaults("paypal", { faults: "decline", ops: ["refund"], refPrefix: prefix });
    const sale = await pay("paypal", { currency: "USD" });
    const r = await accepted("paypal", { kind: "refund", charge: sale, merchantRef: `${prefix}_x`, amount: 500 });
    expect(r.op).toMatchObject({ status: "failed", failureReason: "declined" });
    expect(await chargeRow(sale.id)).toMatchObject({ refunded: 0, refund_count: 0 });
    // Other references are not affected.
    await accepted("paypal", { kind: "refund", charge: sale, amount: 500 });
  });

  it("unavailable and 5xx answer before anything is recorded", async () => {
    const prefix = ref("busy");
    const sale = await pay("alipay");
    await setFaults("alipay", { faults: ["unavailable"], ops: ["refund"], refPrefix: prefix });
    const busy = await operate("alipay", { kind: "refund", charge: sale, merchantRef: `${prefix}_a`, amount: 1 });
    expect(busy.status).toBe(503);
    await setFaults("alipay", { faults: ["5xx"], ops: ["refund"], refPrefix: prefix });
    const broken = await operate("alipay", { kind: "refund", charge: sale, merchantRef: `${prefix}_b`, amount: 1 });
    expect(broken.status).toBe(500);
    expect(await operationsOf(sale.id)).toHaveLength(0);
    expect((await chargeRow(sale.id)).refunded).toBe(0);
    // Operations other than refund are not affected by ops ["refund"].
    const held = await pay("alipay", { captureMode: "manual" });
    await accepted("alipay", { kind: "capture", charge: held, merchantRef: `${prefix}_c` });
  });

  it("timeout applies the refund and holds the answer; the query tells, a repeat answers at once", async () => {
    const prefix = ref("tmo");
    await setFaults("alipay", { faults: ["timeout"], ops: ["refund"], refPrefix: prefix });
    const sale = await pay("alipay", { amount: 3_000 });
    const merchantRef = `${prefix}_1`;
    await expect(operate("alipay", { kind: "refund", charge: sale, merchantRef, amount: 300 }, 300)).rejects.toThrow();
    await waitFor(async () => (await chargeRow(sale.id)).refunded === 300, { timeoutMs: 2_000, intervalMs: 25 });
    const q = await call("POST", "/alipay/operations/query", { merchantId: MERCHANT, kind: "refund", merchantRef });
    expect(q.body).toMatchObject({ op: { status: "succeeded", amount: 300 } });
    const started = Date.now();
    const repeat = await accepted("alipay", { kind: "refund", charge: sale, merchantRef, amount: 300 });
    expect(repeat.created).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await chargeRow(sale.id)).toMatchObject({ refunded: 300, refund_count: 1 });
  });

  it("5xx_after_charge applies the capture and answers 500", async () => {
    const prefix = ref("5ac");
    await setFaults("paypal", { faults: ["5xx_after_charge"], ops: ["capture"], refPrefix: prefix });
    const held = await pay("paypal", { captureMode: "manual", currency: "USD", amount: 900 });
    const r = await operate("paypal", { kind: "capture", charge: held, merchantRef: `${prefix}_1` });
    expect(r.status).toBe(500);
    expect(await chargeRow(held.id)).toMatchObject({ status: "succeeded", captured: 900 });
  });

  it("query_operation faults act on operation queries; an unknown operation is not_found", async () => {
    const prefix = ref("qf");
    const sale = await pay("paypal", { currency: "USD" });
    const merchantRef = `${prefix}_1`;
    await accepted("paypal", { kind: "refund", charge: sale, merchantRef, amount: 10 });
    await setFaults("paypal", { faults: ["unavailable"], ops: ["query_operation"], refPrefix: prefix });
    const busy = await call("POST", "/paypal/operations/query", { merchantId: MERCHANT, kind: "refund", merchantRef });
    expect(busy.status).toBe(503);
    await faults.clear("paypal");
    const wrongKind = await call("POST", "/paypal/operations/query", {
      merchantId: MERCHANT,
      kind: "capture",
      merchantRef,
    });
    expect(wrongKind.body).toMatchObject({ rejection: { kind: "not_found" } });
    const unknown = await call("POST", "/paypal/operations/query", {
      merchantId: MERCHANT,
      kind: "refund",
      merchantRef: ref("none"),
    });
    expect(unknown.body).toMatchObject({ op: "query_operation", rejection: { kind: "not_found" } });
  });

  it("operation ops are accepted by the fault API, unknown ones refused", async () => {
    const ok = await call("PUT", "/sim/faults/bank_direct", {
      faults: ["latency:10"],
      ops: ["capture", "void", "cancel", "refund", "query_operation"],
      refPrefix: ref("ops"),
    });
    expect(ok.status).toBe(200);
    const bad = await call("PUT", "/sim/faults/bank_direct", { faults: ["latency:10"], ops: ["reverse"] });
    expect(bad.status).toBe(400);
  });
});

describe("the book and its clock", () => {
  it("ageing moves the transaction and its operations into the past; the book shows amounts and operations", async () => {
    const held = await pay("bank_direct", { captureMode: "manual", amount: 4_000 });
    const cap = await accepted("bank_direct", { kind: "capture", charge: held, amount: 3_000 });
    const before = await chargeRow(held.id);
    const aged = await age("bank_direct", held.id, 30);
    const after = await chargeRow(held.id);
    expect(before.captured_at!.getTime() - after.captured_at!.getTime()).toBe(30 * HOUR_MS);
    expect(before.paid_at!.getTime() - after.paid_at!.getTime()).toBe(30 * HOUR_MS);
    expect(before.auth_expires_at!.getTime() - after.auth_expires_at!.getTime()).toBe(30 * HOUR_MS);
    expect(aged).toMatchObject({ txnId: held.id, status: "succeeded", capturedAmount: 3_000, authorizedAmount: 4_000 });
    const [op] = await db.$client<
      { created_at: string }[]
    >`select created_at from sim.operations where id = ${cap.op.id}`;
    expect(Date.now() - Date.parse(op!.created_at)).toBeGreaterThan(30 * HOUR_MS - 60_000);

    await accepted("bank_direct", { kind: "refund", charge: held, amount: 1_000 });
    const book = await call("GET", `/sim/book/bank_direct?ref=${held.merchantRef}`);
    const [entry] = book.body["entries"] as Json[];
    expect(entry).toMatchObject({
      txnId: held.id,
      captureMode: "manual",
      authorizedAmount: 4_000,
      capturedAmount: 3_000,
      refundedAmount: 1_000,
      refundableAmount: 2_000,
      refundCount: 1,
    });
    expect((entry!["operations"] as Json[]).map((o) => [o["kind"], o["amount"], o["status"]])).toEqual([
      ["capture", 3_000, "succeeded"],
      ["refund", 1_000, "succeeded"],
    ]);
  });

  it("ageing an unknown transaction is a 404", async () => {
    const r = await call("POST", "/sim/book/bank_direct/NOPE/age", { hours: 1 });
    expect(r.status).toBe(404);
  });
});
