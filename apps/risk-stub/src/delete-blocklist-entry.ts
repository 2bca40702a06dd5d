import { and, eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskBlocklist } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import { type AppEnv, BEARER_ERRORS, createRoute, errorResponses, noQuery, type RouteHandler, z } from "@pps/runtime";
import { blocklistKindSchema, normalizeBlocklistValue } from "./blocklist.ts";
import { bumpBlocklistVersion } from "./blocklist-store.ts";
import { adminSecurity } from "./risk-api.ts";
import type { RiskConfigCache } from "./risk-config.ts";

export const deleteBlocklistEntryRoute = createRoute({
  method: "delete",
  path: "/v1/risk/blocklist/{kind}/{value}",
  operationId: "deleteBlocklistEntry",
  tags: ["Blocklist"],
  summary: "Unblock",
  description: "URL-encode the value. An unknown kind is a validation error (400); a value that is not blocked, 404.",
  security: adminSecurity,
  request: {
    params: z.object({
      kind: blocklistKindSchema,
      value: z.string().min(1).max(256).openapi({ description: "The blocked value, URL-encoded." }),
    }),
    query: noQuery,
  },
  responses: {
    204: { description: "Removed." },
    ...errorResponses([...BEARER_ERRORS, "request.not_found"]),
  },
});

/** DELETE /v1/risk/blocklist/{kind}/{value}: unblocks. 204, or 404 when there was no such entry. */
export function deleteBlocklistEntry({
  db,
  config,
}: {
  db: Database;
  config: RiskConfigCache;
}): RouteHandler<typeof deleteBlocklistEntryRoute, AppEnv> {
  return async (c) => {
    const { kind, value: raw } = c.req.valid("param");
    const value = normalizeBlocklistValue(kind, raw);
    const deleted = await db.transaction(async (tx) => {
      const rows = await tx
        .delete(riskBlocklist)
        .where(and(eq(riskBlocklist.kind, kind), eq(riskBlocklist.value, value)))
        .returning({ kind: riskBlocklist.kind });
      if (rows.length > 0) await bumpBlocklistVersion(tx);
      return rows.length > 0;
    });
    if (!deleted) throw new AppError("request.not_found", `no ${kind} blocklist entry with that value`);
    c.get("logger").info({ kind }, "blocklist entry removed");
    await config
      .refresh()
      .catch((err: unknown) =>
        c
          .get("logger")
          .warn({ err }, "risk config refresh after a blocklist change failed; the periodic one will apply it"),
      );
    return c.body(null, 204);
  };
}
