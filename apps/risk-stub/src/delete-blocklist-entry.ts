import { and, eq } from "drizzle-orm";
import type { Handler } from "hono";
import { z } from "zod";
import type { Database } from "@pps/db";
import { riskBlocklist } from "@pps/db/schema";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";
import { blocklistKindSchema, normalizeBlocklistValue } from "./blocklist.ts";
import { bumpBlocklistVersion } from "./blocklist-store.ts";
import { parseOrThrow } from "@pps/runtime";
import type { RiskConfigCache } from "./risk-config.ts";

const paramsSchema = z.object({ kind: blocklistKindSchema, value: z.string().min(1).max(256) });

/** DELETE /v1/risk/blocklist/{kind}/{value}: unblocks. 204, or 404 when there was no such entry. */
export function deleteBlocklistEntry({ db, config }: { db: Database; config: RiskConfigCache }): Handler<AppEnv> {
  return async (c) => {
    const { kind, value: raw } = parseOrThrow(paramsSchema, { kind: c.req.param("kind"), value: c.req.param("value") }, "path is invalid");
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
    await config.refresh().catch((err: unknown) => c.get("logger").warn({ err }, "risk config refresh after a blocklist change failed; the periodic one will apply it"));
    return c.body(null, 204);
  };
}
