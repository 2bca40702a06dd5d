import { sql } from "drizzle-orm";
import type { Handler } from "hono";
import type { Database } from "@pps/db";
import { riskRules } from "@pps/db/schema";
import type { AppEnv } from "@pps/runtime";
import { rulesView } from "./get-rules.ts";
import { readJsonBody } from "@pps/runtime";
import type { RiskConfigCache } from "./risk-config.ts";
import { rulesConfigSchema } from "./rules.ts";

/** Serializes rule writers so version numbers are gapless without a retry loop. */
// Advisory lock ids are database-wide: 7_300_00x are the outbox relays (payment-api 0, risk 1, router 2, notifier 3).
const RULES_WRITE_LOCK = 7_300_012;

/**
 * PUT /v1/risk/rules: replaces the whole rules document. The new one becomes the next version; earlier
 * versions are kept. This replica applies it before answering; the others within RULES_REFRESH_MS.
 */
export function putRules({ db, config }: { db: Database; config: RiskConfigCache }): Handler<AppEnv> {
  return async (c) => {
    const rules = await readJsonBody(c, rulesConfigSchema);
    const row = await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${RULES_WRITE_LOCK})`);
      const [created] = await tx
        .insert(riskRules)
        .values({ version: sql`(select coalesce(max(${riskRules.version}), 0) + 1 from ${riskRules})`, config: rules })
        .returning();
      return created!;
    });
    c.get("logger").info({ version: row.version }, "risk rules replaced");
    await config.refresh().catch((err: unknown) => c.get("logger").warn({ err }, "risk config refresh after a rules change failed; the periodic one will apply it"));
    return c.json(rulesView(row));
  };
}
