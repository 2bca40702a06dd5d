import { asc, eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskBlocklist } from "@pps/db/schema";
import { type AppEnv, BEARER_ERRORS, createRoute, errorResponses, json, type RouteHandler, z } from "@pps/runtime";
import { blocklistKindSchema } from "./blocklist.ts";
import { blocklistEntryViewSchema, blocklistEntryView } from "./blocklist-store.ts";
import { adminSecurity } from "./risk-api.ts";

const querySchema = z.strictObject({
  kind: blocklistKindSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export const listBlocklistRoute = createRoute({
  method: "get",
  path: "/v1/risk/blocklist",
  operationId: "listBlocklist",
  tags: ["Blocklist"],
  summary: "Blocklist entries, ordered by kind and value",
  security: adminSecurity,
  request: { query: querySchema },
  responses: {
    200: {
      description: "A page of entries.",
      content: json(
        z
          .object({ entries: z.array(blocklistEntryViewSchema), limit: z.int(), offset: z.int() })
          .openapi("BlocklistPage"),
      ),
    },
    ...errorResponses(BEARER_ERRORS),
  },
});

/** GET /v1/risk/blocklist[?kind=&limit=&offset=]: entries ordered by kind and value. */
export function listBlocklist({ db }: { db: Database }): RouteHandler<typeof listBlocklistRoute, AppEnv> {
  return async (c) => {
    const { kind, limit, offset } = c.req.valid("query");
    const rows = await db
      .select()
      .from(riskBlocklist)
      .where(kind ? eq(riskBlocklist.kind, kind) : undefined)
      .orderBy(asc(riskBlocklist.kind), asc(riskBlocklist.value))
      .limit(limit)
      .offset(offset);
    return c.json({ entries: rows.map(blocklistEntryView), limit, offset }, 200);
  };
}
