import { eq, gt, lt, sql } from "drizzle-orm";
import type { ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import { routingChannelStats, routingChannels, routingCircuits } from "@pps/db/schema";
import { CLOSED, type Circuit, type CircuitStateName } from "./circuit-breaker.ts";
import { type CallCounts, emptyCounts } from "./health-stats.ts";
import type { ChannelConfig } from "./ranking.ts";

type CircuitRow = typeof routingCircuits.$inferSelect;
type ChannelRow = typeof routingChannels.$inferSelect;

const ms = (d: Date | null) => (d === null ? null : d.getTime());
const date = (n: number | null) => (n === null ? null : new Date(n));

export function circuitFromRow(r: CircuitRow): Circuit {
  return {
    state: r.state as CircuitStateName,
    consecutiveFailures: r.consecutiveFailures,
    openedAt: ms(r.openedAt),
    probeStartedAt: ms(r.probeStartedAt),
    forced: r.forced,
  };
}

function circuitColumns(c: Circuit) {
  return {
    state: c.state,
    consecutiveFailures: c.consecutiveFailures,
    openedAt: date(c.openedAt),
    probeStartedAt: date(c.probeStartedAt),
    forced: c.forced,
    updatedAt: new Date(),
  };
}

export function configFromRow(r: ChannelRow): ChannelConfig {
  return {
    id: r.id as ChannelId,
    enabled: r.enabled,
    feeFixed: r.feeFixed,
    feeRateBps: r.feeRateBps,
    minAmount: r.minAmount,
    maxAmount: r.maxAmount,
    priority: r.priority,
  };
}

export type ChannelUpdate = Partial<Omit<ChannelConfig, "id">>;

/** Postgres access for channel settings, circuits and health counts. */
export class ChannelStore {
  constructor(private readonly db: Database) {}

  /** Inserts defaults for channels without a row; operator changes stay as they are. */
  async seed(defaults: ChannelConfig[]): Promise<void> {
    if (defaults.length === 0) return;
    await this.db.insert(routingChannels).values(defaults).onConflictDoNothing();
    await this.db
      .insert(routingCircuits)
      .values(defaults.map((d) => ({ channel: d.id, ...circuitColumns(CLOSED) })))
      .onConflictDoNothing();
  }

  async configs(): Promise<ChannelConfig[]> {
    return (await this.db.select().from(routingChannels)).map(configFromRow);
  }

  async circuits(): Promise<Map<string, Circuit>> {
    const rows = await this.db.select().from(routingCircuits);
    return new Map(rows.map((r) => [r.channel, circuitFromRow(r)]));
  }

  /** Sums of the buckets that started after `since`, per channel. */
  async windowCounts(since: number): Promise<Map<string, CallCounts>> {
    const s = routingChannelStats;
    const rows = await this.db
      .select({
        channel: s.channel,
        calls: sql<string>`sum(${s.calls})`,
        succeeded: sql<string>`sum(${s.succeeded})`,
        declined: sql<string>`sum(${s.declined})`,
        failed: sql<string>`sum(${s.failed})`,
        unknown: sql<string>`sum(${s.unknown})`,
        accepted: sql<string>`sum(${s.accepted})`,
        latencyMsSum: sql<string>`sum(${s.latencyMsSum})`,
      })
      .from(s)
      .where(gt(s.bucketStart, new Date(since)))
      .groupBy(s.channel);
    const out = new Map<string, CallCounts>();
    for (const r of rows) {
      const c = emptyCounts();
      for (const k of Object.keys(c) as (keyof CallCounts)[]) c[k] = Number(r[k] ?? 0);
      out.set(r.channel, c);
    }
    return out;
  }

  /** Adds this replica's counts to the shared buckets in one statement. */
  async addCounts(entries: { channel: string; bucket: number; counts: CallCounts }[]): Promise<void> {
    if (entries.length === 0) return;
    const s = routingChannelStats;
    await this.db
      .insert(s)
      .values(entries.map((e) => ({ channel: e.channel, bucketStart: new Date(e.bucket), ...e.counts })))
      .onConflictDoUpdate({
        target: [s.channel, s.bucketStart],
        set: {
          calls: sql`${s.calls} + excluded.calls`,
          succeeded: sql`${s.succeeded} + excluded.succeeded`,
          declined: sql`${s.declined} + excluded.declined`,
          failed: sql`${s.failed} + excluded.failed`,
          unknown: sql`${s.unknown} + excluded.unknown`,
          accepted: sql`${s.accepted} + excluded.accepted`,
          latencyMsSum: sql`${s.latencyMsSum} + excluded.latency_ms_sum`,
        },
      });
  }

  async pruneCounts(olderThan: number): Promise<void> {
    await this.db.delete(routingChannelStats).where(lt(routingChannelStats.bucketStart, new Date(olderThan)));
  }

  async updateConfig(id: ChannelId, change: ChannelUpdate): Promise<ChannelConfig | undefined> {
    const [row] = await this.db
      .update(routingChannels)
      .set({ ...change, updatedAt: new Date() })
      .where(eq(routingChannels.id, id))
      .returning();
    return row ? configFromRow(row) : undefined;
  }

  /**
   * Read-modify-write of one circuit under its row lock, so concurrent replicas apply transitions one at a
   * time. `change` returns the new circuit, or the same object to leave it untouched.
   */
  async transition(
    channel: string,
    change: (current: Circuit) => Circuit,
  ): Promise<{ before: Circuit; after: Circuit }> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(routingCircuits).where(eq(routingCircuits.channel, channel)).for("update");
      const before = row ? circuitFromRow(row) : CLOSED;
      const after = change(before);
      if (after !== before) {
        await tx
          .insert(routingCircuits)
          .values({ channel, ...circuitColumns(after) })
          .onConflictDoUpdate({ target: routingCircuits.channel, set: circuitColumns(after) });
      }
      return { before, after };
    });
  }
}
