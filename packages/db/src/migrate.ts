import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { ensureDatabase } from "./ensure-database.ts";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));

/**
 * Creates the database if missing and applies the committed drizzle-kit migrations. Applied migrations are
 * recorded in drizzle.__drizzle_migrations, so running it again applies nothing. An advisory lock keeps
 * replicas (or the Kubernetes Job and a developer) from migrating at the same time.
 */
export async function runMigrations(url: string, migrationsFolder: string = MIGRATIONS_FOLDER): Promise<void> {
  await ensureDatabase(url);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(7254011)`;
    await migrate(drizzle(sql), { migrationsFolder });
  } finally {
    await sql`select pg_advisory_unlock(7254011)`.catch(() => {});
    await sql.end({ timeout: 5 });
  }
}
