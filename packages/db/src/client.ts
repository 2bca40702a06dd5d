import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres, { type Sql } from "postgres";
import * as schema from "./schema/index.ts";

export type Database = PostgresJsDatabase<typeof schema> & { $client: Sql };

export type CreateDbOptions = {
  url: string;
  /** Connections in this process's pool. */
  max?: number;
  applicationName?: string;
};

export function createDb({ url, max = 10, applicationName = "pps" }: CreateDbOptions): Database {
  const sql = postgres(url, {
    max,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    // Plans are made for each execution's values. A prepared statement otherwise switches to one generic plan
    // after five runs, fixed while its tables were small (sequential scans) and never revisited as they grow.
    // Set-based statements over unnest() arrays are where it hurt: the generic plan cannot see the array size.
    connection: { application_name: applicationName, plan_cache_mode: "force_custom_plan" },
  });
  return drizzle(sql, { schema }) as Database;
}

/** Readiness probe: one round trip. */
export async function pingDb(db: Database): Promise<void> {
  await db.$client`select 1`;
}

export async function closeDb(db: Database, timeoutSeconds = 5): Promise<void> {
  await db.$client.end({ timeout: timeoutSeconds });
}
