import postgres from "postgres";

/** Database names we create are plain identifiers; anything else is refused rather than quoted around. */
const SAFE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function databaseNameOf(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ""));
  if (!SAFE_NAME.test(name)) throw new Error(`database name must match ${SAFE_NAME}`);
  return name;
}

function maintenanceUrl(url: string): string {
  const u = new URL(url);
  u.pathname = "/postgres";
  return u.toString();
}

/** Creates the database named in `url` when it does not exist yet. Safe to run concurrently. */
export async function ensureDatabase(url: string): Promise<{ created: boolean }> {
  const name = databaseNameOf(url);
  const sql = postgres(maintenanceUrl(url), { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length > 0) return { created: false };
    try {
      await sql.unsafe(`create database "${name}"`);
      return { created: true };
    } catch (err) {
      // 42P04 duplicate_database: another process created it first.
      if ((err as { code?: string }).code === "42P04") return { created: false };
      throw err;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseNameOf(url);
  const sql = postgres(maintenanceUrl(url), { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`drop database if exists "${name}" with (force)`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** True when a Postgres server answers at `url`'s host and port. */
export async function canConnect(url: string): Promise<boolean> {
  const sql = postgres(maintenanceUrl(url), { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
