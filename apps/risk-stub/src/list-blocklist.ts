import { asc, eq } from "drizzle-orm";
import type { Handler } from "hono";
import { z } from "zod";
import type { Database } from "@pps/db";
import { riskBlocklist } from "@pps/db/schema";
import type { AppEnv } from "@pps/runtime";
import { blocklistKindSchema } from "./blocklist.ts";
import { blocklistEntryView } from "./blocklist-store.ts";
import { parseOrThrow } from "@pps/runtime";

const querySchema = z.object({
  kind: blocklistKindSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** GET /v1/risk/blocklist[?kind=&limit=&offset=]: entries ordered by kind and value. */
export function listBlocklist({ db }: { db: Database }): Handler<AppEnv> {
  return async (c) => {
    const { kind, limit, offset } = parseOrThrow(querySchema, c.req.query(), "query is invalid");
    const rows = await db
      .select()
      .from(riskBlocklist)
      .where(kind ? eq(riskBlocklist.kind, kind) : undefined)
      .orderBy(asc(riskBlocklist.kind), asc(riskBlocklist.value))
      .limit(limit)
      .offset(offset);
    return c.json({ entries: rows.map(blocklistEntryView), limit, offset });
  };
}
