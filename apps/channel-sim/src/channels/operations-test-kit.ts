import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect } from "vitest";
import {
  channelConfigFromEnv,
  createChannelAdapters,
  type ChannelAdapter,
  type ChannelId,
  type OperationFailureCode,
  type OperationRequest,
  type ParsedCallback,
  type PayRequest,
} from "@pps/channels";
import { isolatedDatabase, startApp, waitFor, type AppProcess } from "@pps/test-support";

// What the channels' *-operations integration tests share: the real channel-sim process on a database of the
// test file's own, the channel's real adapter pointed at it, a local server that receives the channel's
// callbacks and parses them with the adapter, and the simulator's controls (book, ageing, faults).

export const HOUR_MS = 3_600_000;
export const DAY_HOURS = 24;

export type Received = { rawBody: string; parsed: ParsedCallback; at: number };
/** A payment the channel took (or holds): our request, and the channel's transaction id. */
export type Paid = { req: PayRequest; txnId: string };
export type OperationKind = OperationRequest["kind"];
export type FaultSetting = { faults: string[]; ops: string[]; refPrefix: string };

/** An entry of GET /sim/book/{channel}, as far as the tests read it. */
export type BookEntry = {
  status: string;
  amount: number;
  captureMode: string;
  authorizedAmount: number;
  authExpiresAt: string | null;
  capturedAmount: number;
  refundedAmount: number;
  refundCount: number;
  operations: { kind: string; ref: string; amount: number; status: string; failureReason: string | null }[];
};

/** What a channel's pay requests carry of their own; the rest is the kit's. */
export type ChannelPayFields = Pick<PayRequest, "product" | "amount" | "currency" | "subject" | "method" | "metadata"> &
  Partial<PayRequest>;

export type OperationsKitOptions = {
  channel: ChannelId;
  /** Names the test file's own database. */
  database: string;
  /** Starts every id the file makes (with the time), so that its faults' refPrefix touch its requests only. */
  idPrefix: string;
  /** Between the run, a tag and a number in ids (`next`): none by default; UnionPay's order ids are alphanumeric. */
  idSeparator?: string;
  /** The id tag of an operation of this kind (`operation`) [the kind]. */
  operationTag?: (kind: OperationKind) => string;
  /** The reason operation requests give. */
  operationReason: string | null;
  /** Where on the receiver pay requests and operations send their callbacks [/cb]. */
  callbackPath?: string;
  /** channel-sim variables beside its database, the 25 ms callback poll and the shutdown timeout. */
  simEnv?: Record<string, string>;
};

/**
 * Starts channel-sim (its own database), the channel's adapter and the callback receiver before the file's
 * tests (beforeAll), and stops them after (afterAll, expecting a clean exit). Call it at the top of the file.
 */
export function operationsKit(options: OperationsKitOptions) {
  const { channel } = options;
  const run = `${options.idPrefix}${Date.now().toString(36)}`;
  const separator = options.idSeparator ?? "";
  const operationTag = options.operationTag ?? ((kind: OperationKind) => kind);
  const received: Received[] = [];

  let seq = 0;
  let isolated: Awaited<ReturnType<typeof isolatedDatabase>> | undefined;
  let receiver: Server | undefined;
  let receiverUrl: string | undefined;
  let sim: AppProcess | undefined;
  let adapter: ChannelAdapter | undefined;

  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`operations kit: ${what} is not started (used outside the tests?)`);
    return value;
  };
  const simUrl = () => started(sim, "channel-sim").url;

  /** A fresh id of this run: run, tag and a number. */
  const next = (tag: string) => `${run}${separator}${tag}${separator}${++seq}`;

  const callbackUrl = (path = options.callbackPath ?? "/cb") => `${started(receiverUrl, "the receiver")}${path}`;

  /** A pay request of a payer paying at once within the hour; its ids from `next` unless the fields name them. */
  function payRequest(fields: ChannelPayFields, over: Partial<PayRequest> = {}): PayRequest {
    const attemptId = fields.attemptId ?? next("at");
    return {
      paymentId: `pay_${attemptId}`,
      attemptId,
      payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: null },
      returnUrl: "https://merchant.test/return",
      callbackUrl: callbackUrl(),
      expiresAt: new Date(Date.now() + HOUR_MS).toISOString(),
      captureMethod: "automatic",
      ...fields,
      ...over,
    };
  }

  /** An operation on a payment, as the router asks for it, under a fresh operation id unless `over` names one. */
  function operation(
    paid: Paid,
    kind: OperationKind,
    amount = paid.req.amount,
    over: Partial<OperationRequest> = {},
  ): OperationRequest {
    return {
      kind,
      operationId: next(operationTag(kind)),
      paymentId: paid.req.paymentId,
      attemptId: paid.req.attemptId,
      channelTxnId: paid.txnId,
      amount,
      currency: paid.req.currency,
      paymentAmount: paid.req.amount,
      reason: options.operationReason,
      callbackUrl: callbackUrl(),
      ...over,
    };
  }

  /** Asks the channel for the operation and expects it refused: failed, with this code. */
  async function expectRefused(request: OperationRequest, code: OperationFailureCode): Promise<void> {
    expect(await started(adapter, "the adapter").operate(request)).toMatchObject({ status: "failed", code });
  }

  /**
   * Pays where the channel first asks the payer to act (requires_action): lets the payer act on the channel's
   * transaction, then waits for the callback that tells the result.
   */
  async function payWithPayer(req: PayRequest, payerActs: (txnId: string) => Promise<void>): Promise<Paid> {
    const out = await started(adapter, "the adapter").pay(req);
    expect(out.status).toBe("requires_action");
    const txnId = (out as { channelTxnId: string }).channelTxnId;
    await payerActs(txnId);
    await waitCallbacks(req.attemptId, 1, `the callback of ${req.attemptId}`);
    return { req, txnId };
  }

  /** The callbacks received so far whose body contains `match`, in the order they came. */
  const callbacksOf = (match: string) => received.filter((r) => r.rawBody.includes(match));

  /** Waits for `n` callbacks whose body contains `match`; returns those received by then. */
  async function waitCallbacks(match: string, n = 1, what = `${n} callback(s) with ${match}`): Promise<Received[]> {
    await waitFor(async () => callbacksOf(match).length >= n, { timeoutMs: 30_000, intervalMs: 25, what });
    return callbacksOf(match);
  }

  const txnIdOf = (of: string | Paid) => (typeof of === "string" ? of : of.txnId);
  const refOf = (of: string | Paid) => (typeof of === "string" ? of : of.req.attemptId);

  /** The channel's book entry of one payment (by our attempt id), expecting exactly one. */
  async function book(of: string | Paid): Promise<BookEntry> {
    const res = await fetch(`${simUrl()}/sim/book/${channel}?ref=${encodeURIComponent(refOf(of))}`);
    const { entries } = (await res.json()) as { entries: BookEntry[] };
    expect(entries).toHaveLength(1);
    return entries[0]!;
  }

  /** Moves a transaction (by the channel's txn id) `hours` into the past, for the channel's windows and calendar. */
  async function age(of: string | Paid, hours: number): Promise<void> {
    const res = await fetch(`${simUrl()}/sim/book/${channel}/${txnIdOf(of)}/age`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hours }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }

  /** Replaces the channel's faults. */
  async function setFaults(setting: FaultSetting): Promise<void> {
    const res = await fetch(`${simUrl()}/sim/faults/${channel}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(setting),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }

  async function clearFaults(): Promise<void> {
    expect((await fetch(`${simUrl()}/sim/faults/${channel}`, { method: "DELETE" })).status).toBe(204);
  }

  /** Runs `body` with the channel's faults set, and clears them after, whatever happened. */
  async function withFaults<T>(setting: FaultSetting, body: () => Promise<T>): Promise<T> {
    await setFaults(setting);
    try {
      return await body();
    } finally {
      await clearFaults();
    }
  }

  beforeAll(async () => {
    isolated = await isolatedDatabase(options.database);
    const server = createServer((req, res) => {
      let rawBody = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (rawBody += chunk));
      req.on("end", () => {
        const headers = Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]),
        );
        const parsed = started(adapter, "the adapter").parseCallback({ headers, rawBody });
        received.push({ rawBody, parsed, at: Date.now() });
        const ack = started(adapter, "the adapter").callbackAck(parsed.ok || parsed.reason === "not_final");
        res.writeHead(ack.status, { "content-type": ack.contentType }).end(ack.body);
      });
    });
    receiver = server;
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sim = await startApp("channel-sim", {
      DATABASE_URL: isolated.databaseUrl,
      SIM_CALLBACK_POLL_MS: "25",
      SHUTDOWN_TIMEOUT_MS: "10000",
      ...options.simEnv,
    });
    adapter = createChannelAdapters(channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url })).get(channel)!;
  });

  afterAll(async () => {
    const stopped = await sim?.stop();
    receiver?.close();
    await isolated?.close();
    expect(stopped?.code).toBe(0);
  });

  return {
    run,
    received,
    get sim() {
      return started(sim, "channel-sim");
    },
    get adapter() {
      return started(adapter, "the adapter");
    },
    /** The test file's own database, the one channel-sim writes. */
    get db() {
      return started(isolated, "the database").db;
    },
    next,
    callbackUrl,
    payRequest,
    payWithPayer,
    operation,
    expectRefused,
    callbacksOf,
    waitCallbacks,
    book,
    age,
    setFaults,
    clearFaults,
    withFaults,
  };
}

export type OperationsKit = ReturnType<typeof operationsKit>;
