import { randomBytes, randomUUID } from "node:crypto";
import { cp, mkdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { AssignerProtocol, Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, createDb, type Database } from "@pps/db";
import { type CreatePaymentParams, PaymentsApiError, PaymentsClient } from "@pps/sdk";
import {
  type AppProcess,
  createTestMerchant,
  TEST_DATABASE_URL,
  type TcpProxy,
  type TestMerchant,
  tcpProxy,
} from "@pps/test-support";
import { type Platform, type RestartableApp, startPlatform } from "../support/platform.ts";
import { type PrivateKafka, startPrivateKafka } from "../support/private-kafka.ts";

/**
 * The fault suite: all six apps as real processes on a Kafka broker of this file's own and a database reached
 * through a TCP proxy, under a steady load of payments (and a partial refund of each wallet payment that
 * succeeded), while one component after another fails: the notifier with channel-sim (SIGKILL, then restarted),
 * the database (unreachable ~5 s), payment-api, the router, risk-stub (SIGKILL, then restarted) and the broker
 * (stopped ~8 s). Once
 * the load stops and the platform drained, the books must balance: every payment and operation final, none
 * charged twice, our amounts equal to the channel's book, one notification per final event and each
 * delivered, every outbox empty, every consumer group caught up. Only invariants are asserted, never
 * latencies; the time each fault's payments took to end is printed for the notes.
 *
 * FAULTS_ONLY=<names> (comma-separated parts of fault names, e.g. `broker,database`) runs only those faults;
 * FAULTS_LOG_DIR=<dir> keeps every app's output and the broker's logs there.
 */
const RATE_PER_SECOND = 15;
const GAP_MS = 3_000;
const BROKER_DOWN_MS = 8_000;
const DATABASE_DOWN_MS = 5_000;
/**
 * How long the platform may take to settle once the load stops. A pay or refund request left in doubt by
 * channel-sim's death or its database outage, of which the channel has no record, is failed by the router
 * 2 minutes after it was sent (see the faults' order below); everything else settles within seconds.
 */
const DRAIN_MS = 150_000;
/** The channel of the failed attempt the router records when no channel could take a payment. */
const NO_CHANNEL = "none";
const TERMINAL = ["succeeded", "failed", "expired", "canceled"];
/** The final events merchants must hear of exactly once. */
const FINAL_EVENTS = [
  "payment.succeeded",
  "payment.failed",
  "payment.expired",
  "payment.canceled",
  "payment.late_succeeded",
  "refund.succeeded",
  "refund.failed",
];

let kafka: PrivateKafka;
let proxy: TcpProxy;
let platform: Platform;
let db: Database;
let merchant: TestMerchant;
let client: PaymentsClient;
let receiver: Receiver;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exits the test did not cause (an app that died on its own), with the end of the process's output. */
const unexpectedExits: string[] = [];
const killing = new Set<AppProcess>();
function watch(app: AppProcess): void {
  void app.exited.then((code) => {
    if (killing.has(app)) return;
    unexpectedExits.push(`${app.name} exited with ${code ?? app.child.signalCode}:\n${app.output().slice(-3_000)}`);
  });
}

/** Kills one app with SIGKILL and starts it again (same port), keeping watch on the new process. */
async function killAndRestart(name: RestartableApp): Promise<void> {
  killing.add(platform[name]);
  watch(await platform.restart(name, "SIGKILL"));
}

type Delivery = { notificationId: string; eventId: string; type: string };
type Receiver = { url: string; deliveries: Delivery[]; close: () => Promise<void> };

/** The merchant's notify_url: answers 200 to everything and records each delivery. */
async function startReceiver(): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: string; type: string };
        deliveries.push({
          notificationId: String(req.headers["x-notification-id"] ?? ""),
          eventId: body.id,
          type: body.type,
        });
      } catch {
        deliveries.push({ notificationId: String(req.headers["x-notification-id"] ?? ""), eventId: "", type: "" });
      }
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    deliveries,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Runs fn over the items, at most `limit` at a time. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** A payment the simulated payer completes by itself: bank CMB, WeChat QR or Alipay QR in turn. */
function payment(i: number): CreatePaymentParams {
  const kind = i % 3;
  return {
    merchant_order_no: `flt_${randomBytes(8).toString("hex")}`,
    product: kind === 0 ? "online_banking" : "platform_pay",
    amount: 100 + ((i * 37) % 4_900),
    currency: "CNY",
    subject: "Fault suite order",
    payer: { id: `u_${randomBytes(6).toString("hex")}` },
    method: kind === 0 ? { bank_code: "CMB" } : { wallet: kind === 1 ? "wechat" : "alipay", flow: "qr_code" },
    notify_url: receiver.url,
    return_url: "https://shop.example/return",
    metadata: { sim_payer: "auto_confirm" },
  };
}

const tally = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
const errorKey = (err: unknown) => {
  if (err instanceof PaymentsApiError) return `${err.status} ${err.code}`;
  const e = err as Error & { cause?: { code?: string; message?: string } };
  // fetch's TypeError says what failed in its cause (ECONNREFUSED, ECONNRESET, UND_ERR_SOCKET, …).
  return [e.name ?? "error", e.cause?.code ?? e.cause?.message].filter(Boolean).join(" ");
};

/**
 * The load: about RATE_PER_SECOND new payments a second (open loop, a bounded number in flight), and a
 * partial refund of every wallet payment that succeeded, retried with the same key and refund number while
 * its outcome is unknown (a network error, a 5xx, a 409 for a request still in progress), as a merchant would.
 */
function startLoad() {
  const stats = { sent: 0, created: 0, skipped: 0, createErrors: new Map<string, number>() };
  const refunds = new Map<string, { amount: number; key: string; no: string; state: "open" | "sending" | "done" }>();
  const refundStats = { accepted: 0, refused: new Map<string, number>(), retried: 0 };
  const inflight = new Set<Promise<unknown>>();
  let running = true;

  const creates = (async () => {
    const started = performance.now();
    for (let i = 0; running; i++) {
      const wait = started + (i * 1_000) / RATE_PER_SECOND - performance.now();
      if (wait > 0) await sleep(wait);
      if (inflight.size >= 120) {
        stats.skipped++;
        continue;
      }
      stats.sent++;
      const p = client
        .createPayment(payment(i), { idempotencyKey: randomUUID() })
        .then(() => stats.created++)
        .catch((err: unknown) => tally(stats.createErrors, errorKey(err)))
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
  })();

  const sendRefund = async (paymentId: string) => {
    const r = refunds.get(paymentId)!;
    r.state = "sending";
    try {
      await client.refundPayment(paymentId, { merchant_refund_no: r.no, amount: r.amount }, { idempotencyKey: r.key });
      refundStats.accepted++;
      r.state = "done";
    } catch (err) {
      const definitive = err instanceof PaymentsApiError && err.status < 500 && ![409, 429].includes(err.status);
      if (definitive) {
        tally(refundStats.refused, errorKey(err));
        r.state = "done";
      } else {
        refundStats.retried++;
        r.state = "open";
      }
    }
  };

  const refunder = (async () => {
    while (running) {
      await sleep(700);
      const rows = await db.$client<{ id: string; captured: number }[]>`
        select id, amount_captured::int as captured from payment.payments
        where merchant_id = ${merchant.merchantId} and status = 'succeeded' and channel in ('alipay', 'wechat')`.catch(
        () => [],
      );
      for (const row of rows)
        if (!refunds.has(row.id))
          refunds.set(row.id, {
            amount: Math.max(1, Math.floor(row.captured * 0.3)),
            key: randomUUID(),
            no: `R${randomBytes(6).toString("hex")}`,
            state: "open",
          });
      for (const [paymentId, r] of refunds) {
        if (r.state !== "open" || inflight.size >= 150) continue;
        const p = sendRefund(paymentId).finally(() => inflight.delete(p));
        inflight.add(p);
      }
    }
  })();

  return {
    stats,
    refundStats,
    async stop() {
      running = false;
      await Promise.all([creates, refunder]);
      await Promise.allSettled([...inflight]);
    },
  };
}

type Window = { name: string; start: number; injectedMs?: number; readyMs?: number };

/** The isolated prefix's consumer groups: per group and topic partition, what is still to be read. */
async function consumerLag(): Promise<{ groups: string[]; behind: string[] }> {
  const admin = new Kafka({ brokers: [kafka.brokers], clientId: "faults-lag", logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const groups = (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((g) => g.startsWith(platform.topicPrefix))
      .sort();
    const described = await admin.describeGroups(groups);
    const behind: string[] = [];
    for (const groupId of groups) {
      const subscribed = new Set<string>();
      for (const member of described.groups.find((g) => g.groupId === groupId)?.members ?? []) {
        const meta = AssignerProtocol.MemberMetadata.decode(member.memberMetadata);
        for (const t of meta?.topics ?? []) subscribed.add(t);
      }
      const committed = await admin.fetchOffsets({ groupId });
      for (const c of committed) subscribed.add(c.topic);
      for (const topic of subscribed) {
        const offsets = new Map(
          (committed.find((c) => c.topic === topic)?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
        );
        for (const end of await admin.fetchTopicOffsets(topic)) {
          const at = offsets.get(end.partition) ?? -1;
          const from = at < 0 ? Number(end.low) : at;
          if (from < Number(end.high)) behind.push(`${groupId} ${topic}[${end.partition}] at ${at} of ${end.high}`);
        }
      }
    }
    return { groups, behind };
  } finally {
    await admin.disconnect();
  }
}

/** What is still on its way: counts that are all 0 once the platform has drained. */
async function backlog(): Promise<Record<string, number>> {
  const m = merchant.merchantId;
  const [row] = await db.$client<Record<string, number>[]>`select
    (select count(*)::int from payment.payments where merchant_id = ${m} and status <> all(${TERMINAL})) as open_payments,
    (select count(*)::int from payment.payment_operations where merchant_id = ${m} and status = 'pending') as pending_operations,
    (select coalesce(sum(amount_refund_pending), 0)::int from payment.payments where merchant_id = ${m}) as refund_pending,
    (select count(*)::int from payment.outbox) as payment_outbox,
    (select count(*)::int from routing.outbox) as routing_outbox,
    (select count(*)::int from risk.outbox) as risk_outbox,
    (select count(*)::int from notify.outbox) as notify_outbox,
    (select count(*)::int from notify.notifications where status in ('pending', 'delivering')) as undelivered,
    (select count(*)::int from sim.charges where status in ('paying')) as sim_paying`;
  const lag = await consumerLag().catch(() => ({ behind: ["(broker not answering)"] }));
  return { ...row!, consumer_lag: lag.behind.length };
}

/** Where each operation still pending stands: ours, the router's call, the channel's record and its callbacks. */
async function pendingOperations() {
  return db.$client`
    select o.id, o.channel, o.created_at, o.updated_at,
      (select row_to_json(c) from (select status, query_count, next_query_at, last_error, updated_at
        from routing.operation_calls where id = o.id) c) as call,
      (select json_agg(s) from (select status, complete_at, completed_at from sim.operations where merchant_ref = o.id) s) as sim,
      (select json_agg(b) from (select status, attempts, due_at, last_error, delivered_at from sim.callbacks
        where operation_id in (select id from sim.operations where merchant_ref = o.id)) b) as callbacks
    from payment.payment_operations o where o.merchant_id = ${merchant.merchantId} and o.status = 'pending'
    order by o.created_at limit 10`;
}

/** The apps' /readyz answers that are not 200, for the log while the platform drains. */
/** Every app of the platform as it runs now (restarts replace their processes). */
const everyApp = () => [
  platform.api,
  platform.router,
  platform.risk,
  platform.sim,
  platform.notifier,
  platform.reconciler,
];

async function notReady(): Promise<string> {
  const apps = everyApp();
  const answers = await Promise.all(
    apps.map(async (a) => {
      const res = await fetch(`${a.url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch((e: Error) => e);
      if (res instanceof Error) return `${a.name}: ${res.message}`;
      return res.ok ? null : `${a.name}: ${res.status} ${await res.text()}`;
    }),
  );
  return answers.filter((a) => a !== null).join("; ") || "every app ready";
}

beforeAll(async () => {
  kafka = await startPrivateKafka();
  const pg = new URL(TEST_DATABASE_URL);
  proxy = await tcpProxy({ target: { host: pg.hostname, port: Number(pg.port || 5432) } });
  receiver = await startReceiver();
  platform = await startPlatform({
    kafkaBrokers: kafka.brokers,
    appDatabaseUrl: (url) => {
      const viaProxy = new URL(url);
      viaProxy.host = `${proxy.host}:${proxy.port}`;
      return viaProxy.toString();
    },
    // A short retry schedule and attempt limit, so a delivery a fault broke is tried again within the drain.
    notifierEnv: { NOTIFY_SCHEDULE_SECONDS: "0,1,2,4,8,15,30,60", NOTIFY_TIMEOUT_MS: "5000" },
  });
  for (const app of everyApp()) watch(app);
  db = createDb({ url: platform.databaseUrl, max: 4, applicationName: "faults-test" });
  merchant = await createTestMerchant(platform.api.url, { products: ["online_banking", "platform_pay"] });
  client = new PaymentsClient({ baseUrl: platform.api.url, credentials: merchant });
}, 240_000);

afterAll(async () => {
  // FAULTS_LOG_DIR=<dir>: each app's output (the last of it), to read after a failure.
  const logDir = process.env.FAULTS_LOG_DIR;
  if (logDir && platform) {
    await mkdir(logDir, { recursive: true });
    for (const a of everyApp()) await writeFile(join(logDir, `${a.name}.log`), a.output());
    if (kafka) await cp(kafka.logDir, join(logDir, "kafka"), { recursive: true }).catch(() => undefined);
  }
  await closeDb(db).catch(() => undefined);
  if (platform) for (const a of everyApp()) killing.add(a);
  await platform?.stop();
  await receiver?.close();
  await proxy?.close();
  await kafka?.close();
}, 120_000);

describe("the platform under faults, one at a time, under steady load", () => {
  it("keeps every invariant: final states, charged once, agrees with the book, notified once, nothing left behind", async () => {
    const load = startLoad();
    const windows: Window[] = [{ name: "baseline (no fault)", start: Date.now() }];
    const only = process.env.FAULTS_ONLY?.split(",");
    const fault = async (name: string, inject: () => Promise<void>) => {
      if (only && !only.some((o) => name.includes(o))) return;
      const w: Window = { name, start: Date.now() };
      windows.push(w);
      console.log(`faults: ${new Date(w.start).toISOString()} ${name}`);
      await inject();
      w.injectedMs = Date.now() - w.start;
      // Every app's /readyz answers 200 again (polled; at most the gap plus 60 s is waited for).
      const readyBy = Date.now() + 60_000;
      while ((await notReady()) !== "every app ready" && Date.now() < readyBy) await sleep(250);
      w.readyMs = Date.now() - w.start;
      await sleep(GAP_MS);
    };

    await sleep(GAP_MS);
    // The faults that leave channel calls in doubt come first. A pay or refund request channel-sim was handling
    // when it died, or answered 500 while its database was unreachable, has no record at the channel; the
    // router fails it once the channel still has none 2 minutes after it was sent (NOT_FOUND_GIVE_UP_MS: the
    // request might still arrive; its query schedule looks again at exactly that moment). Those are
    // the operations and payments that take longest to end, so they start as early as possible.
    await fault("SIGKILL notifier + channel-sim", async () => {
      await Promise.all([killAndRestart("notifier"), killAndRestart("sim")]);
    });
    await fault(`database unreachable ${DATABASE_DOWN_MS / 1000} s`, async () => {
      proxy.pause("refuse");
      await sleep(DATABASE_DOWN_MS);
      proxy.resume();
    });
    await fault("SIGKILL payment-api", () => killAndRestart("api"));
    await fault("SIGKILL router", () => killAndRestart("router"));
    await fault("SIGKILL risk-stub", () => killAndRestart("risk"));
    await fault(`broker stopped ~${BROKER_DOWN_MS / 1000} s`, async () => {
      const stopped = Date.now();
      await kafka.stop();
      await sleep(Math.max(0, BROKER_DOWN_MS - (Date.now() - stopped)));
      await kafka.start();
    });
    const loadEnded = Date.now();
    await load.stop();

    // Drain: poll until nothing is on its way any more (or give up, and let the invariants say what is left).
    const drainStarted = Date.now();
    let left: Record<string, number> = {};
    let polls = 0;
    for (;;) {
      left = await backlog().catch((err: Error) => ({ [`error: ${err.message}`]: 1 }));
      if (Object.values(left).every((n) => n === 0)) break;
      if (Date.now() - drainStarted > DRAIN_MS) break;
      if (++polls % 10 === 0) console.log(`faults: draining, left ${JSON.stringify(left)}; ${await notReady()}`);
      await sleep(1_000);
    }
    const drainMs = Date.now() - drainStarted;
    if (left.pending_operations) console.log(`faults: pending operations ${JSON.stringify(await pendingOperations())}`);
    console.log(
      `faults: load ${JSON.stringify({ ...load.stats, createErrors: Object.fromEntries(load.stats.createErrors) })}; ` +
        `refunds ${JSON.stringify({ ...load.refundStats, refused: Object.fromEntries(load.refundStats.refused) })}; ` +
        `drained in ${drainMs} ms; left ${JSON.stringify(left)}`,
    );

    // The merchant's view of every payment of the run (those whose create answer was lost included).
    const ids = (
      await db.$client<{ id: string }[]>`select id from payment.payments where merchant_id = ${merchant.merchantId}`
    ).map((r) => r.id);
    const payments = await mapLimit(ids, 8, (id) => client.getPayment(id));
    expect(payments.length).toBeGreaterThan(RATE_PER_SECOND * 5);

    // Per-fault figures for the notes: payments created in each fault's window (until the next fault), the
    // longest time from creation to a final state.
    const ends = await db.$client<
      { id: string; created: number; done: number | null; status: string; failure: string | null; why: string | null }[]
    >`
      select p.id, p.status, p.failure_code as failure, p.failure_message as why, (extract(epoch from p.created_at) * 1000)::float8 as created,
        (extract(epoch from min(t.at)) * 1000)::float8 as done from payment.payments p
      left join payment.payment_transitions t on t.payment_id = p.id and t.operation_id is null and t.to_status = any(${TERMINAL})
      where p.merchant_id = ${merchant.merchantId} group by p.id, p.created_at, p.status, p.failure_code, p.failure_message`;
    windows.forEach((w, i) => {
      // The last window takes in the payments whose create was answered (and written) after the load stopped.
      const until = windows[i + 1]?.start ?? Number.POSITIVE_INFINITY;
      const inWindow = ends.filter((e) => e.created >= w.start && e.created < until);
      const longest = Math.max(0, ...inWindow.map((e) => (e.done ?? Date.now()) - e.created));
      const open = inWindow.filter((e) => e.done === null).length;
      // Failures by code: the load's payments succeed at the channel unless something went wrong, so every
      // failure in a window is the fault's (or the baseline's, which is the floor to compare with).
      const failures = new Map<string, number>();
      const why = new Set<string>();
      for (const e of inWindow)
        if (e.status === "failed") {
          tally(failures, e.failure ?? "none");
          if (why.size < 3 && e.why) why.add(`${e.failure}: ${e.why}`);
        }
      const failed = [...failures.values()].reduce((a, b) => a + b, 0);
      const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
      // The longest stall: the longest time in the window in which no payment at all (of any window) reached
      // a final state, counted from the fault's start. Under a steady load that is how long payments stopped.
      const windowEnd = windows[i + 1]?.start ?? loadEnded;
      const finals = ends
        .map((e) => e.done)
        .filter((d): d is number => d !== null && d >= w.start && d <= windowEnd)
        .sort((a, b) => a - b);
      let stall = 0;
      let previous = w.start;
      for (const d of [...finals, windowEnd]) {
        stall = Math.max(stall, d - previous);
        previous = d;
      }
      console.log(
        `fault "${w.name}": ${inWindow.length} payments created in its ${seconds((windows[i + 1]?.start ?? loadEnded) - w.start)} window, ` +
          `${failed} failed${failed ? ` ${JSON.stringify(Object.fromEntries(failures))}` : ""}, ` +
          `longest creation-to-final ${seconds(longest)}, longest stall ${seconds(stall)}` +
          (w.injectedMs !== undefined ? `, fault over after ${seconds(w.injectedMs)}` : "") +
          (w.readyMs !== undefined ? `, every app ready after ${seconds(w.readyMs)}` : "") +
          (open ? `, ${open} not final` : "") +
          (why.size ? `; why: ${[...why].join(" | ")}` : ""),
      );
    });

    // 0. Nothing died on its own: only the processes the test killed exited, and every replacement still runs.
    expect(unexpectedExits, "apps that exited on their own").toEqual([]);
    const apps = everyApp();
    expect(
      apps.filter((a) => a.child.exitCode !== null || a.child.signalCode !== null).map((a) => a.name),
      "apps not running",
    ).toEqual([]);

    // 1. Every payment final, every operation succeeded or failed.
    const statusCounts = new Map<string, number>();
    for (const p of payments) tally(statusCounts, p.status);
    console.log(`faults: payments by status ${JSON.stringify(Object.fromEntries(statusCounts))}`);
    const notFinal = payments.filter((p) => !TERMINAL.includes(p.status));
    expect(
      notFinal.map((p) => `${p.id} ${p.status} ${JSON.stringify(p.attempts.map((a) => [a.id, a.outcome]))}`),
      "payments not final",
    ).toEqual([]);
    const openOps = payments.flatMap((p) =>
      p.operations.filter((o) => o.status !== "succeeded" && o.status !== "failed").map((o) => `${o.id} ${o.status}`),
    );
    expect(openOps, "operations neither succeeded nor failed").toEqual([]);

    // 2 and 3. The channel's book: every attempt of every payment (ours, the router's and whatever the
    // channels hold under the payment's references), at most one charge taken, amounts as we record them.
    type Entry = {
      txnId: string;
      ref: string;
      status: string;
      capturedAmount: number;
      refundedAmount: number;
      operations: { kind: string; ref: string; status: string; amount: number }[];
    };
    const refs = new Map<string, Map<string, string>>(); // payment id → attempt id → channel
    const addRef = (paymentId: string, attemptId: string, channel: string) => {
      // The router's record of a payment no channel took (no_channel_available) names no channel: no call was
      // made, so there is no book to read.
      if (channel === NO_CHANNEL) return;
      const mine = refs.get(paymentId) ?? new Map<string, string>();
      mine.set(attemptId, channel);
      refs.set(paymentId, mine);
    };
    for (const p of payments) for (const a of p.attempts) addRef(p.id, a.id, a.channel);
    const known = new Set(ids);
    for (const r of await db.$client<{ id: string; payment_id: string; channel: string }[]>`
      select id, payment_id, channel from routing.attempts`)
      if (known.has(r.payment_id)) addRef(r.payment_id, r.id, r.channel);
    const strays: string[] = [];
    for (const c of await db.$client<{ ref: string; channel: string }[]>`
      select merchant_ref as ref, channel from sim.charges`) {
      // Our reference at a channel is the attempt id: at<n>_<the payment's ULID> (attemptIdOf in @pps/domain).
      const ulid = /^at\d+_([0-9A-Z]{26})$/.exec(c.ref)?.[1];
      const paymentId = ulid ? `pay_${ulid}` : c.ref;
      if (known.has(paymentId)) addRef(paymentId, c.ref, c.channel);
      else strays.push(`${c.channel} ${c.ref}`);
    }
    expect(strays, "charges at the channels for no payment of ours").toEqual([]);
    const lookups = [...refs].flatMap(([paymentId, attempts]) =>
      [...attempts].map(([ref, channel]) => ({ paymentId, ref, channel })),
    );
    const entries = await mapLimit(lookups, 8, async ({ paymentId, ref, channel }) => {
      const res = await fetch(`${platform.sim.url}/sim/book/${channel}?ref=${encodeURIComponent(ref)}`);
      expect(res.status, `book of ${channel} for ${ref}`).toBe(200);
      return { paymentId, entries: ((await res.json()) as { entries: Entry[] }).entries };
    });
    const book = new Map<string, Entry[]>();
    for (const e of entries) book.set(e.paymentId, [...(book.get(e.paymentId) ?? []), ...e.entries]);

    const chargedTwice: string[] = [];
    const disagree: string[] = [];
    for (const p of payments) {
      const mine = book.get(p.id) ?? [];
      const taken = mine.filter((e) => e.status === "succeeded");
      if (taken.length > 1) chargedTwice.push(`${p.id}: ${taken.map((e) => `${e.ref}/${e.txnId}`).join(", ")}`);
      const say = (what: string) => disagree.push(`${p.id} (${p.status}, ${p.channel}): ${what}`);
      if (p.status === "succeeded") {
        if (taken.length !== 1) say(`${taken.length} succeeded charges`);
        else if (taken[0]!.capturedAmount !== p.amount_captured)
          say(`captured ${p.amount_captured}, book ${taken[0]!.capturedAmount}`);
      } else if (p.status === "failed" || p.status === "expired") {
        const charged = mine.filter((e) => e.status === "succeeded" || e.capturedAmount > 0);
        if (charged.length) say(`charged at the channel: ${charged.map((e) => `${e.ref} ${e.status}`).join(", ")}`);
      }
      const refunded = mine.reduce((s, e) => s + e.refundedAmount, 0);
      if (refunded !== p.amount_refunded) say(`refunded ${p.amount_refunded}, book ${refunded}`);
      if (p.amount_refund_pending !== 0) say(`amount_refund_pending ${p.amount_refund_pending}`);
      const ourRefunds = p.operations
        .filter((o) => o.object === "refund" && o.status === "succeeded")
        .map((o) => o.id)
        .sort();
      const bookRefunds = mine
        .flatMap((e) => e.operations)
        .filter((o) => o.kind === "refund" && o.status === "succeeded")
        .map((o) => o.ref)
        .sort();
      if (JSON.stringify(ourRefunds) !== JSON.stringify(bookRefunds))
        say(`refunds succeeded ${JSON.stringify(ourRefunds)}, book ${JSON.stringify(bookRefunds)}`);
    }
    expect(chargedTwice, "payments charged more than once").toEqual([]);
    expect(disagree, "payments whose state disagrees with the channel's book").toEqual([]);

    // 4. Notifications exactly once: one row per final event (the events are the audit trail's), each
    // received; received twice only where the row shows the retry.
    const events = await db.$client<{ event_id: string; type: string; payment_id: string }[]>`
      select t.event_id, t.envelope->>'type' as type, t.payment_id from payment.payment_transitions t
      where t.merchant_id = ${merchant.merchantId} and t.envelope->>'type' = any(${FINAL_EVENTS})`;
    const rows = await db.$client<
      { id: string; event_id: string; event_type: string; status: string; attempts: number }[]
    >`
      select id, event_id::text, event_type, status, attempts from notify.notifications
      where merchant_id = ${merchant.merchantId} and event_type = any(${FINAL_EVENTS})`;
    const rowsByEvent = new Map<string, (typeof rows)[number][]>();
    for (const r of rows) rowsByEvent.set(r.event_id, [...(rowsByEvent.get(r.event_id) ?? []), r]);
    const eventIds = new Set(events.map((e) => e.event_id));
    const notOnce = events
      .filter((e) => rowsByEvent.get(e.event_id)?.length !== 1)
      .map((e) => `${e.payment_id} ${e.type} ${e.event_id}: ${rowsByEvent.get(e.event_id)?.length ?? 0} rows`);
    const unknownRows = rows.filter((r) => !eventIds.has(r.event_id)).map((r) => `${r.id} ${r.event_type}`);
    expect(notOnce, "final events without exactly one notification").toEqual([]);
    expect(unknownRows, "notifications of no recorded event").toEqual([]);
    // Each final state is announced once: two payment.succeeded for one payment would be two notifications.
    const perPayment = new Map<string, number>();
    for (const e of events) if (e.type.startsWith("payment.")) tally(perPayment, `${e.payment_id} ${e.type}`);
    expect(
      [...perPayment].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`),
      "final payment events announced more than once",
    ).toEqual([]);
    const expectedFinal = payments.filter((p) => p.status !== "canceled").length;
    expect(
      events.filter((e) => ["payment.succeeded", "payment.failed", "payment.expired"].includes(e.type)).length,
    ).toBeGreaterThanOrEqual(expectedFinal);
    const received = new Map<string, number>();
    for (const d of receiver.deliveries) tally(received, d.notificationId);
    const deliveryProblems = rows.flatMap((r) => {
      const n = received.get(r.id) ?? 0;
      if (r.status !== "delivered") return [`${r.id} ${r.event_type} ${r.status} after ${r.attempts} attempts`];
      if (n === 0) return [`${r.id} ${r.event_type} delivered but never received`];
      if (n > 1 && r.attempts < n)
        return [`${r.id} ${r.event_type} received ${n}× but ${r.attempts} attempts recorded`];
      return [];
    });
    expect(deliveryProblems, "notifications not received exactly once").toEqual([]);

    // 5. Every outbox empty (a relay deletes what it published).
    expect(
      await db.$client`select
        (select count(*)::int from payment.outbox) as payment,
        (select count(*)::int from routing.outbox) as routing,
        (select count(*)::int from risk.outbox) as risk,
        (select count(*)::int from notify.outbox) as notify`,
    ).toEqual([{ payment: 0, routing: 0, risk: 0, notify: 0 }]);

    // 6. Every consumer group of the prefix has read its topics to the end.
    const lag = await consumerLag();
    expect(lag.groups.length, `consumer groups: ${lag.groups.join(", ")}`).toBeGreaterThanOrEqual(5);
    expect(lag.behind, "consumer groups behind").toEqual([]);
  }, 360_000);
});
