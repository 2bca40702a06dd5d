import { eq } from "drizzle-orm";
import type { ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import { simFaults } from "@pps/db/schema";

/**
 * Fault directives, set per channel (PUT /sim/faults/{channel}) or per request (metadata `sim_fault`,
 * comma-separated, carried in the channel's passthrough field).
 */
export const FAULT_FLAGS = [
  "decline",
  "insufficient_funds",
  "timeout",
  "5xx",
  "5xx_after_charge",
  "unavailable",
  "callback_duplicated",
  "callback_out_of_order",
  "callback_never",
] as const;
export const FAULT_WITH_MS = ["latency", "callback_delayed"] as const;

export type FaultSet = {
  flags: Set<(typeof FAULT_FLAGS)[number]>;
  latencyMs: number;
  callbackDelayMs: number;
};

export const FAULT_OPS = ["pay", "query"] as const;
export type FaultOp = (typeof FAULT_OPS)[number];

const MAX_MS = 120_000;

/** Parses directives; returns the ones it does not understand separately (rejected by the API, ignored per request). */
export function parseFaults(directives: readonly string[]): { faults: string[]; invalid: string[] } {
  const faults: string[] = [];
  const invalid: string[] = [];
  for (const raw of directives.flatMap((d) => d.split(",")).map((d) => d.trim()).filter(Boolean)) {
    const [name, arg] = raw.split(":", 2) as [string, string | undefined];
    if ((FAULT_FLAGS as readonly string[]).includes(name) && arg === undefined) faults.push(name);
    else if ((FAULT_WITH_MS as readonly string[]).includes(name) && arg !== undefined && /^\d+$/.test(arg) && Number(arg) <= MAX_MS) faults.push(`${name}:${Number(arg)}`);
    else invalid.push(raw);
  }
  return { faults, invalid };
}

export function toFaultSet(directives: readonly string[]): FaultSet {
  const set: FaultSet = { flags: new Set(), latencyMs: 0, callbackDelayMs: 0 };
  for (const d of parseFaults(directives).faults) {
    const [name, arg] = d.split(":", 2) as [string, string | undefined];
    if (name === "latency") set.latencyMs = Math.max(set.latencyMs, Number(arg));
    else if (name === "callback_delayed") set.callbackDelayMs = Math.max(set.callbackDelayMs, Number(arg));
    else set.flags.add(name as (typeof FAULT_FLAGS)[number]);
  }
  return set;
}

export type ChannelFaultSetting = { channel: string; faults: string[]; ops: string[]; percent: number; refPrefix: string | null; updatedAt: string };

type FaultRow = typeof simFaults.$inferSelect;

/** Whether a channel-wide setting hits this request: its reference scope, then one roll of the percentage. */
function hits(row: FaultRow, ref: string | null): boolean {
  if (row.refPrefix !== null && !(ref ?? "").startsWith(row.refPrefix)) return false;
  return row.percent >= 100 || Math.random() * 100 < row.percent;
}

export function createFaultStore(db: Database) {
  return {
    async list(): Promise<ChannelFaultSetting[]> {
      const rows = await db.select().from(simFaults);
      return rows.map((r) => ({ ...r, updatedAt: r.updatedAt.toISOString() }));
    },
    async set(channel: ChannelId, faults: string[], ops: FaultOp[], percent: number, refPrefix: string | null): Promise<ChannelFaultSetting> {
      const [row] = await db
        .insert(simFaults)
        .values({ channel, faults, ops, percent, refPrefix })
        .onConflictDoUpdate({ target: simFaults.channel, set: { faults, ops, percent, refPrefix, updatedAt: new Date() } })
        .returning();
      return { ...row!, updatedAt: row!.updatedAt.toISOString() };
    },
    async clear(channel?: ChannelId): Promise<void> {
      if (channel) await db.delete(simFaults).where(eq(simFaults.channel, channel));
      else await db.delete(simFaults);
    },
    /** The channel-wide directives that hit this request of `op` for merchant reference `ref`. */
    async active(channel: ChannelId, op: FaultOp, ref: string | null): Promise<string[]> {
      const [row] = await db.select().from(simFaults).where(eq(simFaults.channel, channel));
      return row?.ops.includes(op) && hits(row, ref) ? row.faults : [];
    },
    /**
     * Channel-wide directives for callbacks being queued now (whatever the ops). Called inside the pay or
     * payer-action transaction, so it reads through that transaction: taking a second pooled connection
     * there deadlocks once every connection holds such a transaction.
     */
    async activeForCallbacks(channel: ChannelId, ref: string, executor: Pick<Database, "select"> = db): Promise<string[]> {
      const [row] = await executor.select().from(simFaults).where(eq(simFaults.channel, channel));
      return row && hits(row, ref) ? row.faults.filter((f) => f.startsWith("callback_")) : [];
    },
  };
}

export type FaultStore = ReturnType<typeof createFaultStore>;
