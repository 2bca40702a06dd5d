import type { ChannelCapabilities, ChannelId } from "@pps/channels";
import type { CaptureMethod, Product } from "@pps/domain";
import { fromHundredths, isCurrencyCode, percentageFee } from "@pps/money";
import { admission, type Circuit, type CircuitConfig, type CircuitStateName } from "./circuit-breaker.ts";

/** What routing needs to know about a payment. */
export type RoutingInput = {
  product: Product;
  amount: number;
  currency: string;
  bankCode: string | null;
  wallet: "wechat" | "alipay" | null;
  /** manual: authorize now, capture later; only channels that offer `authorize` can take it. */
  captureMethod: CaptureMethod;
};

/**
 * Operator settings of one channel (routing.channels). `feeFixed`, `minAmount` and `maxAmount` are in
 * hundredths of a major unit of the payment's currency (10_000_000 = 100,000.00 of any currency), so one
 * setting holds for CNY, USD and JPY alike; `limitsIn` turns them into minor units of a currency.
 */
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
  "flow_not_supported",
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
  /** Total fee for this amount in minor units of its currency, when the channel is configured and can execute the payment. */
  fee: number | null;
  /** The fixed part of the fee in minor units of the payment's currency (the setting converted). */
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
  // A code without an ISO exponent could not have its limits and fee converted.
  if (!caps.currencies.includes(input.currency) || !isCurrencyCode(input.currency)) return "currency_not_supported";
  if (caps.maxAmount !== undefined && input.amount > caps.maxAmount) return "above_channel_max_amount";
  // A direct bank link reaches only its own banks; a scheme ("*") reaches any bank.
  if (input.product === "online_banking" && caps.banks !== undefined && !caps.banks.includes("*")) {
    if (input.bankCode === null || !caps.banks.includes(input.bankCode)) return "bank_not_supported";
  }
  if (input.product === "platform_pay" && caps.wallets !== undefined) {
    if (input.wallet === null || !caps.wallets.includes(input.wallet)) return "wallet_not_supported";
  }
  // A manual-capture payment needs a channel that can hold the money (pre-authorization, fund freeze).
  if (input.captureMethod === "manual" && caps.flows.authorize === undefined) return "flow_not_supported";
  return null;
}

/** A channel's operator limits and fixed fee in minor units of `currency`. */
export type ChannelLimits = { currency: string; minAmount: number; maxAmount: number; feeFixed: number };

/**
 * The settings (hundredths of a major unit) in minor units of `currency`: a limit is never loosened by the
 * rounding (the minimum up, the maximum down), and the fixed fee is rounded half up like the percentage.
 */
export function limitsIn(
  cfg: Pick<ChannelConfig, "minAmount" | "maxAmount" | "feeFixed">,
  currency: string,
): ChannelLimits {
  return {
    currency,
    minAmount: fromHundredths(cfg.minAmount, currency, "up"),
    maxAmount: fromHundredths(cfg.maxAmount, currency, "down"),
    feeFixed: fromHundredths(cfg.feeFixed, currency, "half_up"),
  };
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
    // Converted only for a currency the channel takes (and that has an ISO exponent).
    const limits = cfg && capability === null ? limitsIn(cfg, input.currency) : null;
    const fee = cfg && limits ? percentageFee(input.amount, cfg.feeRateBps, limits.feeFixed) : null;
    const gate = admission(ch.circuit, now, circuitCfg, sample());
    let excluded: ExclusionReason | null = capability;
    if (excluded === null && tried.includes(ch.id)) excluded = "already_tried";
    if (excluded === null && !cfg) excluded = "not_configured";
    if (excluded === null && cfg && !cfg.enabled) excluded = "disabled";
    if (excluded === null && limits && input.amount < limits.minAmount) excluded = "below_min_amount";
    if (excluded === null && limits && input.amount > limits.maxAmount) excluded = "above_max_amount";
    if (excluded === null && gate === "reject")
      excluded = ch.circuit.state === "half_open" ? "circuit_probe_in_flight" : "circuit_open";
    return {
      channel: ch.id,
      excludedReason: excluded,
      fee,
      feeFixed: limits?.feeFixed ?? null,
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
