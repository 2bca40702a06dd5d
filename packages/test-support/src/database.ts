import { randomBytes } from "node:crypto";
import { closeDb, createDb, dropDatabase, runMigrations } from "@pps/db";
import { TEST_DATABASE_URL } from "./env.ts";

/**
 * A migrated database of a test file's own, beside the shared test database. For tests that count rows
 * a running app would touch in the shared one (an outbox relay deletes what it publishes, a dispatcher
 * claims due rows). `close` drops it.
 */
export async function isolatedDatabase(label: string, suffix = randomBytes(4).toString("hex")) {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/pps_${label}_${suffix}`;
  const databaseUrl = url.toString();
  await runMigrations(databaseUrl);
  const db = createDb({ url: databaseUrl, max: 4, applicationName: `${label}-test` });
  return {
    databaseUrl,
    db,
    async close() {
      await closeDb(db).catch(() => undefined);
      await dropDatabase(databaseUrl).catch(() => undefined);
    },
  };
}
