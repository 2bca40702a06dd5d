import type { ChannelId } from "@pps/channels";
import type { ChannelConfig } from "./ranking.ts";

/**
 * Seeded at start for any channel without a row (existing rows, i.e. operator changes, are never
 * overwritten). Fees are roughly what such channels charge: a direct bank link undercuts the scheme, wallets
 * take ~0.6 %, card acquirers ~3.4 % + a fixed part, carriers a large share. Limits and fixed fees are in
 * hundredths of a major unit of the payment's currency (converted per currency when routing, see `limitsIn`).
 */
export const DEFAULT_CHANNEL_CONFIGS: Record<ChannelId, Omit<ChannelConfig, "id">> = {
  bank_direct: { enabled: true, feeFixed: 0, feeRateBps: 50, minAmount: 1, maxAmount: 50_000_000, priority: 10 },
  unionpay: { enabled: true, feeFixed: 10, feeRateBps: 60, minAmount: 1, maxAmount: 100_000_000, priority: 20 },
  wechat: { enabled: true, feeFixed: 0, feeRateBps: 60, minAmount: 1, maxAmount: 10_000_000, priority: 10 },
  alipay: { enabled: true, feeFixed: 0, feeRateBps: 60, minAmount: 1, maxAmount: 10_000_000, priority: 20 },
  paypal: { enabled: true, feeFixed: 30, feeRateBps: 340, minAmount: 100, maxAmount: 10_000_000, priority: 10 },
  carrier: { enabled: true, feeFixed: 0, feeRateBps: 1_500, minAmount: 100, maxAmount: 50_000, priority: 10 },
};
