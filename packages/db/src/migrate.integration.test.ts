import { readFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
// Set by the global test setup (tests/global-setup.ts).
const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/pps_test";
import { dropDatabase, MIGRATIONS_FOLDER, runMigrations } from "./index.ts";

const url = (() => {
  const u = new URL(TEST_DATABASE_URL);
  u.pathname = `/pps_migrate_${randomBytes(4).toString("hex")}`;
  return u.toString();
})();

describe("migrations", () => {
  afterAll(() => dropDatabase(url));

  it("create the database, apply to it when empty, and apply nothing the second time", async () => {
    const journal = JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, "meta/_journal.json"), "utf8")) as {
      entries: unknown[];
    };
    await runMigrations(url);
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(applied[0]!.n).toBe(journal.entries.length);
      const tables =
        await sql`select table_schema || '.' || table_name as t from information_schema.tables where table_schema in ('payment','risk','routing','notify','recon')`;
      expect(tables.map((r) => r.t)).toEqual(
        expect.arrayContaining(["payment.outbox", "payment.inbox", "risk.outbox", "routing.outbox"]),
      );

      await runMigrations(url);
      await Promise.all([runMigrations(url), runMigrations(url)]); // concurrent runs wait on the advisory lock
      const again = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      expect(again[0]!.n).toBe(journal.entries.length);
    } finally {
      await sql.end();
    }
  });
});
