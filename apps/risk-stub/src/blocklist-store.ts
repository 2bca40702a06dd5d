import { sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskBlocklistVersion } from "@pps/db/schema";
import { z } from "@pps/runtime";
import { blocklistKindSchema } from "./blocklist.ts";

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** Bumps the blocklist version in the caller's transaction, so replicas reload once the change commits. */
export async function bumpBlocklistVersion(tx: Tx): Promise<void> {
  await tx
    .insert(riskBlocklistVersion)
    .values({ id: 1, version: 1 })
    .onConflictDoUpdate({
      target: riskBlocklistVersion.id,
      set: { version: sql`${riskBlocklistVersion.version} + 1` },
    });
}

export const blocklistEntryViewSchema = z
  .object({
    kind: blocklistKindSchema,
    value: z.string().openapi({ description: "As stored: IP addresses in lower case." }),
    reason: z.string(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("BlocklistEntry");

export function blocklistEntryView(row: {
  kind: string;
  value: string;
  reason: string;
  createdAt: Date;
}): z.output<typeof blocklistEntryViewSchema> {
  // kind is one of BLOCKLIST_KINDS: the column has a check constraint and every writer validates it.
  return {
    kind: row.kind as z.output<typeof blocklistKindSchema>,
    value: row.value,
    reason: row.reason,
    createdAt: row.createdAt.toISOString(),
  };
}
