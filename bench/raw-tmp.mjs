import postgres from "postgres";
const sql = postgres("postgres://postgres@127.0.0.1:5432/pps", { max: 16, onnotice: () => {} });
await sql`create table if not exists public.bench_raw_insert (id bigserial primary key, payload text not null)`;
let rows = 0; const deadline = performance.now() + 5000; const start = performance.now();
await Promise.all(Array.from({ length: 16 }, async () => { while (performance.now() < deadline) { await sql`insert into public.bench_raw_insert (payload) values ('x')`; rows++; } }));
console.log((rows / ((performance.now() - start) / 1000)).toFixed(0), "rows/s");
await sql`drop table public.bench_raw_insert`; await sql.end();
