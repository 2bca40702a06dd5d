import {
  ALIPAY_CAPABILITIES,
  BANK_DIRECT_CAPABILITIES,
  CARRIER_CAPABILITIES,
  CHANNEL_FLOWS,
  type ChannelCapabilities,
  type ChannelFlows,
  isChannelId,
  PAYPAL_CAPABILITIES,
  UNIONPAY_CAPABILITIES,
  WECHAT_CAPABILITIES,
} from "@pps/channels";
import { AppError, isSettled, type OperationKind, settlementDay } from "@pps/domain";
import type { PaymentRow } from "./snapshot.ts";

const DAY_MS = 86_400_000;

const ALL_CAPABILITIES: readonly ChannelCapabilities[] = [
  BANK_DIRECT_CAPABILITIES,
  UNIONPAY_CAPABILITIES,
  WECHAT_CAPABILITIES,
  ALIPAY_CAPABILITIES,
  PAYPAL_CAPABILITIES,
  CARRIER_CAPABILITIES,
];

/** Whether any channel can authorize (capture later) a payment of this product (and wallet). */
export function canAuthorize(product: string, wallet: string | null): boolean {
  return ALL_CAPABILITIES.some(
    (c) =>
      c.flows.authorize !== undefined &&
      (c.products as readonly string[]).includes(product) &&
      (product !== "platform_pay" || wallet === null || (c.wallets as readonly string[] | undefined)?.includes(wallet)),
  );
}
const BEIJING_MS = 8 * 3_600_000;

/** The flows of the channel that took the payment's money (none for a payment no channel took). */
export function flowsOf(payment: PaymentRow): ChannelFlows | null {
  return payment.channel && isChannelId(payment.channel) ? CHANNEL_FLOWS[payment.channel] : null;
}

/** Refuses, before anything is written, an operation the payment's channel does not offer. */
export function requireFlow(payment: PaymentRow, kind: OperationKind): ChannelFlows {
  const flows = flowsOf(payment);
  if (!flows)
    throw new AppError("payment.invalid_state", `the payment is ${payment.status}: no channel holds its money`);
  if (!flows[kind])
    throw new AppError(
      "operation.flow_not_supported",
      `${payment.channel} does not offer ${kind}${kind === "cancel" ? ": refund the payment instead" : ""}`,
    );
  return flows;
}

/** Whether a captured payment is still on its settlement day at its channel (a cancel is possible). */
export function onSettlementDay(payment: PaymentRow, flows: ChannelFlows, now: Date): boolean {
  if (!payment.capturedAt) return false;
  return settlementDay(payment.capturedAt, flows.cutoffMinutes) === settlementDay(now, flows.cutoffMinutes);
}

/** The month of the bill (carriers): the calendar month in Beijing time. */
const billPeriod = (at: Date) => new Date(at.getTime() + BEIJING_MS).toISOString().slice(0, 7);

/**
 * The channel's refund rules we can check ourselves (the channel checks them again): settlement,
 * window, count, small amounts, bill period, partial. `liveRefunds`: refunds of the payment not failed.
 */
export function checkRefundRules(
  payment: PaymentRow,
  flows: ChannelFlows,
  amount: number,
  liveRefunds: number,
  now: Date,
) {
  const rule = flows.refund!;
  const capturedAt = payment.capturedAt ?? payment.updatedAt;
  if (rule.afterSettlementOnly && !isSettled(capturedAt, now, flows.cutoffMinutes))
    throw new AppError(
      "operation.not_settled",
      `${payment.channel} refunds only settled payments; on the day it was paid, cancel it instead`,
    );
  if (now.getTime() - capturedAt.getTime() > rule.windowDays * DAY_MS)
    throw new AppError("operation.refund_window_closed", `${payment.channel} refunds within ${rule.windowDays} days`);
  if (rule.samePeriodOnly && billPeriod(capturedAt) !== billPeriod(now))
    throw new AppError("operation.refund_window_closed", `${payment.channel} refunds only within the same bill period`);
  if (rule.maxPerPayment !== null && liveRefunds >= rule.maxPerPayment)
    throw new AppError(
      "operation.refund_limit_reached",
      `${payment.channel} takes at most ${rule.maxPerPayment} refunds per payment`,
    );
  if (rule.smallAmountMax !== undefined && amount > rule.smallAmountMax)
    throw new AppError(
      "payment.amount_out_of_range",
      `${payment.channel} refunds at most ${rule.smallAmountMax} minor units at a time`,
    );
  if (!rule.partial && amount !== payment.amountCaptured)
    throw new AppError("operation.partial_not_allowed", `${payment.channel} refunds only the whole payment`);
}

/** What reverse does for this payment now: void, cancel, or refund what remains (design brief §3). */
export function reverseKind(payment: PaymentRow, now: Date): { kind: OperationKind; amount?: number } {
  if (payment.status === "requires_capture") return { kind: "void" };
  if (payment.status !== "succeeded")
    throw new AppError("payment.invalid_state", `the payment is ${payment.status}: there is nothing to reverse`);
  const flows = flowsOf(payment);
  const untouched = payment.amountRefunded + payment.amountRefundPending === 0;
  if (flows?.cancel && untouched && onSettlementDay(payment, flows, now)) return { kind: "cancel" };
  const remaining = payment.amountCaptured - payment.amountRefunded - payment.amountRefundPending;
  if (remaining <= 0) throw new AppError("operation.amount_exceeds_refundable", "nothing remains to be refunded");
  return { kind: "refund", amount: remaining };
}
