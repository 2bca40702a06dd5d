import type { Product } from "@pps/domain";
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
      settlement: { amount: number; currency: string; fxRate: string } | null;
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
  status: "succeeded" | "failed";
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
  | { ok: false; reason: "signature_invalid" | "malformed" | "not_final"; detail: string };

/** The HTTP answer a channel expects from us after a callback (each has its own convention). */
export type CallbackAck = { status: number; contentType: string; body: string };

/** Per-call options. */
export type CallOptions = {
  /** Abort the HTTP call after this long (default 5 s); the outcome is then `unknown`. */
  timeoutMs?: number;
};

export interface ChannelAdapter {
  readonly id: ChannelId;
  readonly capabilities: ChannelCapabilities;
  pay(request: PayRequest, opts?: { timeoutMs?: number }): Promise<ChannelOutcome>;
  query(ref: { attemptId: string; channelTxnId: string | null }, opts?: { timeoutMs?: number }): Promise<QueryOutcome>;
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
