import type { ChannelOutcome } from "@pps/channels";
import { CHANNEL_UNAVAILABLE } from "./failover-policy.ts";
import type { ChannelHealth } from "./ranking.ts";

/** Calls are counted in buckets of this size; health is the sum over the window. */
export const BUCKET_MS = 10_000;
export const HEALTH_WINDOW_MS = 5 * 60_000;
/** Below this many calls in the window a success rate or latency says too little to rank on. */
export const MIN_CALLS_FOR_HEALTH = 20;

export type CallCounts = {
  calls: number;
  succeeded: number;
  declined: number;
  failed: number;
  unknown: number;
  accepted: number;
  latencyMsSum: number;
};

export const emptyCounts = (): CallCounts => ({
  calls: 0,
  succeeded: 0,
  declined: 0,
  failed: 0,
  unknown: 0,
  accepted: 0,
  latencyMsSum: 0,
});

export function bucketStart(now: number): number {
  return now - (now % BUCKET_MS);
}

export function countCall(into: CallCounts, outcome: ChannelOutcome, latencyMs: number): void {
  into.calls++;
  into.latencyMsSum += Math.round(latencyMs);
  switch (outcome.status) {
    case "succeeded":
    case "authorized":
      into.succeeded++;
      break;
    case "failed":
      if (outcome.code === CHANNEL_UNAVAILABLE) into.failed++;
      else into.declined++;
      break;
    case "unknown":
      into.unknown++;
      break;
    case "pending":
    case "requires_action":
      into.accepted++;
      break;
  }
}

/** Success here is technical: the channel answered definitively (a decline is a working channel). */
export function healthOf(c: CallCounts): ChannelHealth {
  if (c.calls < MIN_CALLS_FOR_HEALTH) return { calls: c.calls, successRate: null, avgLatencyMs: null };
  return {
    calls: c.calls,
    successRate: (c.calls - c.failed - c.unknown) / c.calls,
    avgLatencyMs: Math.round(c.latencyMsSum / c.calls),
  };
}

/** Per-replica counts not yet added to routing.channel_stats, keyed by channel and bucket. */
export class PendingStats {
  private readonly byKey = new Map<string, { channel: string; bucket: number; counts: CallCounts }>();

  record(channel: string, outcome: ChannelOutcome, latencyMs: number, now = Date.now()): void {
    const bucket = bucketStart(now);
    const key = `${channel}|${bucket}`;
    let entry = this.byKey.get(key);
    if (!entry) {
      entry = { channel, bucket, counts: emptyCounts() };
      this.byKey.set(key, entry);
    }
    countCall(entry.counts, outcome, latencyMs);
  }

  /** Hands over everything recorded so far; on a failed write the caller puts it back with `restore`. */
  take(): { channel: string; bucket: number; counts: CallCounts }[] {
    const all = [...this.byKey.values()];
    this.byKey.clear();
    return all;
  }

  restore(entries: { channel: string; bucket: number; counts: CallCounts }[]): void {
    for (const e of entries) {
      const key = `${e.channel}|${e.bucket}`;
      const existing = this.byKey.get(key);
      if (!existing) this.byKey.set(key, e);
      else for (const k of Object.keys(e.counts) as (keyof CallCounts)[]) existing.counts[k] += e.counts[k];
    }
  }
}
