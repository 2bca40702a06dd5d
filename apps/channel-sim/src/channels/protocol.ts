import type { Context } from "hono";
import type { ChannelCapabilities, ChannelId } from "@pps/channels";
import type { simCharges, simOperations } from "@pps/db/schema";

export type Charge = typeof simCharges.$inferSelect;
export type SimOperation = typeof simOperations.$inferSelect;

/**
 * The simulator's neutral transaction states; each channel renders them in its own vocabulary.
 * authorized: a manual-capture payment held (capture or void next); voided: that hold released;
 * canceled: a captured payment reversed in full the same day (撤销). Refunds leave a charge succeeded and
 * add to its refunded_amount.
 */
export type ChargeStatus =
  | "awaiting_payer"
  | "paying"
  | "authorized"
  | "succeeded"
  | "failed"
  | "closed"
  | "voided"
  | "canceled";

export type SimOperationKind = "capture" | "void" | "cancel" | "refund";
/** processing: accepted, the result comes later (callback); then succeeded or failed. */
export type SimOperationStatus = "processing" | "succeeded" | "failed";

/** An operation request after the channel's own parsing and signature check, in neutral terms. */
export type SimOperationRequest = {
  kind: SimOperationKind;
  merchantId: string;
  /** The payment it applies to: our order reference there, or the channel's transaction id. */
  charge: { merchantRef?: string | null; txnId?: string | null };
  /** Our request number for this operation (out_refund_no, …): a repeat moves money once. */
  merchantRef: string;
  /** null: the whole amount (void, cancel; a capture of everything authorized). */
  amount: number | null;
  currency: string | null;
  /** Where the result goes for channels that answer operations by callback. */
  callbackUrl: string | null;
  reason: string | null;
};
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
  /** manual: authorize only (the channel must offer it); a success then leaves the charge `authorized`. */
  captureMode: "auto" | "manual";
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
  | "not_found"
  // Operations (capture, void, cancel, refund) the channel's rules refuse; nothing moves.
  | "flow_not_supported"
  | "cancel_window_closed"
  | "not_settled"
  | "refund_window_closed"
  | "refund_limit_reached"
  | "amount_exceeds_refundable"
  | "amount_exceeds_authorized"
  | "authorization_expired"
  | "invalid_state";

export type Rejection = { kind: RejectionKind; message: string };

/** What a request asks: pay, query a payment, one of the operations, or query an operation. */
export type Operation = "pay" | "query" | SimOperationKind | "query_operation";

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
  /** The signed answer for an operation in its current state (on the charge after it). */
  renderOperation(ctx: RenderContext, op: SimOperation, charge: Charge): Response;
  /** The signed notification of an operation's result (async channels). */
  renderOperationCallback(op: SimOperation, charge: Charge, notificationId: string, at: Date): CallbackMessage;
}
