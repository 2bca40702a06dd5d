// `pnpm bench:notify`: the notifier alone, as real processes, against a local merchant endpoint that answers
// 200 after BENCH_NOTIFY_LATENCY_MS (20). A database and topic prefix of its own (the platform may run beside
// it, but then shares the CPU: the figures say what else was running). A backlog of notifications is written
// straight into Postgres, then one notifier replica runs, then two; each phase prints deliveries/s over a
// measured window after a warm-up, the CPU each process used, and the two-to-one ratio (target: at least 1.7).
import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { Kafka, logLevel } from "kafkajs";
import postgres from "postgres";
import { dropDatabase, runMigrations } from "@pps/db";
import { TOPICS } from "@pps/messaging";
import { freePort, spawnApp } from "@pps/test-support";
import { cpuSeconds, pidsOf } from "./proc-cpu.ts";

const env = process.env;
const DATABASE_URL = env.BENCH_NOTIFY_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pps_bench_notify";
const KAFKA_BROKERS = env.KAFKA_BROKERS ?? "127.0.0.1:9092";
const LATENCY_MS = Number(env.BENCH_NOTIFY_LATENCY_MS ?? 20);
const WARMUP_SECONDS = Number(env.BENCH_NOTIFY_WARMUP_SECONDS ?? 5);
const SECONDS = Number(env.BENCH_NOTIFY_SECONDS ?? 20);
const MERCHANTS = Number(env.BENCH_NOTIFY_MERCHANTS ?? 4);
const BACKLOG = Number(env.BENCH_NOTIFY_BACKLOG ?? 60_000);
/** Per merchant, across replicas: high enough that the endpoint's latency, not the ceiling, is not the limit. */
const CEILING = Number(env.BENCH_NOTIFY_MERCHANT_CEILING ?? 128);
const WORKERS = env.BENCH_NOTIFY_WORKERS ?? "128";
const SECRET = "bench-notify-secret-key-0123456789";
const topicPrefix = `bench.notify.${randomBytes(3).toString("hex")}.`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The merchant endpoint: 200 after the latency, counting first deliveries by event id. */
async function startReceiver() {
  const seen = new Set<string>();
  let delivered = 0;
  let duplicates = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      setTimeout(() => {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
        const id = req.headers["x-event-id"];
        if (typeof id !== "string") return;
        if (seen.has(id)) duplicates++;
        else {
          seen.add(id);
          delivered++;
        }
      }, LATENCY_MS);
    });
  });
  // Connections stay open between notifications, as a merchant's load balancer would allow.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`,
    delivered: () => delivered,
    duplicates: () => duplicates,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Stands in for payment-api's internal signing endpoint: every merchant signs with HMAC and one key. */
async function startSigningStub() {
  const server = createServer((req, res) => {
    const m = /^\/internal\/v1\/merchants\/([^/]+)\/signing$/.exec(req.url ?? "");
    if (!m) return void res.writeHead(404).end();
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ merchant_id: m[1], status: "active", sign_scheme: "HMAC_SHA256", secret_key: SECRET }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** A backlog of due notifications, spread over the merchants, written in one statement. */
async function seed(sql: postgres.Sql, merchants: string[], url: string, count: number) {
  await sql`truncate notify.notifications, notify.delivery_attempts, notify.merchant_lanes, notify.inbox`;
  for (const m of merchants)
    await sql`insert into notify.merchant_settings (merchant_id, max_concurrency) values (${m}, ${CEILING})
      on conflict (merchant_id) do update set max_concurrency = excluded.max_concurrency`;
  await sql`
    insert into notify.notifications (id, merchant_id, payment_id, event_id, event_type, object_version, url, body, status, next_attempt_at, event_occurred_at)
    select 'ntf_bench_' || e.g, (${merchants}::text[])[1 + e.g % ${merchants.length}], 'pay_bench_' || e.g, e.id, 'payment.succeeded', 4, ${url},
      json_build_object('id', e.id, 'type', 'payment.succeeded', 'created_at', now(), 'data', json_build_object('object', json_build_object('id', 'pay_bench_' || e.g, 'version', 4)))::text,
      'pending', now(), now()
    from (select g, gen_random_uuid() as id from generate_series(1, ${count}::int) g) e`;
}

async function startReplica(i: number, signingUrl: string) {
  const port = await freePort();
  const app = spawnApp("notifier", {
    DATABASE_URL,
    KAFKA_BROKERS,
    KAFKA_TOPIC_PREFIX: topicPrefix,
    PORT: String(port),
    HOST: "127.0.0.1",
    LOG_LEVEL: "warn",
    DB_POOL_MAX: "8",
    PAYMENT_API_URL: signingUrl,
    NOTIFY_ALLOWED_HOSTS: "127.0.0.1",
    NOTIFY_WORKERS: WORKERS,
    NOTIFY_POLL_MS: "50",
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (app.child.exitCode !== null) throw new Error(`notifier replica ${i} exited:\n${app.output().slice(-3000)}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`notifier replica ${i} did not start:\n${app.output().slice(-3000)}`);
    await sleep(200);
  }
  return { ...app, port };
}

type PhaseResult = {
  replicas: number;
  perSecond: number;
  cpu: Record<string, number>;
  load: number;
  /** Mean deliveries in flight per replica, and mean adaptive window per merchant and replica. */
  inFlight: number;
  window: number;
};

async function phase(
  replicas: number,
  sql: postgres.Sql,
  merchants: string[],
  signingUrl: string,
): Promise<PhaseResult> {
  const receiver = await startReceiver();
  await seed(sql, merchants, receiver.url, BACKLOG);
  const apps = await Promise.all(Array.from({ length: replicas }, (_, i) => startReplica(i, signingUrl)));
  try {
    await sleep(WARMUP_SECONDS * 1000);
    const pids = apps.map((a) => a.child.pid!);
    const before = { notifier: pids.map((p) => cpuSeconds([p])), postgres: cpuSeconds(pidsOf(/^postgres/)) };
    const benchBefore = process.cpuUsage();
    const start = receiver.delivered();
    const started = performance.now();
    // Deliveries in flight per replica, sampled: shows whether a replica ran short of work or of capacity.
    const inFlight: number[] = [];
    const windows: number[] = [];
    while (performance.now() - started < SECONDS * 1000) {
      await sleep(500);
      for (const a of apps) {
        const text = await fetch(`http://127.0.0.1:${a.port}/metrics`).then(
          (r) => r.text(),
          () => "",
        );
        for (const line of text.split("\n")) {
          if (line.startsWith("notification_deliveries_in_flight")) inFlight.push(Number(line.split(" ").at(-1)));
          if (line.startsWith("notification_concurrency_limit{")) windows.push(Number(line.split(" ").at(-1)));
        }
      }
    }
    const delivered = receiver.delivered() - start;
    const elapsed = (performance.now() - started) / 1000;
    const cpu: Record<string, number> = {};
    pids.forEach((p, i) => {
      cpu[`notifier ${i + 1}`] = (cpuSeconds([p]) - before.notifier[i]!) / elapsed;
    });
    cpu.postgres = (cpuSeconds(pidsOf(/^postgres/)) - before.postgres) / elapsed;
    const bench = process.cpuUsage(benchBefore);
    cpu["receiver (bench)"] = (bench.user + bench.system) / 1e6 / elapsed;
    if (delivered >= BACKLOG - 1_000) console.warn("  (the backlog ran out: raise BENCH_NOTIFY_BACKLOG)");
    if (receiver.duplicates() > 0) console.warn(`  (${receiver.duplicates()} notifications arrived twice)`);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
    return {
      replicas,
      perSecond: delivered / elapsed,
      cpu,
      load: loadavg()[0]!,
      inFlight: mean(inFlight),
      window: mean(windows),
    };
  } finally {
    await Promise.all(
      apps.map(async (a) => {
        a.child.kill("SIGTERM");
        await a.exited;
      }),
    );
    receiver.close();
  }
}

const kafka = new Kafka({ brokers: KAFKA_BROKERS.split(","), clientId: "bench-notify", logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  waitForLeaders: true,
  topics: Object.values(TOPICS).map((t) => ({ topic: `${topicPrefix}${t.name}`, numPartitions: 3 })),
});
await dropDatabase(DATABASE_URL);
await runMigrations(DATABASE_URL);
const sql = postgres(DATABASE_URL, { max: 2, onnotice: () => {} });
const signing = await startSigningStub();
const merchants = Array.from({ length: MERCHANTS }, () => `m_bench_${randomUUID().slice(0, 8)}`);
console.log(
  `notifier alone: ${MERCHANTS} merchants, endpoint answers 200 after ${LATENCY_MS} ms on 127.0.0.1, ${BACKLOG} due notifications per phase, ceiling ${CEILING} per merchant, ${WORKERS} workers per replica; ${WARMUP_SECONDS} s warm-up, ${SECONDS} s measured; load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
try {
  const results: PhaseResult[] = [];
  for (const replicas of [1, 2]) {
    const r = await phase(replicas, sql, merchants, signing.url);
    results.push(r);
    console.log(
      `${replicas} replica${replicas > 1 ? "s" : ""}: ${r.perSecond.toFixed(0)} deliveries/s; CPU cores used: ${Object.entries(
        r.cpu,
      )
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(
          ", ",
        )}; in flight per replica ${r.inFlight.toFixed(0)}, window per merchant ${r.window.toFixed(0)}; load average ${r.load.toFixed(2)}`,
    );
  }
  console.log(`two replicas / one: ${(results[1]!.perSecond / results[0]!.perSecond).toFixed(2)} (target ≥ 1.7)`);
} finally {
  await sql.end();
  signing.close();
  await dropDatabase(DATABASE_URL).catch(() => undefined);
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
  if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}
