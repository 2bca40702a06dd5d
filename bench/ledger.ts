// pnpm bench:ledger: journal entries per second on a database of the benchmark's own (created, migrated and
// dropped here; no platform needed), next to the raw single-row insert rate of the same Postgres measured in
// the same run. Three phases, BENCH_LEDGER_CONNECTIONS connections posting at once for BENCH_SECONDS each:
// - spread: account pay from many payers' wallets to many merchants (wallet debit, merchant pending credit,
//   fee income credit: 3 postings, the wallet's floor checked);
// - hot merchant: the same from many payers to one merchant;
// - external, hot merchant: channel payments to one merchant (clearing debit, channel fee debit, merchant
//   pending credit, fee income credit: 4 postings, every account a shared one).
// Targets: spread entries/s at least 0.5 x the raw insert rate; hot merchant at least half of spread.
// CPU per entry is summed over every Postgres backend and this process.
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { createDb, dropDatabase, runMigrations } from "@pps/db";
import { Ledger, ledgerViolations } from "@pps/ledger";
import { cpuSeconds, pidsOf } from "./proc-cpu.ts";
import { rawInsert } from "./raw-insert.ts";

const env = process.env;
const CONNECTIONS = Number(env.BENCH_LEDGER_CONNECTIONS ?? 32);
const SECONDS = Number(env.BENCH_SECONDS ?? 10);
const PAYERS = Number(env.BENCH_LEDGER_PAYERS ?? 2_000);
const MERCHANTS = Number(env.BENCH_LEDGER_MERCHANTS ?? 200);
const url = new URL(env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pps");
url.pathname = "/pps_bench_ledger";
const DATABASE_URL = url.toString();

await dropDatabase(DATABASE_URL);
await runMigrations(DATABASE_URL);
const db = createDb({ url: DATABASE_URL, max: CONNECTIONS, applicationName: "bench-ledger" });
const ledger = new Ledger(db.$client, { maxInFlight: Number(env.BENCH_LEDGER_IN_FLIGHT ?? 4) });

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

async function inParallel<T>(items: readonly T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

console.log(
  `ledger benchmark on ${url.pathname.slice(1)}: ${CONNECTIONS} connections, ${SECONDS} s a phase; load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
const { rate: raw, postgresCpuMsPerRow } = await rawInsert(DATABASE_URL, {
  connections: CONNECTIONS,
  seconds: SECONDS,
});
console.log(
  `raw single-row insert rate: ${raw.toFixed(0)} rows/s; Postgres CPU per row ${postgresCpuMsPerRow.toFixed(3)} ms`,
);

// Accounts: payers' wallets funded by top-ups from a bank's clearing account; merchants' pending accounts.
const clearing = (await ledger.openAccount({ kind: "channel_clearing", ownerId: "bank", currency: "CNY" })).id;
const channelFees = await ledger.platformAccount("channel_fees", "CNY");
const fees = await ledger.platformAccount("platform_fees", "CNY");
const wallets: string[] = [];
await inParallel(
  Array.from({ length: PAYERS }, (_, i) => i),
  CONNECTIONS,
  async (i) => {
    const wallet = (await ledger.openAccount({ kind: "payer_wallet", ownerId: `bench_payer_${i}`, currency: "CNY" }))
      .id;
    await ledger.post({
      cause: "top_up",
      causeId: `top_${i}`,
      key: randomUUID(),
      legs: [
        { accountId: clearing, amount: -1_000_000_000 },
        { accountId: wallet, amount: 1_000_000_000 },
      ],
    });
    wallets.push(wallet);
  },
);
const merchants: string[] = [];
await inParallel(
  Array.from({ length: MERCHANTS }, (_, i) => i),
  CONNECTIONS,
  async (i) => {
    merchants.push(
      (await ledger.openAccount({ kind: "merchant_pending", ownerId: `bench_mer_${i}`, currency: "CNY" })).id,
    );
  },
);
const hotMerchant = merchants[0]!;
console.log(`set up ${wallets.length} funded wallets and ${merchants.length} merchants`);

/** Account pay: the payer's wallet pays the merchant, our fee (0.6%, rounded half up) kept. */
function walletPayment(merchant: string) {
  const amount = 100 + Math.floor(Math.random() * 10_000);
  const fee = Math.floor((amount * 60 + 5_000) / 10_000);
  return [
    { accountId: pick(wallets), amount: -amount },
    { accountId: merchant, amount: amount - fee },
    { accountId: fees, amount: fee },
  ];
}

/** A channel payment: the channel owes us what it collected less its fee; the merchant is owed less ours. */
function externalPayment(merchant: string) {
  const amount = 100 + Math.floor(Math.random() * 10_000);
  const fee = Math.floor((amount * 60 + 5_000) / 10_000);
  const channelFee = Math.floor((amount * 25 + 5_000) / 10_000);
  return [
    { accountId: clearing, amount: -(amount - channelFee) },
    { accountId: channelFees, amount: -channelFee },
    { accountId: merchant, amount: amount - fee },
    { accountId: fees, amount: fee },
  ].filter((l) => l.amount !== 0);
}

async function phase(name: string, legs: () => { accountId: string; amount: number }[]) {
  const postgresPids = pidsOf(/^postgres/);
  const cpuBefore = { postgres: cpuSeconds(postgresPids), client: cpuSeconds([process.pid]) };
  let entries = 0;
  let refused = 0;
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        await ledger.post({ cause: "payment", causeId: "bench", key: randomUUID(), legs: legs() }).then(
          () => entries++,
          () => refused++,
        );
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const pg = (cpuSeconds(pidsOf(/^postgres/)) - cpuBefore.postgres) * 1000;
  const client = (cpuSeconds([process.pid]) - cpuBefore.client) * 1000;
  const rate = entries / seconds;
  console.log(
    `${name}: ${rate.toFixed(0)} entries/s (${entries} in ${seconds.toFixed(1)} s, ${refused} refused), ` +
      `${(rate / raw).toFixed(2)} x the raw insert rate; CPU per entry ${((pg + client) / Math.max(1, entries)).toFixed(3)} ms ` +
      `(Postgres ${(pg / Math.max(1, entries)).toFixed(3)}, client ${(client / Math.max(1, entries)).toFixed(3)})`,
  );
  return rate;
}

const spread = await phase("spread (many payers, many merchants)", () => walletPayment(pick(merchants)));
const hot = await phase("hot merchant (many payers, one merchant)", () => walletPayment(hotMerchant));
const external = await phase("external payments, hot merchant (all shared accounts)", () =>
  externalPayment(hotMerchant),
);

const violations = await ledgerViolations(db.$client);
console.log(
  `summary: spread ${(spread / raw).toFixed(2)} x raw (target >= 0.5), hot merchant ${(hot / spread).toFixed(2)} x spread (target >= 0.5), ` +
    `external ${(external / spread).toFixed(2)} x spread; invariants ${violations.length === 0 ? "hold" : `BROKEN: ${violations.slice(0, 5).join("; ")}`}`,
);
await db.$client.end({ timeout: 5 });
// BENCH_KEEP_DB=1 leaves the database for a look afterwards.
if (!env.BENCH_KEEP_DB) await dropDatabase(DATABASE_URL);
process.exit(violations.length === 0 ? 0 : 1);
