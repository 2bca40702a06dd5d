import { desc, eq } from "drizzle-orm";
import type { Handler } from "hono";
import { z } from "zod";
import type { Database } from "@pps/db";
import { riskRules } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";
import { parseOrThrow } from "@pps/runtime";

const querySchema = z.object({ version: z.coerce.number().int().positive().optional() });

export function rulesView(row: { version: number; config: unknown; createdAt: Date }) {
  return { version: row.version, config: row.config, createdAt: row.createdAt.toISOString() };
}

/** GET /v1/risk/rules: the current rules; `?version=N` reads an older version (decisions name theirs). */
export function getRules({ db }: { db: Database }): Handler<AppEnv> {
  return async (c) => {
    const { version } = parseOrThrow(querySchema, c.req.query(), "query is invalid");
    const base = db.select().from(riskRules);
    const [row] = version === undefined ? await base.orderBy(desc(riskRules.version)).limit(1) : await base.where(eq(riskRules.version, version));
    if (!row) throw new AppError("request.not_found", version === undefined ? "no risk rules stored yet" : `no risk rules version ${version}`);
    return c.json(rulesView(row));
  };
}
