import { randomBytes } from "node:crypto";
import {
  BODY_SIGNATURE_HEADERS,
  type SignFormat,
  type SignScheme,
  signMerchantRequest,
  verifyBody,
} from "@pps/signing";
import type {
  ApiErrorBody,
  CreatePaymentParams,
  EventsPage,
  Notification,
  NotificationList,
  Operation,
  Payment,
  PaymentDetail,
  PlatformKey,
  RefundList,
  RequestBody,
  RequestQuery,
  VerificationResent,
} from "./types.ts";

export type MerchantCredentials = {
  merchantId: string;
  scheme: SignScheme;
  /**
   * What the signature covers: "v2" (default) signs the exact method, path, query and body bytes;
   * "legacy_params" the sorted k=v string, only for merchants still configured for it (docs/signing.md).
   */
  signFormat?: SignFormat;
  /**
   * The secret key given at onboarding: signs HMAC_SHA256 and MD5 requests, and verifies the HMAC-SHA256
   * signature on every response and notification (RSA merchants get one too).
   */
  secretKey?: string;
  /** RSA_SHA256: the merchant's private key (PEM). */
  privateKey?: string;
  /** RSA_SHA256: the platform's public key (GET /v1/platform-key), to verify responses and notifications. */
  platformPublicKey?: string;
};

export type ClientOptions = {
  baseUrl: string;
  credentials: MerchantCredentials;
  /** Accepted age of a signed response or notification. */
  toleranceSeconds?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
};

export class PaymentsApiError extends Error {
  override readonly name = "PaymentsApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
    readonly details?: unknown,
  ) {
    super(`${code}: ${message}`);
  }
}

/** A response whose signature did not verify: treat its content as untrusted. */
export class SignatureVerificationError extends Error {
  override readonly name = "SignatureVerificationError";
}

export type RawResponse<T = unknown> = { status: number; body: T; headers: Headers; text: string; verified: boolean };

export type RequestOptions = {
  body?: Record<string, unknown>;
  query?: Record<string, string>;
  idempotencyKey?: string;
  nonce?: string;
  timestamp?: number;
  headers?: Record<string, string>;
};

export function newNonce(): string {
  return randomBytes(16).toString("base64url");
}

/**
 * The signature headers for one request, over exactly what will be sent: the path and query as they go on
 * the wire (after URL serialisation) and the body's bytes. Exported for clients in other stacks to compare against.
 */
export function signRequestHeaders(
  credentials: MerchantCredentials,
  input: { method: string; path: string; rawQuery?: string; body?: string; nonce: string | null; timestamp: number },
): Record<string, string> {
  const timestamp = String(input.timestamp);
  const key = credentials.scheme === "RSA_SHA256" ? credentials.privateKey : credentials.secretKey;
  if (!key)
    throw new Error(
      `credentials for ${credentials.scheme} need ${credentials.scheme === "RSA_SHA256" ? "privateKey" : "secretKey"}`,
    );
  const signed = signMerchantRequest({
    format: credentials.signFormat ?? "v2",
    scheme: credentials.scheme,
    key,
    request: {
      method: input.method,
      path: input.path,
      rawQuery: input.rawQuery ?? "",
      merchantId: credentials.merchantId,
      timestamp,
      nonce: input.nonce,
      body: input.body ?? "",
    },
  });
  if (!signed.ok)
    throw new Error(`this request cannot be signed in format ${credentials.signFormat ?? "v2"}: ${signed.reason}`);
  return {
    "x-merchant-id": credentials.merchantId,
    "x-timestamp": timestamp,
    ...(input.nonce ? { "x-nonce": input.nonce } : {}),
    "x-sign-type": credentials.scheme,
    "x-signature": signed.signature,
  };
}

export type BodySignature = {
  body: string;
  timestamp: string | null | undefined;
  /** X-Signature: HMAC-SHA256 over `timestamp.body` with the secret key. */
  signature: string | null | undefined;
  /** X-Signature-Legacy and X-Sign-Type, sent to MD5 and RSA merchants. */
  legacySignature?: string | null | undefined;
  legacyScheme?: string | null | undefined;
  toleranceSeconds?: number;
  nowMs?: number;
};

/** Reads the signature headers of a response or notification request. */
export function bodySignatureFromHeaders(body: string, headers: { get(name: string): string | null }): BodySignature {
  return {
    body,
    timestamp: headers.get(BODY_SIGNATURE_HEADERS.timestamp),
    signature: headers.get(BODY_SIGNATURE_HEADERS.signature),
    legacySignature: headers.get(BODY_SIGNATURE_HEADERS.legacySignature),
    legacyScheme: headers.get(BODY_SIGNATURE_HEADERS.legacyScheme),
  };
}

export type VerifyResult = { ok: true } | { ok: false; reason: "missing" | "stale" | "mismatch" };

/**
 * Verifies a notification (or a response): the HMAC-SHA256 X-Signature over `timestamp.body` within the
 * tolerance window, and for MD5/RSA merchants also the legacy signature in their scheme. Both must hold.
 */
export function verifyNotification(credentials: MerchantCredentials, input: BodySignature): VerifyResult {
  if (!credentials.secretKey) return { ok: false, reason: "missing" };
  const common = {
    body: input.body,
    timestamp: input.timestamp,
    toleranceSeconds: input.toleranceSeconds ?? 300,
    ...(input.nowMs ? { nowMs: input.nowMs } : {}),
  };
  const hmac = verifyBody({ ...common, scheme: "HMAC_SHA256", key: credentials.secretKey, signature: input.signature });
  if (!hmac.ok || credentials.scheme === "HMAC_SHA256") return hmac;
  if (input.legacyScheme !== credentials.scheme)
    return { ok: false, reason: input.legacySignature ? "mismatch" : "missing" };
  const legacyKey = credentials.scheme === "RSA_SHA256" ? credentials.platformPublicKey : credentials.secretKey;
  if (!legacyKey) return { ok: false, reason: "missing" };
  return verifyBody({ ...common, scheme: credentials.scheme, key: legacyKey, signature: input.legacySignature });
}

/** Typed merchant client: signs every request and verifies every signed response. */
export class PaymentsClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: ClientOptions) {
    this.fetch = opts.fetch ?? fetch;
  }

  /** Low-level call: signs, sends, verifies; returns status and body without throwing on 4xx/5xx. */
  async request<T = unknown>(
    method: "GET" | "POST",
    path: string,
    options: RequestOptions = {},
  ): Promise<RawResponse<T>> {
    const mutating = method !== "GET";
    const url = new URL(`${this.opts.baseUrl.replace(/\/$/, "")}${path}`);
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v);
    const text = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = {
      ...signRequestHeaders(this.opts.credentials, {
        method,
        // What fetch sends: the serialised URL's path and query, byte for byte.
        path: url.pathname,
        rawQuery: url.search.slice(1),
        ...(text !== undefined ? { body: text } : {}),
        nonce: mutating ? (options.nonce ?? newNonce()) : (options.nonce ?? null),
        timestamp: options.timestamp ?? Math.floor(Date.now() / 1000),
      }),
      ...(text !== undefined ? { "content-type": "application/json" } : {}),
      ...(options.idempotencyKey ? { "idempotency-key": options.idempotencyKey } : {}),
      ...options.headers,
    };
    const res = await this.fetch(url, {
      method,
      headers,
      ...(text !== undefined ? { body: text } : {}),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    const body = await res.text();
    let verified = false;
    if (res.headers.get(BODY_SIGNATURE_HEADERS.signature)) {
      const check = verifyNotification(this.opts.credentials, {
        ...bodySignatureFromHeaders(body, res.headers),
        toleranceSeconds: this.opts.toleranceSeconds ?? 300,
      });
      if (!check.ok) throw new SignatureVerificationError(`response signature ${check.reason}`);
      verified = true;
    }
    return {
      status: res.status,
      body: (body ? JSON.parse(body) : null) as T,
      headers: res.headers,
      text: body,
      verified,
    };
  }

  private async call<T>(method: "GET" | "POST", path: string, options: RequestOptions): Promise<T> {
    const res = await this.request<T | ApiErrorBody>(method, path, options);
    if (res.status >= 400) {
      const e = (res.body as ApiErrorBody | null)?.error;
      throw new PaymentsApiError(
        res.status,
        e?.code ?? "unknown",
        e?.message ?? "request failed",
        e?.requestId ?? null,
        e?.details,
      );
    }
    if (!res.verified) throw new SignatureVerificationError("response was not signed");
    return res.body as T;
  }

  createPayment(params: CreatePaymentParams, opts: { idempotencyKey: string }): Promise<Payment> {
    return this.call("POST", "/v1/payments", { body: params, idempotencyKey: opts.idempotencyKey });
  }

  createOrder(params: CreatePaymentParams, opts: { idempotencyKey: string }): Promise<Payment> {
    return this.call("POST", "/v1/orders", { body: params, idempotencyKey: opts.idempotencyKey });
  }

  getPayment(id: string): Promise<PaymentDetail> {
    return this.call("GET", `/v1/payments/${encodeURIComponent(id)}`, {});
  }

  getPaymentByOrderNo(merchantOrderNo: string): Promise<PaymentDetail> {
    return this.call("GET", "/v1/payments", { query: { merchant_order_no: merchantOrderNo } });
  }

  verifyPayment(id: string, code: string, opts: { idempotencyKey: string }): Promise<Payment> {
    return this.call("POST", `/v1/payments/${encodeURIComponent(id)}/verify`, {
      body: { code },
      idempotencyKey: opts.idempotencyKey,
    });
  }

  /** A new SMS code for a payment awaiting verification (the previous code stops working). */
  resendVerification(id: string, opts: { idempotencyKey: string }): Promise<VerificationResent> {
    return this.call("POST", `/v1/payments/${encodeURIComponent(id)}/verification/resend`, {
      body: {},
      idempotencyKey: opts.idempotencyKey,
    });
  }

  /** Events about your payments after `cursor` (oldest first); pass the returned next_cursor to continue. */
  listEvents(opts: RequestQuery<"listEvents"> = {}): Promise<EventsPage> {
    const query: Record<string, string> = {};
    if (opts.after) query.after = opts.after;
    if (opts.limit) query.limit = String(opts.limit);
    return this.call("GET", "/v1/events", { query });
  }

  listPaymentNotifications(paymentId: string): Promise<NotificationList> {
    return this.call("GET", `/v1/payments/${encodeURIComponent(paymentId)}/notifications`, {});
  }

  resendNotification(notificationId: string, opts: { idempotencyKey: string }): Promise<Notification> {
    return this.call("POST", `/v1/notifications/${encodeURIComponent(notificationId)}/resend`, {
      body: {},
      idempotencyKey: opts.idempotencyKey,
    });
  }

  /** Captures an authorized payment (up to the authorized amount; all of it when amount is left out). */
  capturePayment(
    id: string,
    params: RequestBody<"capturePayment">,
    opts: { idempotencyKey: string },
  ): Promise<Operation> {
    return this.operation(id, "capture", params, opts);
  }

  /** Releases a whole authorization. */
  voidPayment(id: string, params: RequestBody<"voidPayment">, opts: { idempotencyKey: string }): Promise<Operation> {
    return this.operation(id, "void", params, opts);
  }

  /** Reverses a captured payment in full on its settlement day (撤销). */
  cancelPayment(
    id: string,
    params: RequestBody<"cancelPayment">,
    opts: { idempotencyKey: string },
  ): Promise<Operation> {
    return this.operation(id, "cancel", params, opts);
  }

  /** Refunds part or all of a payment, with your own merchant_refund_no. */
  refundPayment(
    id: string,
    params: RequestBody<"refundPayment">,
    opts: { idempotencyKey: string },
  ): Promise<Operation> {
    return this.operation(id, "refunds", params, opts);
  }

  /** Undoes a payment: void, cancel or refund, whichever the channel's rules and the clock allow. */
  reversePayment(
    id: string,
    params: RequestBody<"reversePayment">,
    opts: { idempotencyKey: string },
  ): Promise<Operation> {
    return this.operation(id, "reverse", params, opts);
  }

  getRefund(id: string): Promise<Operation> {
    return this.call("GET", `/v1/refunds/${encodeURIComponent(id)}`, {});
  }

  getRefundByNo(merchantRefundNo: string): Promise<Operation> {
    return this.call("GET", "/v1/refunds", { query: { merchant_refund_no: merchantRefundNo } });
  }

  listPaymentRefunds(paymentId: string): Promise<RefundList> {
    return this.call("GET", `/v1/payments/${encodeURIComponent(paymentId)}/refunds`, {});
  }

  private operation(
    id: string,
    path: string,
    body: Record<string, unknown>,
    opts: { idempotencyKey: string },
  ): Promise<Operation> {
    return this.call("POST", `/v1/payments/${encodeURIComponent(id)}/${path}`, {
      body,
      idempotencyKey: opts.idempotencyKey,
    });
  }

  /** Our RSA public key (RSA_SHA256 merchants verify responses and notifications with it). Unsigned. */
  async getPlatformKey(): Promise<PlatformKey> {
    const res = await this.fetch(`${this.opts.baseUrl.replace(/\/$/, "")}/v1/platform-key`, {
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    if (!res.ok) throw new PaymentsApiError(res.status, "unknown", "request failed", null);
    return (await res.json()) as PlatformKey;
  }
}
