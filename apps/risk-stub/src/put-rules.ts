import { sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskRules } from "@pps/db/schema";
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
import { rulesConfigBodySchema, rulesSchema, rulesView } from "./get-rules.ts";
import { adminSecurity, MAX_BODY_BYTES } from "./risk-api.ts";
import type { RiskConfigCache } from "./risk-config.ts";

/** Serializes rule writers so version numbers are gapless without a retry loop. */
// Advisory lock ids are database-wide: 7_300_00x are the outbox relays (payment-api 0, risk 1, router 2, notifier 3).
const RULES_WRITE_LOCK = 7_300_012;

export const putRulesRoute = createRoute({
  method: "put",
  path: "/v1/risk/rules",
  operationId: "putRules",
  tags: ["Rules"],
  summary: "Replace the whole rules document",
  description:
    "The new document becomes the next version; earlier versions are kept. This replica applies it before answering, the others within RULES_REFRESH_MS. Amounts are integer minor units; every limit is inclusive.",
  security: adminSecurity,
  middleware: [boundedJson(MAX_BODY_BYTES)],
  request: { query: noQuery, body: { required: true, content: json(rulesConfigBodySchema) } },
  responses: {
    200: { description: "The new version.", content: json(rulesSchema) },
    ...errorResponses([...BEARER_ERRORS, ...JSON_BODY_ERRORS]),
  },
});

/**
 * PUT /v1/risk/rules: replaces the whole rules document. The new one becomes the next version; earlier
 * versions are kept. This replica applies it before answering; the others within RULES_REFRESH_MS.
 */
export function putRules({
  db,
  config,
}: {
  db: Database;
  config: RiskConfigCache;
}): RouteHandler<typeof putRulesRoute, AppEnv> {
  return async (c) => {
    const rules = c.req.valid("json");
    const row = await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${RULES_WRITE_LOCK})`);
      const [created] = await tx
        .insert(riskRules)
        .values({ version: sql`(select coalesce(max(${riskRules.version}), 0) + 1 from ${riskRules})`, config: rules })
        .returning();
      return created!;
    });
    c.get("logger").info({ version: row.version }, "risk rules replaced");
    await config
      .refresh()
      .catch((err: unknown) =>
        c
          .get("logger")
          .warn({ err }, "risk config refresh after a rules change failed; the periodic one will apply it"),
      );
    return c.json(rulesView(row), 200);
  };
}
