import type { Context } from "hono";
import type { ChannelCapabilities, ChannelId } from "@pps/channels";
import type { simCharges } from "@pps/db/schema";

export type Charge = typeof simCharges.$inferSelect;

/** The simulator's neutral transaction states; each channel renders them in its own vocabulary. */
export type ChargeStatus = "awaiting_payer" | "paying" | "succeeded" | "failed" | "closed";
export type FailureReason = "declined" | "insufficient_funds" | "payer_canceled" | "verification_failed" | "expired";

/** A pay request after the channel's own parsing and signature check, in neutral terms. */
export type SimPayRequest = {
  merchantId: string;
  merchantRef: string;
  product: string;
  amount: number;
  currency: string;
  subject: string;
  bankCode: string | null;
  flow: "qr_code" | "deeplink" | null;
  payerPhone: string | null;
  callbackUrl: string;
  returnUrl: string | null;
  passthrough: string | null;
  expiresAt: Date;
  extra: Record<string, string>;
};

/** Why a request was refused before anything was taken (or, for not_found, that nothing exists). */
export type RejectionKind =
  | "invalid_request"
  | "signature_invalid"
  | "unknown_merchant"
  | "currency_not_supported"
  | "bank_not_supported"
  | "amount_limit_exceeded"
  | "invalid_phone"
  | "order_conflict"
  | "not_found";

export type Rejection = { kind: RejectionKind; message: string };

export type Operation = "pay" | "query";

export type CallbackMessage = { contentType: string; headers: Record<string, string>; body: string };

export type RenderContext = { c: Context; origin: string; op: Operation; created: boolean };

/** One simulated channel's protocol: how it speaks, signs and names things. */
export interface ChannelProtocol {
  readonly id: ChannelId;
  readonly capabilities: ChannelCapabilities;
  /** The status a stale, out-of-order callback reports. */
  readonly staleStatus: ChargeStatus;
  newTxnId(): string;
  /** Checks specific to this channel, after the common ones (currency, amount limit). */
  validate(req: SimPayRequest): Rejection | null;
  /** The signed answer for a transaction in its current state. */
  renderCharge(ctx: RenderContext, charge: Charge): Response;
  /** The signed business error. */
  renderRejection(ctx: RenderContext, rejection: Rejection): Response;
  /** The signed 503 "system busy, nothing taken". */
  renderBusy(ctx: RenderContext): Response;
  /** The signed notification of a transaction's state. */
  renderCallback(charge: Charge, notificationId: string, at: Date): CallbackMessage;
  /** Whether the merchant's answer to a callback counts as received. */
  ackAccepted(status: number, body: string): boolean;
}
