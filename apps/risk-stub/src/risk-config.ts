import { eq, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import { riskBlocklist, riskBlocklistVersion, riskRules } from "@pps/db/schema";
import type { Logger } from "@pps/logger";
import { buildBlocklist, BLOCKLIST_KINDS, type Blocklist } from "./blocklist.ts";
import type { RiskMetrics } from "./metrics.ts";
import { DEFAULT_RULES, rulesConfigSchema, type RulesConfig } from "./rules.ts";

/** The rules and blocklist one decision uses, read from memory. */
export type RiskConfig = {
  rulesVersion: number;
  rules: RulesConfig;
  blocklistVersion: number;
  blocklist: Blocklist;
};

export type RiskConfigCacheOptions = {
  db: Database;
  logger: Logger;
  refreshMs: number;
  metrics?: RiskMetrics;
};

/** Seeds the default rules (version 1) and the blocklist version row when absent; safe to race between replicas. */
export async function seedRiskConfig(db: Database): Promise<void> {
  await db.insert(riskRules).values({ version: 1, config: DEFAULT_RULES }).onConflictDoNothing();
  await db.insert(riskBlocklistVersion).values({ id: 1, version: 0 }).onConflictDoNothing();
}

/**
 * Keeps the current rules and blocklist in memory so that no decision reads them from Postgres. Every
 * `refreshMs` it reads two version numbers (one cheap round trip) and reloads only what changed; the admin
 * API calls `refresh()` after a write so this replica applies it at once, the others within `refreshMs`.
 */
export class RiskConfigCache {
  private config: RiskConfig | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly opts: RiskConfigCacheOptions) {}

  async start(): Promise<void> {
    await seedRiskConfig(this.opts.db);
    await this.refresh();
    this.timer = setInterval(() => {
      this.refresh().catch((err: unknown) =>
        this.opts.logger.warn({ err }, "risk config refresh failed; keeping the previous one"),
      );
    }, this.opts.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The config in use. Throws before the first load: the consumer starts only after it. */
  current(): RiskConfig {
    if (!this.config) throw new Error("risk config not loaded yet");
    return this.config;
  }

  /** Reloads what changed since the last load. Concurrent callers share one reload. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const { db, logger, metrics } = this.opts;
    const [versions] = await db.execute<{ rules_version: number | null; blocklist_version: string | number | null }>(
      sql`select (select max(version) from ${riskRules}) as rules_version, (select version from ${riskBlocklistVersion} where id = 1) as blocklist_version`,
    );
    const rulesVersion = versions?.rules_version ?? null;
    const blocklistVersion = Number(versions?.blocklist_version ?? 0);
    if (rulesVersion === null) throw new Error("no risk rules stored (seed missing)");
    const prev = this.config;

    let rules = prev?.rules;
    if (!prev || prev.rulesVersion !== rulesVersion) {
      const [row] = await db
        .select({ config: riskRules.config })
        .from(riskRules)
        .where(eq(riskRules.version, rulesVersion));
      const parsed = rulesConfigSchema.safeParse(row?.config);
      if (!parsed.success) {
        // Only the admin API writes rules and it validates them, so this is a schema change gone wrong:
        // keep deciding with the last good rules rather than with none.
        throw new Error(`stored risk rules version ${rulesVersion} are invalid: ${parsed.error.message}`);
      }
      rules = parsed.data;
      if (prev) logger.info({ from: prev.rulesVersion, to: rulesVersion }, "risk rules changed");
    }

    let blocklist = prev?.blocklist;
    // Read after the version: a change committed in between is loaded now and merely reloaded once more later.
    if (!prev || prev.blocklistVersion !== blocklistVersion) {
      blocklist = buildBlocklist(
        await db.select({ kind: riskBlocklist.kind, value: riskBlocklist.value }).from(riskBlocklist),
      );
    }

    this.config = { rulesVersion, rules: rules!, blocklistVersion, blocklist: blocklist! };
    metrics?.rulesVersion.set(rulesVersion);
    for (const kind of BLOCKLIST_KINDS) metrics?.blocklistEntries.set({ kind }, this.config.blocklist[kind].size);
  }
}
