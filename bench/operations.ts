// `pnpm bench:refund`: drives payments, captures and refunds through the running platform (start it with
// `PLATFORM_DETACH=1 bash scripts/platform.sh`) and prints, per kind, how many per second completed end to
// end and the CPU milliseconds each cost, summed over every process (the six apps, every Postgres backend,
// the Kafka broker, this client), so the figures compare across machines of different speed.
//
// Phase 1: BENCH_OPS_PAYMENTS payments, half sales on the Alipay-like wallet (sync refunds), half
// pre-authorizations at the bank (capture later), each confirmed by the simulated payer; they end succeeded
// or requires_capture. Phase 2: every authorization captured in part. Phase 3: two partial refunds of every
// sale. BENCH_CONCURRENCY requests in flight. Then the raw single-row insert rate of the same Postgres.
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import postgres from "postgres";
import { type CreatePaymentParams, PaymentsClient } from "@pps/sdk";
import { rawInsertRate } from "./raw-insert.ts";
import { cpuPerOperation, platformCpuSnapshot } from "./proc-cpu.ts";

const env = process.env;
const API = env.BENCH_API_URL ?? "http://127.0.0.1:7100";
const ADMIN_TOKEN = env.ADMIN_TOKEN ?? "dev-admin-token";
const PAYMENTS = Number(env.BENCH_OPS_PAYMENTS ?? 1_000);
const CONCURRENCY = Number(env.BENCH_CONCURRENCY ?? 32);
const TIMEOUT_S = Number(env.BENCH_DRAIN_SECONDS ?? 120);
const APPS = ["payment-api", "router", "risk-stub", "notifier", "reconciler", "channel-sim"];
const DATABASE_URL = env.DATABASE_URL ?? readDatabaseUrl();

function readDatabaseUrl(): string {
  try {
    return readFileSync(".var/database-url", "utf8").trim();
  } catch {
    return "postgres://postgres@127.0.0.1:5432/pps";
  }
}

async function onboard(): Promise<{ client: PaymentsClient; merchantId: string }> {
  const id = `m_bops_${randomBytes(4).toString("hex")}`;
  const res = await fetch(`${API}/v1/admin/merchants`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ id, name: "Operations benchmark", enabled_products: ["online_banking", "platform_pay"] }),
  });
  if (res.status !== 201) throw new Error(`onboarding failed: ${res.status} ${await res.text()}`);
  const { secret_key } = (await res.json()) as { secret_key: string };
  return {
    merchantId: id,
    client: new PaymentsClient({
      baseUrl: API,
      credentials: { merchantId: id, scheme: "HMAC_SHA256", secretKey: secret_key },
    }),
  };
}

function payment(i: number): CreatePaymentParams {
  const sale = i % 2 === 0;
  return {
    merchant_order_no: `bo_${randomBytes(10).toString("hex")}`,
    product: sale ? "platform_pay" : "online_banking",
    amount: 1_000 + (i % 5_000),
    currency: "CNY",
    subject: "operations benchmark",
    payer: { id: `bops_${randomBytes(6).toString("hex")}` },
    method: sale ? { wallet: "alipay", flow: "qr_code" } : { bank_code: "CMB" },
    notify_url: "https://shop.example/notify",
    return_url: "https://shop.example/return",
    metadata: { sim_payer: "auto_confirm" },
    capture_method: sale ? "automatic" : "manual",
  };
}

/** Runs `task` for every item with `CONCURRENCY` in flight; returns how many resolved true. */
async function pool<T>(items: T[], task: (item: T) => Promise<boolean>): Promise<number> {
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < items.length) if (await task(items[next++]!).catch(() => false)) ok++;
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return ok;
}

/** Waits until the count query returns at least `target`, or the drain timeout. */
async function drain(count: () => Promise<number>, target: number): Promise<number> {
  const deadline = Date.now() + TIMEOUT_S * 1000;
  let n = await count();
  while (n < target && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    n = await count();
  }
  return n;
}

type Phase = { name: string; completed: number; seconds: number; cpu: ReturnType<typeof cpuPerOperation> };

async function phase(name: string, run: () => Promise<number>): Promise<Phase> {
  const before = platformCpuSnapshot(APPS);
  const started = performance.now();
  const completed = await run();
  const seconds = (performance.now() - started) / 1000;
  return { name, completed, seconds, cpu: cpuPerOperation(before, platformCpuSnapshot(APPS), completed) };
}

const sql = postgres(DATABASE_URL, { max: 4, onnotice: () => undefined });
const { client, merchantId } = await onboard();
const ids: { id: string; amount: number; sale: boolean }[] = [];

const payments = await phase("payment", async () => {
  await pool(
    Array.from({ length: PAYMENTS }, (_, i) => i),
    async (i) => {
      const p = await client.createPayment(payment(i), { idempotencyKey: randomUUID() });
      ids.push({ id: p.id, amount: p.amount, sale: p.capture_method === "automatic" });
      return true;
    },
  );
  return drain(
    async () =>
      Number(
        (
          await sql`select count(*)::int as n from payment.payments
            where merchant_id = ${merchantId} and status in ('succeeded', 'requires_capture')`
        )[0]!.n,
      ),
    ids.length,
  );
});

const authorized = ids.filter((p) => !p.sale);
const captures = await phase("capture", async () => {
  await pool(authorized, async (p) => {
    await client.capturePayment(p.id, { amount: Math.floor(p.amount / 2) }, { idempotencyKey: randomUUID() });
    return true;
  });
  return drain(
    async () =>
      Number(
        (
          await sql`select count(*)::int as n from payment.payment_operations
            where merchant_id = ${merchantId} and kind = 'capture' and status = 'succeeded'`
        )[0]!.n,
      ),
    authorized.length,
  );
});

const sales = ids.filter((p) => p.sale);
const refunds = await phase("refund", async () => {
  const asks = sales.flatMap((p) => [p, p]);
  await pool(asks, async (p) => {
    await client.refundPayment(
      p.id,
      { merchant_refund_no: `br_${randomBytes(8).toString("hex")}`, amount: Math.floor(p.amount / 3) },
      { idempotencyKey: randomUUID() },
    );
    return true;
  });
  return drain(
    async () =>
      Number(
        (
          await sql`select count(*)::int as n from payment.payment_operations
            where merchant_id = ${merchantId} and kind = 'refund' and status = 'succeeded'`
        )[0]!.n,
      ),
    asks.length,
  );
});

const [check] = await sql<{ over: number }[]>`
  select count(*)::int as over from payment.payments
  where merchant_id = ${merchantId} and amount_refunded + amount_refund_pending > amount_captured`;
await sql.end();
const raw = await rawInsertRate(DATABASE_URL, { connections: CONCURRENCY, seconds: 5 });

const fmt = (p: Phase) =>
  `${p.name.padEnd(8)} ${String(p.completed).padStart(6)} completed in ${p.seconds.toFixed(1)} s = ${(p.completed / p.seconds).toFixed(1)}/s; CPU ${p.cpu.total.toFixed(2)} ms each (${Object.entries(
    p.cpu.by,
  )
    .filter(([, v]) => v >= 0.05)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(", ")})`;
console.log(
  `operations benchmark: ${PAYMENTS} payments (half sales at alipay, half authorizations at bank_direct), ${CONCURRENCY} in flight`,
);
for (const p of [payments, captures, refunds]) console.log(fmt(p));
console.log(`payments whose refunds passed what was captured: ${check?.over ?? "?"} (must be 0)`);
console.log(
  `raw single-row insert rate of the same Postgres: ${raw.toFixed(0)} rows/s; refunds per raw insert: ${(refunds.completed / refunds.seconds / raw).toFixed(3)}`,
);
