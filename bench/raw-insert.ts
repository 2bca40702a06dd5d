import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { cpuSeconds, pidsOf } from "./proc-cpu.ts";

/**
 * The raw single-row insert rate of a Postgres: one autocommit INSERT of one row per round trip, from
 * `connections` connections at once, for `seconds`. The yardstick the benchmarks' rates are divided by, so
 * their targets hold on machines of any speed.
 */
export async function rawInsertRate(url: string, opts: { connections: number; seconds: number }): Promise<number> {
  return (await rawInsert(url, opts)).rate;
}

/** rawInsertRate, with the Postgres CPU (every backend) per row inserted. */
export async function rawInsert(
  url: string,
  opts: { connections: number; seconds: number },
): Promise<{ rate: number; postgresCpuMsPerRow: number }> {
  const sql = postgres(url, { max: opts.connections, onnotice: () => undefined });
  const table = `public.bench_raw_insert_${process.pid}`;
  await sql.unsafe(
    `create table if not exists ${table} (id bigserial primary key, payload text not null, created_at timestamptz not null default now())`,
  );
  let rows = 0;
  await sql.unsafe(`insert into ${table} (payload) values ('warm-up')`);
  const cpuBefore = cpuSeconds(pidsOf(/^postgres/));
  const start = performance.now();
  const deadline = start + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      while (performance.now() < deadline) {
        await sql.unsafe(`insert into ${table} (payload) values ($1)`, [randomBytes(16).toString("hex")]);
        rows++;
      }
    }),
  );
  const rate = rows / ((performance.now() - start) / 1000);
  // Before the pool closes: its backends' CPU goes with them.
  const postgresCpuMsPerRow = ((cpuSeconds(pidsOf(/^postgres/)) - cpuBefore) * 1000) / Math.max(1, rows);
  await sql.unsafe(`drop table ${table}`);
  await sql.end();
  return { rate, postgresCpuMsPerRow };
}
