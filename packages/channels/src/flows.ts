import { DEFAULT_CUTOFF_MINUTES, type OperationKind } from "@pps/domain";
import type { ChannelFlows, ChannelId } from "./types.ts";

const DAY_MS = 86_400_000;

/**
 * What each channel can do after a sale, and its rules (design brief section 4, from the real schemes'
 * public rules). The adapters declare it, the router and payment-api refuse a flow a channel lacks before
 * anything is written, and channel-sim enforces the same rules with its own clock and book.
 * - bank_direct: pre-authorization held 7 days; same-day cancel before the 23:00 cut-off; refunds once settled, partial.
 * - unionpay: capture within 30 days; void in full; same-day cancel; refunds once settled, partial, result by callback.
 * - wechat: no pre-authorization, no cancel: refunds any time within a year, at most 50 per payment, result by callback.
 * - alipay: fund freeze (authorize) and unfreeze-to-pay (capture) or unfreeze (void); refunds partial, each with its own request number.
 * - paypal: authorize/capture with a 3-day honour period, void before capture; refunds partial within 180 days.
 * - carrier: refunds of small amounts (CNY 100.00 at most) within the same bill period (the calendar month in Beijing).
 */
export const CHANNEL_FLOWS: Record<ChannelId, ChannelFlows> = {
  bank_direct: {
    cutoffMinutes: DEFAULT_CUTOFF_MINUTES,
    authorize: { windowMs: 7 * DAY_MS },
    capture: { partial: true },
    void: {},
    cancel: {},
    refund: { partial: true, afterSettlementOnly: true, windowDays: 365, maxPerPayment: null, async: false },
  },
  unionpay: {
    cutoffMinutes: DEFAULT_CUTOFF_MINUTES,
    authorize: { windowMs: 30 * DAY_MS },
    capture: { partial: true },
    void: {},
    cancel: {},
    refund: { partial: true, afterSettlementOnly: true, windowDays: 365, maxPerPayment: null, async: true },
  },
  wechat: {
    cutoffMinutes: DEFAULT_CUTOFF_MINUTES,
    refund: { partial: true, afterSettlementOnly: false, windowDays: 365, maxPerPayment: 50, async: true },
  },
  alipay: {
    cutoffMinutes: DEFAULT_CUTOFF_MINUTES,
    authorize: { windowMs: 30 * DAY_MS },
    capture: { partial: true },
    void: {},
    refund: { partial: true, afterSettlementOnly: false, windowDays: 365, maxPerPayment: null, async: false },
  },
  paypal: {
    cutoffMinutes: DEFAULT_CUTOFF_MINUTES,
    authorize: { windowMs: 3 * DAY_MS },
    capture: { partial: true },
    void: {},
    refund: { partial: true, afterSettlementOnly: false, windowDays: 180, maxPerPayment: null, async: false },
  },
  carrier: {
    cutoffMinutes: DEFAULT_CUTOFF_MINUTES,
    refund: {
      partial: true,
      afterSettlementOnly: false,
      windowDays: 31,
      maxPerPayment: 1,
      smallAmountMax: 10_000,
      samePeriodOnly: true,
      async: false,
    },
  },
};

/** Whether a channel offers an operation at all. */
export function offersOperation(flows: ChannelFlows, kind: OperationKind): boolean {
  return flows[kind] !== undefined;
}
