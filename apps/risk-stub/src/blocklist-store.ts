import { sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskBlocklistVersion } from "@pps/db/schema";

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** Bumps the blocklist version in the caller's transaction, so replicas reload once the change commits. */
export async function bumpBlocklistVersion(tx: Tx): Promise<void> {
  await tx
    .insert(riskBlocklistVersion)
    .values({ id: 1, version: 1 })
    .onConflictDoUpdate({ target: riskBlocklistVersion.id, set: { version: sql`${riskBlocklistVersion.version} + 1` } });
}

export function blocklistEntryView(row: { kind: string; value: string; reason: string; createdAt: Date }) {
  return { kind: row.kind, value: row.value, reason: row.reason, createdAt: row.createdAt.toISOString() };
}
