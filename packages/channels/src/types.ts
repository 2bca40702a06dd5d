import type { OperationKind, Product } from "@pps/domain";
import type { PayerAction, PaymentMethod } from "@pps/messaging";

/**
 * The channels we integrate with. Each has its own adapter folder (client + transformers) under src/<id>/.
 * In this repository every one of them is served by apps/channel-sim; in production the base URLs point at
 * the real providers.
 */
export const CHANNEL_IDS = ["bank_direct", "unionpay", "wechat", "alipay", "paypal", "carrier"] as const;
export type ChannelId = (typeof CHANNEL_IDS)[number];

export function isChannelId(value: string): value is ChannelId {
  return (CHANNEL_IDS as readonly string[]).includes(value);
}

/** What a channel can execute, statically (fees, enablement and limits set by operators live in the router's DB). */
export type ChannelCapabilities = {
  products: readonly Product[];
  currencies: readonly string[];
  /** online_banking: the banks the channel reaches ("*" = any bank, as a scheme does). */
  banks?: readonly string[];
  wallets?: readonly ("wechat" | "alipay")[];
  /** Largest amount one payment may have, in minor units of the channel's currency (carrier billing caps it). */
  maxAmount?: number;
  /** What the channel can do after a payment, flow by flow (design brief section 4). A flow absent here is refused before anything is written. */
  flows: ChannelFlows;
};

/**
 * The flows a channel offers beyond a sale, with its rules. Amounts are those of the payment.
 * - authorize: pay with capture later (capture_method manual); the channel holds the money for `windowMs`
 *   and releases it by itself after that.
 * - capture: takes up to the authorized amount, once (`partial`: less than it, the rest released).
 * - void: releases an authorization before capture, always in full.
 * - cancel (撤销): reverses a captured payment in full on the day it was captured, before the cut-off.
 * - refund: returns money for a captured payment; `afterSettlementOnly` (the banks and the scheme take
 *   refunds only once the payment settled: before that it is a cancel), at most `maxPerPayment` refunds
 *   within `windowDays` of the payment, `partial` or only in full, `smallAmountMax` caps each refund
 *   (carriers), `samePeriodOnly` (carriers: within the bill period, the calendar month in Beijing), the
 *   result `async` (by callback or query) or in the answer.
 */
export type ChannelFlows = {
  /** The daily cut-off of the channel's settlement calendar, minutes after midnight Beijing time (23:00 = 1380). */
  cutoffMinutes: number;
  authorize?: { windowMs: number };
  capture?: { partial: boolean };
  void?: Record<string, never>;
  cancel?: Record<string, never>;
  refund?: {
    partial: boolean;
    afterSettlementOnly: boolean;
    windowDays: number;
    maxPerPayment: number | null;
    smallAmountMax?: number;
    samePeriodOnly?: boolean;
    async: boolean;
  };
};

export type PayRequest = {
  paymentId: string;
  /** Unique per attempt; sent to the channel as its idempotency key / our order reference. */
  attemptId: string;
  product: Product;
  amount: number;
  currency: string;
  subject: string;
  payer: { id: string; ip: string | null; deviceId: string | null; phone: string | null };
  method: PaymentMethod;
  /** Where the channel sends the payer back (redirect flows). */
  returnUrl: string;
  /** Our callback endpoint for this channel: payment-api's POST /v1/channel-callbacks/{channel}. */
  callbackUrl: string;
  expiresAt: string;
  metadata: Record<string, string>;
  /** manual: authorize only (the channel must offer `authorize`); the answer is then `authorized`. */
  captureMethod: "automatic" | "manual";
};

/**
 * The normalized outcome of a pay call or a query.
 * - failed: the channel definitively did not take the money (safe to try another channel).
 * - unknown: we cannot tell (timeout, 5xx after sending, garbled answer): resolve by query, never fail over.
 */
export type ChannelOutcome =
  | {
      status: "succeeded";
      channelTxnId: string;
      /** What the channel says it took: checked against the payment before anything is applied. */
      amount: number;
      currency: string;
      settlement: { amount: number; currency: string; fxRate: string } | null;
    }
  | {
      /** A manual-capture payment: the channel holds `amount` until `expiresAt` (capture or void before). */
      status: "authorized";
      channelTxnId: string;
      amount: number;
      currency: string;
      expiresAt: string;
    }
  | { status: "failed"; channelTxnId: string | null; code: string; message: string }
  | { status: "requires_action"; channelTxnId: string; action: PayerAction }
  | { status: "pending"; channelTxnId: string }
  | { status: "unknown"; reason: string };

export type QueryOutcome = ChannelOutcome | { status: "not_found" };

/** A verified, parsed channel callback. */
export type CallbackResult = {
  channel: ChannelId;
  /** Our attempt id as the channel echoes it back. */
  attemptId: string;
  channelTxnId: string;
  /** authorized: a manual-capture payment is held (authorizationExpiresAt then says until when). */
  status: "succeeded" | "failed" | "authorized";
  authorizationExpiresAt?: string | null;
  amount: number;
  currency: string;
  settlement: { amount: number; currency: string; fxRate: string } | null;
  failureCode: string | null;
  failureMessage: string | null;
  occurredAt: string;
  /** The channel's id for this notification; a duplicate delivery carries the same id. */
  notificationId?: string;
};

/**
 * - signature_invalid / malformed: reject it (callbackAck(false)); nothing about it can be trusted.
 * - not_final: correctly signed, but it reports a non-final state (a stale or out-of-order notice such as
 *   "NOTPAY" or "processing"). Acknowledge it with callbackAck(true) and change nothing.
 */
export type ParsedCallback =
  | { ok: true; result: CallbackResult }
  | { ok: true; operation: OperationCallbackResult }
  | { ok: false; reason: "signature_invalid" | "malformed" | "not_final"; detail: string };

/** The HTTP answer a channel expects from us after a callback (each has its own convention). */
export type CallbackAck = { status: number; contentType: string; body: string };

/** Per-call options. */
export type CallOptions = {
  /** Abort the HTTP call after this long (default 5 s); the outcome is then `unknown`. */
  timeoutMs?: number;
};

/**
 * One operation on a payment, sent to the channel that took the money. `operationId` is our request number
 * at the channel (out_refund_no and friends) and its idempotency key: a repeat with it never moves money twice.
 */
export type OperationRequest = {
  kind: OperationKind;
  operationId: string;
  paymentId: string;
  /** The payment's references at the channel: the attempt that took the money (our order ref there) and their id. */
  attemptId: string;
  channelTxnId: string | null;
  /** The operation's amount (void and cancel: the whole authorized / captured amount). */
  amount: number;
  currency: string;
  /** The payment's amount (some channels want the original total beside a refund). */
  paymentAmount: number;
  reason: string | null;
  /** Our callback endpoint for this channel, for flows whose result comes later. */
  callbackUrl: string;
};

/** Why a channel refused an operation (it did nothing). */
export const OPERATION_FAILURE_CODES = [
  "flow_not_supported",
  "cancel_window_closed",
  "not_settled",
  "refund_window_closed",
  "refund_limit_reached",
  "amount_exceeds_refundable",
  "amount_exceeds_authorized",
  "authorization_expired",
  "invalid_state",
  "channel_rejected",
  "channel_unavailable",
] as const;
export type OperationFailureCode = (typeof OPERATION_FAILURE_CODES)[number];

/**
 * The normalized outcome of an operation call or an operation query:
 * - succeeded: done (with what the channel says it moved, checked against the operation);
 * - pending: accepted, result later by callback or query;
 * - failed: definitively not done (nothing moved);
 * - unknown: cannot tell: resolve by query with the same request number, never by sending a new one.
 */
export type OperationOutcome =
  | { status: "succeeded"; channelOpId: string | null; amount: number; currency: string }
  | { status: "pending"; channelOpId: string | null }
  | { status: "failed"; code: OperationFailureCode; message: string }
  | { status: "unknown"; reason: string };

export type OperationQueryOutcome = OperationOutcome | { status: "not_found" };

/** A verified, parsed callback about an operation (refund results come this way on async channels). */
export type OperationCallbackResult = {
  channel: ChannelId;
  kind: OperationKind;
  /** Our operation id as the channel echoes it back. */
  operationId: string;
  channelOpId: string | null;
  status: "succeeded" | "failed";
  amount: number;
  currency: string;
  failureCode: OperationFailureCode | null;
  failureMessage: string | null;
  occurredAt: string;
  notificationId?: string;
};

export interface ChannelAdapter {
  readonly id: ChannelId;
  readonly capabilities: ChannelCapabilities;
  pay(request: PayRequest, opts?: { timeoutMs?: number }): Promise<ChannelOutcome>;
  query(ref: { attemptId: string; channelTxnId: string | null }, opts?: { timeoutMs?: number }): Promise<QueryOutcome>;
  /**
   * Runs one operation (capture, void, cancel, refund) the channel's capabilities offer; a flow it lacks
   * answers `failed` with `flow_not_supported` without a call. Never throws for channel behaviour.
   */
  operate(request: OperationRequest, opts?: { timeoutMs?: number }): Promise<OperationOutcome>;
  /** Asks the channel what became of an operation, by the same request number. */
  queryOperation(request: OperationRequest, opts?: { timeoutMs?: number }): Promise<OperationQueryOutcome>;
  /** Verifies the channel's signature on the raw callback and normalizes it. */
  parseCallback(input: { headers: Record<string, string>; rawBody: string }): ParsedCallback;
  callbackAck(accepted: boolean): CallbackAck;
}

/** Per-channel connection settings: where it is and the keys for both directions. */
export type ChannelEndpoint = {
  baseUrl: string;
  /** Our credentials at the channel (merchant id there) and key material, per the channel's scheme. */
  merchantId: string;
  /** Shared secret (HMAC/MD5 channels) or our RSA private key (PEM) for signing requests. */
  signingKey: string;
  /** Shared secret (HMAC/MD5 channels) or the channel's RSA public key (PEM) for verifying its answers and callbacks. */
  verifyKey: string;
};
