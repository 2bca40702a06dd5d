import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { sql } from "drizzle-orm";
import { pgTable, text } from "drizzle-orm/pg-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, createDb, type Database } from "@pps/db";
import { TEST_DATABASE_URL } from "@pps/test-support";
import { createLogger } from "./index.ts";

/**
 * Real failed queries (drizzle-orm's DrizzleQueryError around postgres.js's PostgresError), logged through
 * the real logger: no bound value may reach the line, while the SQL, the SQLSTATE and the stack do.
 */

// A temporary table lives on one connection: the pool has one.
let db: Database;
const probes = pgTable("log_leak_probes", { id: text("id").primaryKey(), secretKey: text("secret_key").notNull() });

beforeAll(async () => {
  db = createDb({ url: TEST_DATABASE_URL, max: 1, applicationName: "logger-test" });
  await db.execute(sql`create temporary table log_leak_probes (id text primary key, secret_key text not null unique)`);
});
afterAll(async () => {
  await closeDb(db);
});

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { output: () => lines.join(""), lines, logger: createLogger({ service: "leak-test", destination }) };
}

async function failure(run: () => Promise<unknown>): Promise<Error> {
  try {
    await run();
  } catch (err) {
    return err as Error;
  }
  throw new Error("the query did not fail");
}

const secret = (label: string) => `${label}_${randomBytes(12).toString("hex")}`;

/** Logs the error every way the code base does, and returns the lines. */
function logEveryWay(err: Error) {
  const { logger, output, lines } = capture();
  logger.error({ err, paymentId: "pay_1" }, "unhandled error");
  logger.error(err);
  logger.error({ err });
  logger.warn({ error: err }, "under another key");
  logger.error({ err: new Error("could not accept the payment", { cause: err }) }, "wrapped");
  // kafkajs through our log creator: `{ kafka: { stack: e.stack, error: e } }`.
  logger.error({ kafka: { topic: "t", stack: err.stack, error: err } }, "Error when calling eachBatch");
  return { text: output(), lines: lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("failed queries in log lines", () => {
  it("a unique violation shows neither the duplicate key nor any other value of the row", async () => {
    const merchantKey = secret("sk_live");
    const id = secret("m");
    await db.insert(probes).values({ id, secretKey: merchantKey });
    const other = secret("m");
    const err = await failure(() => db.insert(probes).values({ id: other, secretKey: merchantKey }));
    expect(err.constructor.name).toBe("DrizzleQueryError");
    expect(err.message).toContain(merchantKey); // what used to reach the logs

    const { text, lines } = logEveryWay(err);
    expect(text).not.toContain(merchantKey);
    expect(text).not.toContain(other);
    expect(text).not.toContain("Key (");
    expect(text).toContain("23505");
    expect(text).toContain('insert into \\"log_leak_probes\\"');
    const first = lines[0] as { err: Record<string, unknown> & { cause: Record<string, unknown> } };
    expect(first.err.message).toMatch(/^Failed query: insert into "log_leak_probes" .*values \(\$1, \$2\)$/);
    expect(first.err.stack).toMatch(/^Error: Failed query: insert into[^\n]*\n\s+at /);
    expect(first.err.cause).toMatchObject({
      type: "PostgresError",
      errorCode: "23505",
      severity: "ERROR",
      constraint_name: "log_leak_probes_secret_key_key",
      table_name: "log_leak_probes",
      routine: "_bt_check_unique",
      message: 'duplicate key value violates unique constraint "log_leak_probes_secret_key_key"',
    });
    expect(first.err.cause).not.toHaveProperty("detail");
    expect(lines[1]?.msg).toBe(first.err.message);
    expect(lines[2]?.msg).toBe(first.err.message);
  });

  it("invalid input syntax does not quote the value, even one with quotes in it", async () => {
    const key = secret("sk_live");
    const quoted = `${secret("a")}"${secret("b")}`;
    for (const value of [key, quoted]) {
      const err = await failure(() => db.execute(sql`select ${value}::int`));
      expect((err.cause as Error).message).toContain(value);
      const { text } = logEveryWay(err);
      for (const part of value.split('"')) expect(text).not.toContain(part);
      expect(text).toContain("22P02");
      expect(text).toContain("invalid input syntax for type integer");
      expect(text).not.toContain("unnamed portal parameter");
    }
  });

  it("a NUL byte in a text parameter does not bring the text along", async () => {
    const phone = `+86${randomBytes(5).toString("hex")}`;
    const ip = `10.${randomBytes(1)[0]}.${randomBytes(1)[0]}.77`;
    const err = await failure(() => db.insert(probes).values({ id: `${phone}\u0000`, secretKey: ip }));
    const { text } = logEveryWay(err);
    expect(text).not.toContain(phone);
    expect(text).not.toContain(ip);
    expect(text).toContain("22021");
  });

  it("a query through postgres.js directly keeps its statement, not its values", async () => {
    const payerId = secret("u");
    const err = await failure(() => db.$client`select ${payerId}::int as n`);
    expect(err.constructor.name).toBe("PostgresError");
    const { text, lines } = logEveryWay(err);
    expect(text).not.toContain(payerId);
    expect((lines[0] as { err: { sql: string } }).err.sql).toBe("select $1::int as n");
    expect(text).toContain("22P02");
  });
});
