import type { ChannelCapabilities, ChannelId } from "@pps/channels";
import type { Product } from "@pps/domain";
import { percentageFee } from "@pps/money";
import { admission, type Circuit, type CircuitConfig, type CircuitStateName } from "./circuit-breaker.ts";

/** What routing needs to know about a payment. */
export type RoutingInput = {
  product: Product;
  amount: number;
  currency: string;
  bankCode: string | null;
  wallet: "wechat" | "alipay" | null;
};

/** Operator settings of one channel (routing.channels). */
export type ChannelConfig = {
  id: ChannelId;
  enabled: boolean;
  feeFixed: number;
  feeRateBps: number;
  minAmount: number;
  maxAmount: number;
  priority: number;
};

/** Recent health over the rolling window; nulls when there are too few calls to say. */
export type ChannelHealth = {
  calls: number;
  successRate: number | null;
  avgLatencyMs: number | null;
};

export type ChannelView = {
  id: ChannelId;
  capabilities: ChannelCapabilities;
  config: ChannelConfig | undefined;
  circuit: Circuit;
  health: ChannelHealth;
};

/** Stable strings: they are stored in routing.decisions and shown by the decisions API. */
export const EXCLUSION_REASONS = [
  "product_not_supported",
  "currency_not_supported",
  "above_channel_max_amount",
  "bank_not_supported",
  "wallet_not_supported",
  "not_configured",
  "disabled",
  "below_min_amount",
  "above_max_amount",
  "circuit_open",
  "circuit_probe_in_flight",
  "already_tried",
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

export type Candidate = {
  channel: ChannelId;
  excludedReason: ExclusionReason | null;
  /** Total fee for this amount, when the channel is configured and can execute the payment. */
  fee: number | null;
  feeFixed: number | null;
  feeRateBps: number | null;
  priority: number | null;
  successRate: number | null;
  avgLatencyMs: number | null;
  calls: number;
  circuit: CircuitStateName;
  /** The circuit lets one probe through; the caller must win it (or fall within the half-open share) to use this channel. */
  needsProbe: boolean;
  /** 1 = first choice; null when excluded. */
  rank: number | null;
};

function capabilityExclusion(input: RoutingInput, caps: ChannelCapabilities): ExclusionReason | null {
  if (!caps.products.includes(input.product)) return "product_not_supported";
  if (!caps.currencies.includes(input.currency)) return "currency_not_supported";
  if (caps.maxAmount !== undefined && input.amount > caps.maxAmount) return "above_channel_max_amount";
  // A direct bank link reaches only its own banks; a scheme ("*") reaches any bank.
  if (input.product === "online_banking" && caps.banks !== undefined && !caps.banks.includes("*")) {
    if (input.bankCode === null || !caps.banks.includes(input.bankCode)) return "bank_not_supported";
  }
  if (input.product === "platform_pay" && caps.wallets !== undefined) {
    if (input.wallet === null || !caps.wallets.includes(input.wallet)) return "wallet_not_supported";
  }
  return null;
}

/** Success rates closer than a percentage point and latencies closer than 10 ms count as equal. */
const successKey = (c: Candidate) => Math.round((c.successRate ?? 1) * 100);
const latencyKey = (c: Candidate) => Math.round((c.avgLatencyMs ?? 0) / 10);

export function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    (a.fee ?? Number.MAX_SAFE_INTEGER) - (b.fee ?? Number.MAX_SAFE_INTEGER) ||
    successKey(b) - successKey(a) ||
    latencyKey(a) - latencyKey(b) ||
    (a.priority ?? 0) - (b.priority ?? 0) ||
    (a.channel < b.channel ? -1 : a.channel > b.channel ? 1 : 0)
  );
}

/**
 * Every channel with the reason it cannot take this payment, or its place in the ranking: cheapest total fee
 * first, then higher recent success rate, then lower latency, then operator priority.
 */
export function rankChannels(
  input: RoutingInput,
  channels: readonly ChannelView[],
  now: number,
  circuitCfg: CircuitConfig,
  tried: readonly string[] = [],
  sample: () => number = Math.random,
): Candidate[] {
  const candidates = channels.map((ch): Candidate => {
    const capability = capabilityExclusion(input, ch.capabilities);
    const cfg = ch.config;
    const fee = cfg && capability === null ? percentageFee(input.amount, cfg.feeRateBps, cfg.feeFixed) : null;
    const gate = admission(ch.circuit, now, circuitCfg, sample());
    let excluded: ExclusionReason | null = capability;
    if (excluded === null && tried.includes(ch.id)) excluded = "already_tried";
    if (excluded === null && !cfg) excluded = "not_configured";
    if (excluded === null && cfg && !cfg.enabled) excluded = "disabled";
    if (excluded === null && cfg && input.amount < cfg.minAmount) excluded = "below_min_amount";
    if (excluded === null && cfg && input.amount > cfg.maxAmount) excluded = "above_max_amount";
    if (excluded === null && gate === "reject")
      excluded = ch.circuit.state === "half_open" ? "circuit_probe_in_flight" : "circuit_open";
    return {
      channel: ch.id,
      excludedReason: excluded,
      fee,
      feeFixed: cfg?.feeFixed ?? null,
      feeRateBps: cfg?.feeRateBps ?? null,
      priority: cfg?.priority ?? null,
      successRate: ch.health.successRate,
      avgLatencyMs: ch.health.avgLatencyMs,
      calls: ch.health.calls,
      circuit: ch.circuit.state,
      needsProbe: excluded === null && gate === "probe",
      rank: null,
    };
  });
  const eligible = candidates.filter((c) => c.excludedReason === null).sort(compareCandidates);
  eligible.forEach((c, i) => {
    c.rank = i + 1;
  });
  return [...eligible, ...candidates.filter((c) => c.excludedReason !== null)];
}

/** Eligible candidates in ranking order. */
export function ranked(candidates: readonly Candidate[]): Candidate[] {
  return candidates.filter((c) => c.rank !== null);
}
