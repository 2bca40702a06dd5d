/**
 * Public error codes: stable strings, prefixed by origin (request, auth, merchant, payment, risk, channel,
 * internal). Clients switch on these; never rename one, only add.
 */
export const ERROR_CODES = [
  "request.invalid_json",
  "request.body_too_large",
  "request.validation_failed",
  "request.unsupported_media_type",
  "request.not_found",
  "request.method_not_allowed",
  "request.idempotency_key_missing",
  "request.idempotency_key_reused",
  "request.idempotency_in_progress",
  "request.invalid_characters",
  "request.json_too_deep",
  "request.parameter_ambiguous",
  "request.conflict",
  "request.aborted",
  "auth.signature_missing",
  "auth.signature_invalid",
  "auth.timestamp_out_of_window",
  "auth.nonce_replayed",
  "merchant.unknown",
  "merchant.inactive",
  "merchant.product_not_enabled",
  "payer.frozen",
  "payment.not_found",
  "payment.duplicate_order_no",
  "payment.amount_out_of_range",
  "payment.currency_not_supported",
  "payment.invalid_state",
  "payment.expired",
  "payment.pay_link_expired",
  "payment.verification_failed",
  "payment.verification_locked",
  "payment.product_not_supported",
  "payment.verification_resend_limit",
  "operation.not_found",
  "operation.duplicate_ref",
  "operation.flow_not_supported",
  "operation.amount_exceeds_refundable",
  "operation.amount_exceeds_authorized",
  "operation.partial_not_allowed",
  "operation.cancel_window_closed",
  "operation.not_settled",
  "operation.refund_window_closed",
  "operation.refund_limit_reached",
  "operation.authorization_expired",
  "operation.in_progress",
  "risk.blocked",
  "account.not_found",
  "account.frozen",
  "account.closed",
  "account.currency_mismatch",
  "account.kind_not_supported",
  "account.insufficient_funds",
  "account.credit_limit_exceeded",
  "account.limit_below_used",
  "channel.unknown",
  "channel.signature_invalid",
  "channel.callback_mismatch",
  "channel.unavailable",
  "auth.admin_token_invalid",
  "internal.error",
  "internal.unavailable",
  "internal.overloaded",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case "request.invalid_json":
    case "request.validation_failed":
    case "request.idempotency_key_missing":
    case "request.invalid_characters":
    case "request.json_too_deep":
    case "request.parameter_ambiguous":
    case "request.aborted":
    case "payment.amount_out_of_range":
    case "payment.currency_not_supported":
    case "payment.product_not_supported":
    case "account.currency_mismatch":
      return 400;
    case "operation.flow_not_supported":
    case "operation.amount_exceeds_refundable":
    case "operation.amount_exceeds_authorized":
    case "operation.partial_not_allowed":
    case "operation.cancel_window_closed":
    case "operation.not_settled":
    case "operation.refund_window_closed":
    case "operation.refund_limit_reached":
    case "account.kind_not_supported":
    case "account.insufficient_funds":
    case "account.credit_limit_exceeded":
    case "account.limit_below_used":
      return 422;
    case "auth.signature_missing":
    case "auth.signature_invalid":
    case "auth.timestamp_out_of_window":
    case "auth.nonce_replayed":
    case "merchant.unknown":
    case "channel.signature_invalid":
    case "auth.admin_token_invalid":
      return 401;
    case "merchant.inactive":
    case "merchant.product_not_enabled":
    case "payer.frozen":
    case "risk.blocked":
      return 403;
    case "request.not_found":
    case "payment.not_found":
    case "operation.not_found":
    case "account.not_found":
    case "channel.unknown":
      return 404;
    case "request.method_not_allowed":
      return 405;
    case "request.idempotency_in_progress":
    case "request.idempotency_key_reused":
    case "request.conflict":
    case "payment.duplicate_order_no":
    case "payment.invalid_state":
    case "channel.callback_mismatch":
    case "operation.duplicate_ref":
    case "operation.authorization_expired":
    case "operation.in_progress":
    case "account.frozen":
    case "account.closed":
      return 409;
    case "payment.expired":
    case "payment.pay_link_expired":
      return 410;
    case "request.body_too_large":
      return 413;
    case "request.unsupported_media_type":
      return 415;
    case "payment.verification_failed":
      return 422;
    case "payment.verification_locked":
      return 423;
    case "payment.verification_resend_limit":
      return 429;
    case "internal.error":
      return 500;
    case "channel.unavailable":
    case "internal.unavailable":
    case "internal.overloaded":
      return 503;
  }
}

/** An error meant for the client: a stable code, a safe message, optional field details. */
export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
  get status(): number {
    return httpStatusFor(this.code);
  }
}
