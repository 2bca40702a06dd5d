import { randomBytes, randomUUID } from "node:crypto";
import { and, count, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { payments } from "@pps/db/schema";
import { PaymentsApiError, PaymentsClient, type CreatePaymentParams } from "@pps/sdk";
import {
  createTestMerchant,
  isolatedEnvironment,
  startApp,
  TEST_ADMIN_TOKEN,
  tcpProxy,
  waitFor,
  type AppProcess,
  type IsolatedEnvironment,
  type TcpProxy,
  type TestMerchant,
} from "@pps/test-support";

/**
 * payment-api as a real process whose every database connection goes through a TCP proxy; the proxy cuts
 * them all under a steady load of new payments (and once keeps Postgres unreachable for a few seconds).
 * The app must never exit, say 503 on /readyz while the database is gone and 200 after, and every payment
 * it accepted must be in the database exactly once.
 */
let isolated: IsolatedEnvironment;
let proxy: TcpProxy;
let api: AppProcess;
let merchant: TestMerchant;
let client: PaymentsClient;
let exitCode: number | null | undefined;

const params = (orderNo: string): CreatePaymentParams => ({
  merchant_order_no: orderNo,
  product: "online_banking",
  amount: 1_200,
  currency: "CNY",
  subject: "Fault test",
  // The same body on a retry: the payer is derived from the order.
  payer: {
    id: `u_${orderNo.slice(-10)}`,
    ip: "198.51.100.20",
    device_id: "device-a",
    phone: `+86139${String(Number.parseInt(orderNo.slice(-7), 16) % 1e8).padStart(8, "0")}`,
  },
  method: { bank_code: "CMB" },
  notify_url: "https://shop.example/notify",
  return_url: "https://shop.example/return",
});

type Attempt = { orderNo: string; key: string; outcome: number | "network"; code?: string; paymentId?: string };

async function attempt(orderNo: string, key: string): Promise<Attempt> {
  try {
    const p = await client.createPayment(params(orderNo), { idempotencyKey: key });
    return { orderNo, key, outcome: 201, paymentId: p.id };
  } catch (err) {
    return err instanceof PaymentsApiError
      ? { orderNo, key, outcome: err.status, code: err.code }
      : { orderNo, key, outcome: "network", code: (err as Error).message };
  }
}

const readyz = async () => (await fetch(`${api.url}/readyz`, { signal: AbortSignal.timeout(5_000) })).status;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  isolated = await isolatedEnvironment("dbfault");
  const direct = new URL(isolated.databaseUrl);
  proxy = await tcpProxy({ target: { host: direct.hostname, port: Number(direct.port || 5432) } });
  const viaProxy = new URL(isolated.databaseUrl);
  viaProxy.host = `${proxy.host}:${proxy.port}`;
  api = await startApp("payment-api", {
    ...isolated.env,
    DATABASE_URL: viaProxy.toString(),
    DB_POOL_MAX: "4",
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  });
  void api.exited.then((code) => (exitCode = code));
  await waitFor(async () => (await readyz()) === 200, { what: "payment-api ready", timeoutMs: 30_000 });
  merchant = await createTestMerchant(api.url);
  client = new PaymentsClient({ baseUrl: api.url, credentials: merchant });
});

afterAll(async () => {
  if (api && api.child.exitCode === null) await api.stop();
  await proxy?.close();
  await isolated?.close();
});

describe("payment-api when its database connections break under load", () => {
  it("never exits, reports not ready while Postgres is unreachable, and keeps every accepted payment once", async () => {
    const attempts: Promise<Attempt>[] = [];
    let loading = true;
    const load = (async () => {
      // About 40 new payments a second, each its own order number and idempotency key.
      while (loading) {
        attempts.push(attempt(`flt_${randomBytes(8).toString("hex")}`, randomUUID()));
        await sleep(25);
      }
    })();

    const cuts: number[] = [];
    await sleep(2_000);
    cuts.push(proxy.cutAll({ reset: true }));
    await sleep(2_000);
    cuts.push(proxy.cutAll({ reset: false }));
    await sleep(2_000);
    cuts.push(proxy.cutAll({ reset: true }));
    await sleep(1_500);

    // Postgres unreachable for a while: /readyz says so, then recovers on its own once it is back.
    proxy.pause("refuse");
    const outageStarted = Date.now();
    await waitFor(async () => (await readyz()) === 503, { what: "/readyz 503 during the outage", timeoutMs: 6_000 });
    const notReadyAfterMs = Date.now() - outageStarted;
    await sleep(Math.max(0, 4_000 - (Date.now() - outageStarted)));
    proxy.resume();
    const resumed = Date.now();
    await waitFor(async () => (await readyz()) === 200, { what: "/readyz 200 after the outage", timeoutMs: 15_000 });
    const readyAgainMs = Date.now() - resumed;

    await sleep(1_500);
    cuts.push(proxy.cutAll({ reset: true }));
    await sleep(2_000);
    loading = false;
    await load;
    const results = await Promise.all(attempts);

    // What a merchant does with a failed call: retry it with the same key. Every order ends accepted once.
    const failed = results.filter((r) => r.outcome !== 201);
    const retried: Attempt[] = [];
    for (let i = 0; i < failed.length; i += 8)
      retried.push(...(await Promise.all(failed.slice(i, i + 8).map((r) => attempt(r.orderNo, r.key)))));

    expect(exitCode, api.output().slice(-4000)).toBeUndefined();
    expect(api.child.exitCode).toBeNull();
    expect(api.output()).not.toMatch(/Cannot read properties of null|uncaughtException|unhandledRejection|fatal:/);
    expect(
      cuts.every((n) => n > 0),
      `connections cut: ${cuts.join(", ")}`,
    ).toBe(true);
    expect(notReadyAfterMs).toBeLessThan(6_000);
    expect(readyAgainMs).toBeLessThan(15_000);

    const accepted = [...results, ...retried].filter((r) => r.outcome === 201);
    const summary = {
      sent: results.length,
      acceptedFirstTime: results.length - failed.length,
      failedFirstTime: Object.entries(
        failed.reduce<Record<string, number>>((acc, r) => {
          const what = `${r.outcome} ${r.code ?? ""}`.trim();
          acc[what] = (acc[what] ?? 0) + 1;
          return acc;
        }, {}),
      ),
      acceptedOnRetry: retried.filter((r) => r.outcome === 201).length,
      notReadyAfterMs,
      readyAgainMs,
      cuts,
    };
    console.info("db connection faults:", JSON.stringify(summary));
    expect(results.length).toBeGreaterThan(300);
    // Every retry after recovery is accepted (or replays the first acceptance).
    expect(
      retried.filter((r) => r.outcome !== 201),
      JSON.stringify(summary),
    ).toEqual([]);

    // Every accepted payment is in the database, and no order was taken twice.
    const ids = [...new Set(accepted.map((r) => r.paymentId!))];
    const rows = await isolated.db
      .select({ id: payments.id, orderNo: payments.merchantOrderNo })
      .from(payments)
      .where(and(eq(payments.merchantId, merchant.merchantId), inArray(payments.id, ids)));
    expect(rows.length).toBe(ids.length);
    const perOrder = await isolated.db
      .select({ orderNo: payments.merchantOrderNo, n: count() })
      .from(payments)
      .where(eq(payments.merchantId, merchant.merchantId))
      .groupBy(payments.merchantOrderNo);
    expect(perOrder.filter((o) => o.n !== 1)).toEqual([]);
    // One payment per order, and the payment a retry returned is the one first accepted.
    const byOrder = new Map(rows.map((r) => [r.orderNo, r.id]));
    for (const r of accepted) expect(byOrder.get(r.orderNo)).toBe(r.paymentId);
    expect(perOrder.length).toBe(new Set(accepted.map((r) => r.orderNo)).size);
  });
});
