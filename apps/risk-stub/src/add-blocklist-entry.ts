import { sql } from "drizzle-orm";
import type { Handler } from "hono";
import type { Database } from "@pps/db";
import { riskBlocklist } from "@pps/db/schema";
import type { AppEnv } from "@pps/runtime";
import { blocklistEntrySchema, normalizeBlocklistValue } from "./blocklist.ts";
import { blocklistEntryView, bumpBlocklistVersion } from "./blocklist-store.ts";
import { readJsonBody } from "@pps/runtime";
import type { RiskConfigCache } from "./risk-config.ts";

/**
 * POST /v1/risk/blocklist: blocks a payer id, device id or IP. 201 when added; 200 when it was already
 * there (its reason is replaced), so retrying is safe.
 */
export function addBlocklistEntry({ db, config }: { db: Database; config: RiskConfigCache }): Handler<AppEnv> {
  return async (c) => {
    const input = await readJsonBody(c, blocklistEntrySchema);
    const value = normalizeBlocklistValue(input.kind, input.value);
    const row = await db.transaction(async (tx) => {
      const [saved] = await tx
        .insert(riskBlocklist)
        .values({ kind: input.kind, value, reason: input.reason })
        .onConflictDoUpdate({ target: [riskBlocklist.kind, riskBlocklist.value], set: { reason: input.reason } })
        .returning({ kind: riskBlocklist.kind, value: riskBlocklist.value, reason: riskBlocklist.reason, createdAt: riskBlocklist.createdAt, inserted: sql<boolean>`(xmax = 0)` });
      await bumpBlocklistVersion(tx);
      return saved!;
    });
    c.get("logger").info({ kind: row.kind, inserted: row.inserted }, "blocklist entry saved");
    await config.refresh().catch((err: unknown) => c.get("logger").warn({ err }, "risk config refresh after a blocklist change failed; the periodic one will apply it"));
    return c.json(blocklistEntryView(row), row.inserted ? 201 : 200);
  };
}
