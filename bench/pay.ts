// `pnpm bench:pay`: drives payments through the running platform (start it with
// `PLATFORM_DETACH=1 bash scripts/platform.sh`) and prints accept and end-to-end figures.
//
// Phase 1, latency: an open-loop 500 requests/s for BENCH_LATENCY_SECONDS; p50/p95/p99 accept latency.
// Phase 2, throughput: as many payments as BENCH_CONCURRENCY in-flight requests accept, for
// BENCH_SECONDS; accepted/s, and completed/s end to end (payments that reached `succeeded`, counted in
// Postgres), sustained over the same window, next to the merchant's notifications delivered/s over it (target:
// at least 0.98 of completed/s) and the delay from success to first delivery of the payments that succeeded
// in it. Phase 3, open loop at half the sustained rate for BENCH_OPEN_LOOP_SECONDS: the same delay
// percentiles (target: p99 under 1 s). Then: peak RSS per app, and the raw single-row insert rate of the same
// Postgres with the same number of connections, so the ratio can be compared across machines.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { PaymentsClient, type CreatePaymentParams } from "@pps/sdk";
import { platformCpuSnapshot } from "./proc-cpu.ts";
import { rawInsertRate } from "./raw-insert.ts";

const env = process.env;
const API = env.BENCH_API_URL ?? "http://127.0.0.1:7100";
const ADMIN_TOKEN = env.ADMIN_TOKEN ?? "dev-admin-token";
const DATABASE_URL = env.DATABASE_URL ?? readDatabaseUrl();
const LATENCY_RATE = Number(env.BENCH_LATENCY_RATE ?? 500);
const LATENCY_SECONDS = Number(env.BENCH_LATENCY_SECONDS ?? 20);
const SECONDS = Number(env.BENCH_SECONDS ?? 60);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 64);
const DRAIN_SECONDS = Number(env.BENCH_DRAIN_SECONDS ?? 30);
const OPEN_LOOP_SECONDS = Number(env.BENCH_OPEN_LOOP_SECONDS ?? 30);
const APPS = ["payment-api", "router", "risk-stub", "notifier", "reconciler", "channel-sim"];

function readDatabaseUrl(): string {
  try {
    return readFileSync(".var/database-url", "utf8").trim();
  } catch {
    return "postgres://postgres@127.0.0.1:5432/pps";
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function onboard(): Promise<PaymentsClient> {
  const id = `m_bench_${randomBytes(4).toString("hex")}`;
  const res = await fetch(`${API}/v1/admin/merchants`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ id, name: "Benchmark shop", enabled_products: ["online_banking", "platform_pay"] }),
  });
  if (res.status !== 201) throw new Error(`onboarding failed: ${res.status} ${await res.text()}`);
  const { secret_key } = (await res.json()) as { secret_key: string };
  return new PaymentsClient({
    baseUrl: API,
    credentials: { merchantId: id, scheme: "HMAC_SHA256", secretKey: secret_key },
  });
}

/**
 * The merchant's notification endpoint: answers 200 and records, for each payment.succeeded notification,
 * the delay from the payment's success (data.object.updated_at) to this first delivery.
 */
function startReceiver() {
  const delivered: { at: number; delayMs: number; succeededAt: number }[] = [];
  const seen = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      res.writeHead(200).end("ok");
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          id: string;
          type: string;
          data: { object: { updated_at: string } };
        };
        if (body.type !== "payment.succeeded" || seen.has(body.id)) return;
        seen.add(body.id);
        const now = Date.now();
        const succeededAt = Date.parse(body.data.object.updated_at);
        delivered.push({ at: now, delayMs: now - succeededAt, succeededAt });
      } catch {
        // not a notification we count
      }
    });
  });
  return new Promise<{ url: string; delivered: typeof delivered; close: () => void }>((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
        delivered,
        close: () => server.close(),
      }),
    ),
  );
}

let notifyUrl = "http://127.0.0.1:9/notify";

/** A payment the simulated payer confirms by itself, so it completes end to end without a browser. */
function payment(i: number): CreatePaymentParams {
  const wallet = i % 2 === 0;
  return {
    merchant_order_no: `b_${randomBytes(10).toString("hex")}`,
    product: wallet ? "platform_pay" : "online_banking",
    amount: 100 + (i % 5_000),
    currency: "CNY",
    subject: "benchmark order",
    payer: { id: `bench_${randomBytes(6).toString("hex")}` },
    method: wallet ? { wallet: i % 4 === 0 ? "wechat" : "alipay", flow: "qr_code" } : { bank_code: "CMB" },
    notify_url: notifyUrl,
    return_url: "https://shop.example/return",
    metadata: { sim_payer: "auto_confirm" },
  };
}

/** One payment request: 201 accepted, 503 shed by payment-api's overload guard, anything else an error. */
async function send(client: PaymentsClient, i: number): Promise<{ ok: boolean; shed: boolean; ms: number }> {
  const started = performance.now();
  try {
    const res = await client.request("POST", "/v1/payments", { body: payment(i), idempotencyKey: randomUUID() });
    return { ok: res.status === 201, shed: res.status === 503, ms: performance.now() - started };
  } catch {
    return { ok: false, shed: false, ms: performance.now() - started };
  }
}

async function latencyPhase(client: PaymentsClient, rate = LATENCY_RATE, seconds = LATENCY_SECONDS, first = 0) {
  const latencies: number[] = [];
  let errors = 0;
  let shed = 0;
  const total = Math.round(rate * seconds);
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      send(client, first + i).then((r) => {
        if (r.ok) latencies.push(r.ms);
        else if (r.shed) shed++;
        else errors++;
      }),
    );
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    sent: total,
    achievedRate: total / elapsed,
    errors,
    shed,
    accepted: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

async function throughputPhase(client: PaymentsClient, sql: postgres.Sql, merchantId: string) {
  let accepted = 0;
  let errors = 0;
  let shed = 0;
  let i = 1_000_000;
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  const succeededAtStart = await countSucceeded(sql, merchantId);
  const cpuBefore = cpuSnapshot();
  const worker = async () => {
    while (performance.now() < deadline) {
      const r = await send(client, i++);
      if (r.ok) {
        accepted++;
        latencies.push(r.ms);
      } else if (r.shed) {
        shed++;
        // A refused caller backs off before trying again, as Retry-After asks.
        await new Promise((res) => setTimeout(res, 100));
      } else errors++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = (performance.now() - start) / 1000;
  const succeededInWindow = (await countSucceeded(sql, merchantId)) - succeededAtStart;
  const cpuAfter = cpuSnapshot();
  const cpuMsPerPayment = Object.fromEntries(
    Object.keys(cpuAfter).map((k) => [k, ((cpuAfter[k]! - (cpuBefore[k] ?? 0)) * 1000) / Math.max(1, accepted)]),
  );
  // Let the pipeline finish what was accepted, to report how long the tail took.
  const drainStart = performance.now();
  let backlog = 0;
  while ((performance.now() - drainStart) / 1000 < DRAIN_SECONDS) {
    backlog = await countOpen(sql, merchantId);
    if (backlog === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  latencies.sort((a, b) => a - b);
  return {
    windowStart: Date.now() - elapsed * 1000 - (performance.now() - drainStart),
    windowEnd: Date.now() - (performance.now() - drainStart),
    elapsed,
    accepted,
    errors,
    shed,
    acceptedPerSecond: accepted / elapsed,
    completedPerSecond: succeededInWindow / elapsed,
    p99: percentile(latencies, 99),
    backlogAfterDrain: backlog,
    cpuMsPerPayment,
    drainSeconds: (performance.now() - drainStart) / 1000,
  };
}

/** Delays (sorted) of the first deliveries of payments that succeeded between the two instants. */
function delaysOfSuccessesBetween(from: number, to: number): number[] {
  return receiver.delivered
    .filter((d) => d.succeededAt >= from && d.succeededAt <= to)
    .map((d) => d.delayMs)
    .sort((a, b) => a - b);
}

async function countSucceededBetween(sql: postgres.Sql, merchantId: string, from: number, to: number): Promise<number> {
  const [row] = await sql`select count(*)::int as n from payment.payments where merchant_id = ${merchantId}
    and status = 'succeeded' and updated_at between ${new Date(from)} and ${new Date(to)}`;
  return row!.n as number;
}

/** Until every payment finished and its notification arrived (or DRAIN_SECONDS passed). */
async function waitForQuiet(sql: postgres.Sql, merchantId: string): Promise<void> {
  const deadline = Date.now() + DRAIN_SECONDS * 1000;
  while (Date.now() < deadline) {
    const open = await countOpen(sql, merchantId);
    const succeeded = await countSucceeded(sql, merchantId);
    if (open === 0 && receiver.delivered.length >= succeeded) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function countSucceeded(sql: postgres.Sql, merchantId: string): Promise<number> {
  const [row] =
    await sql`select count(*)::int as n from payment.payments where merchant_id = ${merchantId} and status = 'succeeded'`;
  return row!.n as number;
}

async function countOpen(sql: postgres.Sql, merchantId: string): Promise<number> {
  const [row] =
    await sql`select count(*)::int as n from payment.payments where merchant_id = ${merchantId} and status not in ('succeeded','failed','expired','canceled')`;
  return row!.n as number;
}

/** Who spends the CPU: every app, Postgres (all backends) and the Kafka broker. */
const cpuSnapshot = () => platformCpuSnapshot(APPS);

/** Peak resident set size of each app process (VmHWM), from the pid files platform.sh writes. */
function peakRss(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const app of APPS) {
    try {
      const pid = readFileSync(`.var/pids/${app}.pid`, "utf8").trim();
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
      out[app] = `${Math.round(kb / 1024)} MiB`;
    } catch {
      out[app] = "n/a";
    }
  }
  return out;
}

const receiver = await startReceiver();
notifyUrl = receiver.url;
const client = await onboard();
const merchantId = (client as unknown as { opts: { credentials: { merchantId: string } } }).opts.credentials.merchantId;
const sql = postgres(DATABASE_URL, { max: 2, onnotice: () => {} });
console.log(`benchmark against ${API}; merchant ${merchantId}; ${CONCURRENCY} connections in flight for throughput`);
// Before any load, so the figure is the database's own and not shared with a backlog.
const raw = await rawInsertRate(DATABASE_URL, { connections: Math.min(CONCURRENCY, 32), seconds: 10 });
const lat = await latencyPhase(client);
console.log(
  `accept latency at ${LATENCY_RATE}/s for ${LATENCY_SECONDS} s (sent at ${lat.achievedRate.toFixed(0)}/s; ${lat.accepted} accepted, ${lat.shed} shed with 503, ${lat.errors} errors), accepted requests: p50 ${lat.p50.toFixed(1)} ms, p95 ${lat.p95.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms`,
);
await new Promise((r) => setTimeout(r, 5_000));
const tp = await throughputPhase(client, sql, merchantId);
console.log(
  `throughput over ${tp.elapsed.toFixed(0)} s: accepted ${tp.acceptedPerSecond.toFixed(0)}/s (${tp.accepted} payments, ${tp.shed} shed with 503, ${tp.errors} errors, p99 ${tp.p99.toFixed(1)} ms), completed end to end ${tp.completedPerSecond.toFixed(0)}/s`,
);
{
  const inWindow = receiver.delivered.filter((d) => d.at >= tp.windowStart && d.at <= tp.windowEnd);
  const deliveredPerSecond = inWindow.length / tp.elapsed;
  const delays = delaysOfSuccessesBetween(tp.windowStart, tp.windowEnd);
  console.log(
    `notifications to merchant ${merchantId} in the window: delivered ${deliveredPerSecond.toFixed(0)}/s, completed ${tp.completedPerSecond.toFixed(0)}/s, ratio ${(deliveredPerSecond / tp.completedPerSecond).toFixed(3)} (target ≥ 0.98); delay from success to first delivery of the payments that succeeded in the window: p50 ${percentile(delays, 50).toFixed(0)} ms, p95 ${percentile(delays, 95).toFixed(0)} ms, p99 ${percentile(delays, 99).toFixed(0)} ms (${delays.length} delivered)`,
  );
}
console.log(
  `after the window: ${tp.backlogAfterDrain} payments still open after ${tp.drainSeconds.toFixed(0)} s of draining`,
);
console.log(
  `CPU ms per accepted payment during the window: ${Object.entries(tp.cpuMsPerPayment)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ")}; total ${Object.values(tp.cpuMsPerPayment)
    .reduce((a, b) => a + b, 0)
    .toFixed(2)} ms`,
);
console.log(
  `peak RSS per app: ${Object.entries(peakRss())
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}`,
);
{
  // Open loop at half the sustained rate: a merchant's steady volume, well within capacity.
  await waitForQuiet(sql, merchantId);
  const rate = Math.max(1, tp.completedPerSecond / 2);
  const started = Date.now();
  const open = await latencyPhase(client, rate, OPEN_LOOP_SECONDS, 2_000_000);
  const ended = Date.now();
  await waitForQuiet(sql, merchantId);
  const succeeded = await countSucceededBetween(sql, merchantId, started, ended);
  const delays = delaysOfSuccessesBetween(started, ended);
  console.log(
    `open loop at ${rate.toFixed(0)}/s (half the sustained rate) for ${OPEN_LOOP_SECONDS} s: ${open.accepted} accepted (p99 ${open.p99.toFixed(1)} ms), ${succeeded} succeeded, ${delays.length} of them notified; delay from success to first delivery p50 ${percentile(delays, 50).toFixed(0)} ms, p95 ${percentile(delays, 95).toFixed(0)} ms, p99 ${percentile(delays, 99).toFixed(0)} ms (target p99 < 1000 ms)`,
  );
}
await sql.end();
receiver.close();
console.log(
  `raw single-row insert rate of the same Postgres, measured first on the idle database (${Math.min(CONCURRENCY, 32)} connections): ${raw.toFixed(0)} rows/s; completed payments per raw insert: ${(tp.completedPerSecond / raw).toFixed(3)}`,
);
