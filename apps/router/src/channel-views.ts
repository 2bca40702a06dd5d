import { type ChannelId, isChannelId } from "@pps/channels";
import { AppError } from "@pps/domain";
import type { ChannelState } from "./channel-state.ts";
import type { Circuit } from "./circuit-breaker.ts";
import { HEALTH_WINDOW_MS } from "./health-stats.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function circuitView(c: Circuit) {
  return { state: c.state, consecutiveFailures: c.consecutiveFailures, openedAt: iso(c.openedAt), probeStartedAt: iso(c.probeStartedAt), forced: c.forced };
}

/** A channel as the admin API shows it: operator settings, static capabilities, circuit. */
export function channelView(state: ChannelState, id: ChannelId) {
  const config = state.config(id);
  return {
    id,
    configured: config !== undefined,
    enabled: config?.enabled ?? false,
    feeFixed: config?.feeFixed ?? null,
    feeRateBps: config?.feeRateBps ?? null,
    minAmount: config?.minAmount ?? null,
    maxAmount: config?.maxAmount ?? null,
    priority: config?.priority ?? null,
    capabilities: state.capabilities(id) ?? null,
    circuit: circuitView(state.circuit(id)),
  };
}

export function healthView(state: ChannelState, id: ChannelId) {
  const counts = state.windowCounts(id);
  const ranking = state.health(id);
  return {
    channel: id,
    circuit: circuitView(state.circuit(id)),
    window: {
      seconds: HEALTH_WINDOW_MS / 1000,
      ...counts,
      successRate: counts.calls > 0 ? (counts.calls - counts.failed - counts.unknown) / counts.calls : null,
      avgLatencyMs: counts.calls > 0 ? Math.round(counts.latencyMsSum / counts.calls) : null,
    },
    /** What ranking uses (null below the minimum number of calls). */
    ranking: { successRate: ranking.successRate, avgLatencyMs: ranking.avgLatencyMs },
  };
}

/** A channel id from the path that this router has an adapter for, or 404. */
export function knownChannel(state: ChannelState, id: string): ChannelId {
  if (!isChannelId(id) || !state.channelIds().includes(id)) throw new AppError("channel.unknown", `unknown channel ${id}`);
  return id;
}
