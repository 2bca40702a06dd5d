import { desc, eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskRules } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import { type AppEnv, BEARER_ERRORS, createRoute, errorResponses, json, type RouteHandler, z } from "@pps/runtime";
import { adminSecurity } from "./risk-api.ts";
import { type RulesConfig, rulesConfigSchema } from "./rules.ts";

/** The rules document as the API documents it (rules.ts stays free of OpenAPI). */
export const rulesConfigBodySchema = rulesConfigSchema.openapi("RulesConfig");

export const rulesSchema = z
  .object({ version: z.int(), config: rulesConfigBodySchema, createdAt: z.string().openapi({ format: "date-time" }) })
  .openapi("RulesVersion");

export function rulesView(row: { version: number; config: unknown; createdAt: Date }): z.output<typeof rulesSchema> {
  // Stored only by PUT /v1/risk/rules (and the seed), after validation with rulesConfigSchema.
  return { version: row.version, config: row.config as RulesConfig, createdAt: row.createdAt.toISOString() };
}

export const getRulesRoute = createRoute({
  method: "get",
  path: "/v1/risk/rules",
  operationId: "getRules",
  tags: ["Rules"],
  summary: "The current rules, or an older version",
  description: "Decisions name the version they were made with; `?version=N` reads it.",
  security: adminSecurity,
  request: { query: z.strictObject({ version: z.coerce.number().int().positive().optional() }) },
  responses: {
    200: { description: "The rules version.", content: json(rulesSchema) },
    ...errorResponses([...BEARER_ERRORS, "request.not_found"]),
  },
});

/** GET /v1/risk/rules: the current rules; `?version=N` reads an older version (decisions name theirs). */
export function getRules({ db }: { db: Database }): RouteHandler<typeof getRulesRoute, AppEnv> {
  return async (c) => {
    const { version } = c.req.valid("query");
    const base = db.select().from(riskRules);
    const [row] =
      version === undefined
        ? await base.orderBy(desc(riskRules.version)).limit(1)
        : await base.where(eq(riskRules.version, version));
    if (!row)
      throw new AppError(
        "request.not_found",
        version === undefined ? "no risk rules stored yet" : `no risk rules version ${version}`,
      );
    return c.json(rulesView(row), 200);
  };
}
