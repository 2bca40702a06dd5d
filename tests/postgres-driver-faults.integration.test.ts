// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the child process is JavaScript source in a string; its ${…} are its own
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, TEST_DATABASE_URL, tcpProxy } from "@pps/test-support";

/**
 * postgres.js 3.4.9 as patched in patches/postgres@3.4.9.patch (porsager/postgres#1208, #1154): a query that
 * meets a connection that just closed is rejected; it never throws from a timer, which would end the process;
 * reserved connections (sql.reserve) settle everything they were asked through a database outage and work
 * again after it. Each scenario runs in a child process that counts uncaught exceptions, so a regression fails the test
 * instead of killing the test worker.
 */
const CHILD =
  `
import postgres from "postgres";
const uncaught = [];
process.on("uncaughtException", (e) => uncaught.push(String(e && e.stack || e)));
process.on("unhandledRejection", (e) => uncaught.push("unhandled rejection: " + String(e && e.stack || e)));
const { DIRECT_URL, PROXY_URL } = process.env;
const settle = (p, ms = 15000) => Promise.race([
  p.then(() => "ok", (e) => e.code || e.message),
  new Promise((r) => setTimeout(() => r("hung"), ms)),
]);
const out = {};
const sql = postgres(DIRECT_URL, { max: 3, onnotice() {} });
const killer = postgres(DIRECT_URL, { max: 1, onnotice() {} });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

// A reserved connection whose backend is terminated (upstream #1208: the next query threw from setImmediate).
const reserved = await sql.reserve();
const [{ pid }] = await reserved` +
  "`select pg_backend_pid() as pid`" +
  `;
await killer` +
  "`select pg_terminate_backend(${pid})`" +
  `;
await pause(100);
out.reservedFirst = await settle(reserved` +
  "`select 1`" +
  `);
out.reservedSecond = await settle(reserved` +
  "`select 1`" +
  `);
reserved.release();

// A transaction whose backend dies midway: its ROLLBACK meets the closed connection.
out.transaction = await settle(sql.begin(async (tx) => {
  const [{ pid }] = await tx` +
  "`select pg_backend_pid() as pid`" +
  `;
  await killer` +
  "`select pg_terminate_backend(${pid})`" +
  `;
  await pause(100);
  await tx` +
  "`select 1`" +
  `;
}));
out.poolAfter = await settle(Promise.all([1, 2, 3, 4, 5, 6].map((n) => sql` +
  "`select ${n}::int as n`" +
  `)));

// Transactions and plain queries through a proxy that cuts every connection again and again.
const cut = postgres(PROXY_URL, { max: 4, onnotice() {}, connect_timeout: 5 });
const outcomes = {};
const tally = (o) => { outcomes[o] = (outcomes[o] || 0) + 1; };
console.log("STRESS_BEGIN");
const until = Date.now() + 3000;
await Promise.all(Array.from({ length: 16 }, async (_, worker) => {
  while (Date.now() < until) {
    tally(await settle(worker % 2
      ? cut.begin(async (tx) => { await tx` +
  "`select ${worker}::int`" +
  `; await tx` +
  "`select pg_sleep(0.002)`" +
  `; })
      : cut` +
  "`select ${worker}::int, pg_sleep(0.001)`" +
  `));
  }
}));
console.log("STRESS_END");
await pause(300);
out.stress = outcomes;
out.proxyPoolAfter = await settle(Promise.all(Array.from({ length: 8 }, (_, n) => cut` +
  "`select ${n}::int`" +
  `)));

// Reserved connections (the outbox relay's round: BEGIN and a read pipelined, then COMMIT) while the database is
// unreachable, and after it is back: every round settles (a reserve request handed to a reconnecting connection
// was dropped, and a query sent between a socket's error and its close was never settled: both hung for ever).
const relay = postgres(PROXY_URL, { max: 3, onnotice() {}, connect_timeout: 5 });
const round = async () => {
  const r = await relay.reserve();
  let open = false;
  try {
    const [begun, read] = await Promise.allSettled([r` +
  "`begin`" +
  `, r` +
  "`select 1`" +
  `]);
    if (begun.status === "rejected") throw begun.reason;
    open = true;
    if (read.status === "rejected") throw read.reason;
    await r` +
  "`commit`" +
  `;
    open = false;
  } finally {
    if (open) await r` +
  "`rollback`" +
  `.catch(() => {});
    r.release();
  }
};
await round();
const rounds = {};
const relayRounds = async (ms) => {
  const until = Date.now() + ms;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (Date.now() < until) {
      const o = await settle(round(), 45000);
      rounds[o] = (rounds[o] || 0) + 1;
      await pause(20);
    }
  }));
};
await relayRounds(500);
console.log("OUTAGE_BEGIN");
// The database is back after 2.5 s whatever the rounds do; those waiting then settle within postgres.js's
// reconnect backoff (up to 20 s).
setTimeout(() => console.log("OUTAGE_END"), 2500);
await relayRounds(2500);
// Back: rounds go through again once postgres.js has waited out its reconnect backoff (up to 20 s).
out.afterOutage = await settle((async () => { for (;;) { try { return await round(); } catch { await pause(200); } } })(), 40000);
await relayRounds(1000);
out.outage = rounds;
await Promise.all([sql.end({ timeout: 1 }), killer.end({ timeout: 1 }), cut.end({ timeout: 1 }), relay.end({ timeout: 1 })]);
out.uncaught = uncaught;
console.log("RESULT " + JSON.stringify(out));
// A connection whose reconnect was already scheduled when its pool ended opens again all the same (postgres.js
// 3.4.9) and keeps the process alive.
process.exit(0);
`;

describe("postgres.js under connection faults (patched)", () => {
  it("rejects queries on a closed connection and never throws uncaught", async () => {
    const direct = new URL(TEST_DATABASE_URL);
    const proxy = await tcpProxy({ target: { host: direct.hostname, port: Number(direct.port || 5432) } });
    const viaProxy = new URL(TEST_DATABASE_URL);
    viaProxy.host = `${proxy.host}:${proxy.port}`;
    let cutter: NodeJS.Timeout | undefined;
    let cuts = 0;
    let outage = false;
    let restored = false;
    try {
      const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
        cwd: join(REPO_ROOT, "packages/db"), // resolves "postgres" as @pps/db does
        env: { PATH: process.env.PATH ?? "", DIRECT_URL: TEST_DATABASE_URL, PROXY_URL: viaProxy.toString() },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (b: Buffer) => {
        output += b.toString();
        if (output.includes("STRESS_BEGIN") && !cutter)
          cutter = setInterval(() => {
            cuts += 1;
            proxy.cutAll({ reset: cuts % 2 === 0 });
          }, 120);
        if (output.includes("STRESS_END") && cutter) clearInterval(cutter);
        if (output.includes("OUTAGE_BEGIN") && !outage) {
          outage = true;
          proxy.pause("refuse");
        }
        if (output.includes("OUTAGE_END") && outage && !restored) {
          restored = true;
          proxy.resume();
        }
      });
      child.stderr.on("data", (b: Buffer) => {
        output += b.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect(code, output).toBe(0);
      const line = output.split("\n").find((l) => l.startsWith("RESULT "));
      expect(line, output).toBeDefined();
      const result = JSON.parse(line!.slice("RESULT ".length)) as {
        reservedFirst: string;
        reservedSecond: string;
        transaction: string;
        poolAfter: string;
        stress: Record<string, number>;
        proxyPoolAfter: string;
        outage: Record<string, number>;
        afterOutage: string;
        uncaught: string[];
      };
      expect(result.uncaught).toEqual([]);
      expect(result.reservedFirst).toBe("CONNECTION_CLOSED");
      expect(result.reservedSecond).toBe("CONNECTION_CLOSED");
      expect(result.transaction).toMatch(/^(CONNECTION_CLOSED|ECONNRESET|57P01)$/);
      expect(result.poolAfter).toBe("ok");
      expect(cuts).toBeGreaterThan(10);
      // Every query settled (none hung) and most went through between the cuts.
      expect(result.stress.hung, JSON.stringify(result.stress)).toBeUndefined();
      expect(result.stress.ok ?? 0).toBeGreaterThan(100);
      expect(result.proxyPoolAfter).toBe("ok");
      // Reserved connections through an outage: none hung, and they work again after it.
      expect(result.outage.hung, JSON.stringify(result.outage)).toBeUndefined();
      expect(result.outage.ok ?? 0, JSON.stringify(result.outage)).toBeGreaterThan(0);
      expect(result.afterOutage).toBe("ok");
    } finally {
      if (cutter) clearInterval(cutter);
      await proxy.close();
    }
  }, 120_000);
});
