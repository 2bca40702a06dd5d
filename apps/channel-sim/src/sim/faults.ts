import { eq, sql } from "drizzle-orm";
import type { ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import { simFaults } from "@pps/db/schema";
import type { Logger } from "@pps/logger";
import type { Tx } from "./deps.ts";

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

/** What a channel-wide setting can affect: pay, payment queries, each operation flow, and operation queries. */
export const FAULT_OPS = ["pay", "query", "capture", "void", "cancel", "refund", "query_operation"] as const;
export type FaultOp = (typeof FAULT_OPS)[number];

const MAX_MS = 120_000;

/** Parses directives; returns the ones it does not understand separately (rejected by the API, ignored per request). */
export function parseFaults(directives: readonly string[]): { faults: string[]; invalid: string[] } {
  const faults: string[] = [];
  const invalid: string[] = [];
  for (const raw of directives
    .flatMap((d) => d.split(","))
    .map((d) => d.trim())
    .filter(Boolean)) {
    const [name, arg] = raw.split(":", 2) as [string, string | undefined];
    if ((FAULT_FLAGS as readonly string[]).includes(name) && arg === undefined) faults.push(name);
    else if (
      (FAULT_WITH_MS as readonly string[]).includes(name) &&
      arg !== undefined &&
      /^\d+$/.test(arg) &&
      Number(arg) <= MAX_MS
    )
      faults.push(`${name}:${Number(arg)}`);
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

export type ChannelFaultSetting = {
  channel: string;
  faults: string[];
  ops: string[];
  percent: number;
  refPrefix: string | null;
  updatedAt: string;
};

type FaultRow = typeof simFaults.$inferSelect;
type Settings = ReadonlyMap<string, FaultRow>;

/** Postgres channel on which a change of the settings is announced to every replica. */
const CHANGED = "sim_faults_changed";
/** Settings are also re-read this often, in case the LISTEN connection was lost and could not be restored. */
const BACKSTOP_REFRESH_MS = 5_000;

/** Whether a channel-wide setting hits this request: its reference scope, then one roll of the percentage. */
function hits(row: FaultRow, ref: string | null): boolean {
  if (row.refPrefix !== null && !(ref ?? "").startsWith(row.refPrefix)) return false;
  return row.percent >= 100 || Math.random() * 100 < row.percent;
}

async function readSettings(db: Database): Promise<Settings> {
  return new Map((await db.select().from(simFaults)).map((r) => [r.channel, r]));
}

/**
 * The channel-wide fault settings. Every pay request and every queued callback consults them, so they are
 * kept in memory instead of read each time: a change made through this replica is in force before its
 * PUT/DELETE answers, and other replicas hear of it at once by NOTIFY (sent in the changing transaction)
 * and re-read the table; they also re-read it when their LISTEN connection is (re)established and every
 * few seconds as a backstop.
 */
export function createFaultStore(db: Database, logger: Logger) {
  let settings: Settings | null = null;
  /** A re-read asked for but not started yet: later askers share it (it will see their writes too). */
  let queued: Promise<Settings> | null = null;
  let latest: Promise<unknown> = Promise.resolve();
  let listener: { unlisten: () => Promise<void> } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let subscribing = false;
  let stopped = false;

  /** Re-reads the table after any re-read in progress, so what it installs reflects every write made before the call. */
  function reload(): Promise<Settings> {
    if (queued) return queued;
    const next = latest
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return readSettings(db);
      })
      .then((read) => (settings = read));
    queued = next;
    latest = next;
    return next;
  }

  const refreshQuietly = () => {
    reload().catch((err: unknown) =>
      logger.error({ err }, "could not re-read the fault settings; using the last known ones"),
    );
  };

  const current = (): Promise<Settings> => (settings ? Promise.resolve(settings) : reload());

  /** Writes in a transaction that also announces the change, then takes it in here before answering. */
  async function change<T>(write: (tx: Tx) => Promise<T>, channel: string): Promise<T> {
    const result = await db.transaction(async (tx) => {
      const r = await write(tx);
      await tx.execute(sql`select pg_notify(${CHANGED}, ${channel})`);
      return r;
    });
    await reload();
    return result;
  }

  return {
    /**
     * Subscribes and loads in the background, so the service starts (and answers /readyz 503) while the
     * database is unreachable; until loaded, callers read the table on demand. The backstop retries both.
     */
    async start(): Promise<void> {
      stopped = false;
      const subscribe = async () => {
        if (subscribing || listener || stopped) return;
        subscribing = true;
        try {
          const l = await db.$client.listen(CHANGED, refreshQuietly, refreshQuietly);
          if (stopped) await l.unlisten();
          else listener = l;
          await reload();
        } catch (err) {
          logger.warn({ err }, "fault settings not subscribed yet (database unreachable?); retrying");
        } finally {
          subscribing = false;
        }
      };
      timer = setInterval(() => {
        if (listener) refreshQuietly();
        else void subscribe();
      }, BACKSTOP_REFRESH_MS);
      timer.unref();
      void subscribe();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await listener?.unlisten();
      listener = undefined;
    },
    async list(): Promise<ChannelFaultSetting[]> {
      const rows = await db.select().from(simFaults);
      return rows.map((r) => ({ ...r, updatedAt: r.updatedAt.toISOString() }));
    },
    async set(
      channel: ChannelId,
      faults: string[],
      ops: FaultOp[],
      percent: number,
      refPrefix: string | null,
    ): Promise<ChannelFaultSetting> {
      const row = await change(async (tx) => {
        const [written] = await tx
          .insert(simFaults)
          .values({ channel, faults, ops, percent, refPrefix })
          .onConflictDoUpdate({
            target: simFaults.channel,
            set: { faults, ops, percent, refPrefix, updatedAt: new Date() },
          })
          .returning();
        return written!;
      }, channel);
      return { ...row, updatedAt: row.updatedAt.toISOString() };
    },
    async clear(channel?: ChannelId): Promise<void> {
      await change(async (tx) => {
        if (channel) await tx.delete(simFaults).where(eq(simFaults.channel, channel));
        else await tx.delete(simFaults);
      }, channel ?? "*");
    },
    /** The channel-wide directives that hit this request of `op` for merchant reference `ref`. */
    async active(channel: ChannelId, op: FaultOp, ref: string | null): Promise<string[]> {
      const row = (await current()).get(channel);
      return row?.ops.includes(op) && hits(row, ref) ? row.faults : [];
    },
    /**
     * Channel-wide directives for callbacks being queued now (whatever the ops). Until the settings are in
     * memory, it reads through `executor`, the caller's transaction: taking a second pooled connection there
     * deadlocks once every connection holds such a transaction.
     */
    async activeForCallbacks(
      channel: ChannelId,
      ref: string,
      executor: Pick<Database, "select"> = db,
    ): Promise<string[]> {
      const row = settings
        ? settings.get(channel)
        : (await executor.select().from(simFaults).where(eq(simFaults.channel, channel)))[0];
      return row && hits(row, ref) ? row.faults.filter((f) => f.startsWith("callback_")) : [];
    },
  };
}

export type FaultStore = ReturnType<typeof createFaultStore>;
