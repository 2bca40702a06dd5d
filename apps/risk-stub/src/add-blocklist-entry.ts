import { sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskBlocklist } from "@pps/db/schema";
import {
  type AppEnv,
  BEARER_ERRORS,
  boundedJson,
  createRoute,
  errorResponses,
  json,
  JSON_BODY_ERRORS,
  noQuery,
  type RouteHandler,
} from "@pps/runtime";
import { blocklistEntrySchema, normalizeBlocklistValue } from "./blocklist.ts";
import { blocklistEntryView, blocklistEntryViewSchema, bumpBlocklistVersion } from "./blocklist-store.ts";
import { adminSecurity, MAX_BODY_BYTES } from "./risk-api.ts";
import type { RiskConfigCache } from "./risk-config.ts";

export const addBlocklistEntryRoute = createRoute({
  method: "post",
  path: "/v1/risk/blocklist",
  operationId: "addBlocklistEntry",
  tags: ["Blocklist"],
  summary: "Block a payer id, device id or IP address",
  description:
    "Retrying is safe: an entry already there answers 200 (its reason is replaced). IPs must be literal IPv4 or IPv6 addresses (no ranges).",
  security: adminSecurity,
  middleware: [boundedJson(MAX_BODY_BYTES)],
  request: {
    query: noQuery,
    body: { required: true, content: json(blocklistEntrySchema.openapi("NewBlocklistEntry")) },
  },
  responses: {
    201: { description: "Added.", content: json(blocklistEntryViewSchema) },
    200: { description: "It was already there; its reason is replaced.", content: json(blocklistEntryViewSchema) },
    ...errorResponses([...BEARER_ERRORS, ...JSON_BODY_ERRORS]),
  },
});

/**
 * POST /v1/risk/blocklist: blocks a payer id, device id or IP. 201 when added; 200 when it was already
 * there (its reason is replaced), so retrying is safe.
 */
export function addBlocklistEntry({
  db,
  config,
}: {
  db: Database;
  config: RiskConfigCache;
}): RouteHandler<typeof addBlocklistEntryRoute, AppEnv> {
  return async (c) => {
    const input = c.req.valid("json");
    const value = normalizeBlocklistValue(input.kind, input.value);
    const row = await db.transaction(async (tx) => {
      const [saved] = await tx
        .insert(riskBlocklist)
        .values({ kind: input.kind, value, reason: input.reason })
        .onConflictDoUpdate({ target: [riskBlocklist.kind, riskBlocklist.value], set: { reason: input.reason } })
        .returning({
          kind: riskBlocklist.kind,
          value: riskBlocklist.value,
          reason: riskBlocklist.reason,
          createdAt: riskBlocklist.createdAt,
          inserted: sql<boolean>`(xmax = 0)`,
        });
      await bumpBlocklistVersion(tx);
      return saved!;
    });
    c.get("logger").info({ kind: row.kind, inserted: row.inserted }, "blocklist entry saved");
    await config
      .refresh()
      .catch((err: unknown) =>
        c
          .get("logger")
          .warn({ err }, "risk config refresh after a blocklist change failed; the periodic one will apply it"),
      );
    return row.inserted ? c.json(blocklistEntryView(row), 201) : c.json(blocklistEntryView(row), 200);
  };
}
