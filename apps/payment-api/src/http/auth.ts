import { IDEMPOTENCY_KEY_PATTERN, NONCE_PATTERN } from "@pps/api-contract";
import { AppError } from "@pps/domain";
import { type AppEnv, assertJsonMediaType, parseJsonObject, parseJsonSafely, readLimitedBody } from "@pps/runtime";
import { canonicalRequestV2, isSignScheme, legacyRequestString, sign, splitRequestTarget, verify } from "@pps/signing";
import type { Context, MiddlewareHandler } from "hono";
import type { Merchant, MerchantDirectory } from "../payments/merchants.ts";

export type MerchantAuth = { merchant: Merchant; nonce: string | null; idempotencyKey: string | null };
export type PaymentApiEnv = {
  Variables: AppEnv["Variables"] & { rawBody: string; auth: MerchantAuth; merchant?: Merchant };
};

const MERCHANT_ID = /^m_[A-Za-z0-9_]{1,60}$/;
const TIMESTAMP = /^\d{1,12}$/;
/** Signing an unknown merchant's request anyway costs what a real check costs, so timing tells nothing. */
const DECOY_KEY = "decoy-key-for-unknown-merchants";

export type MerchantCallOptions = {
  merchants: MerchantDirectory;
  windowSeconds: number;
  maxBodyBytes: number;
  /** Mutating calls need a nonce (recorded to refuse replays), an Idempotency-Key and an active merchant. */
  mutating: boolean;
  /** "json": the call takes a JSON object; "none": an empty body or `{}` only, never parsed. */
  body: "json" | "none";
  now?: (() => number) | undefined;
};

/** The request target exactly as it came over the wire (Node), or as the Request holds it (in-process). */
function requestTarget(c: Context): string {
  const incoming = (c.env as { incoming?: { url?: string } } | undefined)?.incoming;
  if (incoming?.url?.startsWith("/")) return incoming.url;
  const url = new URL(c.req.url);
  return `${url.pathname}${url.search}`;
}

const EMPTY_OBJECT = /^\s*(\{\s*\})?\s*$/;

/**
 * The front of every signed merchant call, in this order, each step refusing with a stable code and
 * writing nothing:
 * 1. the body is read as it streams, up to the size limit (413 as soon as it is passed), as UTF-8;
 * 2. the signature is checked over the exact bytes (format v2), before anything is parsed; an unknown
 *    merchant and a wrong signature get the same answer;
 * 3. the body is parsed behind a depth bound, refusing NUL and lone surrogates, and only where the call
 *    takes a body (then the route's schemas validate it).
 * A request whose v2 signature does not verify may be a legacy merchant's (sorted k=v), which needs the
 * parsed fields: for such requests step 3 comes before the legacy check, behind the same bounds, so a caller
 * whose signature fails can be told its JSON is malformed or too deep (400) before it is told 401 — an
 * answer that depends on the request alone, never on the merchant.
 */
export function merchantCall(opts: MerchantCallOptions): MiddlewareHandler<PaymentApiEnv>[] {
  const now = opts.now ?? (() => Date.now());

  const readBody: MiddlewareHandler<PaymentApiEnv> = async (c, next) => {
    const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
    const { text } = await readLimitedBody(c.req.raw, opts.maxBodyBytes);
    if (opts.body === "json" && hasBody) assertJsonMediaType(c);
    if ((opts.body === "none" || !hasBody) && !EMPTY_OBJECT.test(text)) {
      throw new AppError("request.validation_failed", "this call takes no body (send none, or {})");
    }
    c.set("rawBody", text);
    await next();
  };

  const authenticate: MiddlewareHandler<PaymentApiEnv> = async (c, next) => {
    const merchantId = c.req.header("x-merchant-id");
    const timestamp = c.req.header("x-timestamp");
    const nonce = c.req.header("x-nonce") ?? null;
    const signature = c.req.header("x-signature");
    const signType = c.req.header("x-sign-type");
    if (!merchantId || !timestamp || !signature || (opts.mutating && !nonce)) {
      throw new AppError(
        "auth.signature_missing",
        `X-Merchant-Id, X-Timestamp, ${opts.mutating ? "X-Nonce " : ""}and X-Signature headers are required`,
      );
    }
    if (!TIMESTAMP.test(timestamp) || Math.abs(now() / 1000 - Number(timestamp)) > opts.windowSeconds) {
      throw new AppError(
        "auth.timestamp_out_of_window",
        `X-Timestamp must be unix seconds within ${opts.windowSeconds} s of our clock`,
      );
    }
    if (nonce !== null && !NONCE_PATTERN.test(nonce)) {
      throw new AppError("auth.signature_invalid", "X-Nonce must be 16 to 64 characters of [A-Za-z0-9_-]");
    }
    const merchant = MERCHANT_ID.test(merchantId) ? await opts.merchants.get(merchantId) : null;
    const target = splitRequestTarget(requestTarget(c));
    const text = c.get("rawBody");
    const v2 = canonicalRequestV2({
      method: c.req.method,
      path: target.path,
      rawQuery: target.rawQuery,
      merchantId,
      timestamp,
      nonce,
      body: text,
    });
    const schemeOk = !signType || (isSignScheme(signType) && signType === merchant?.signScheme);
    const key = merchant
      ? merchant.signScheme === "RSA_SHA256"
        ? (merchant.publicKey ?? "")
        : merchant.secretKey
      : DECOY_KEY;
    let valid = merchant
      ? v2.ok && verify(merchant.signScheme, v2.canonical, signature, key)
      : v2.ok && sign("HMAC_SHA256", v2.canonical, DECOY_KEY) === signature;
    if (!valid) {
      // A legacy merchant may already send v2 (above); otherwise it signs the sorted k=v string, which needs
      // the parsed fields: parsed behind the same bounds, and refused where the string would not pin the
      // request down. That refusal depends on the request alone, never on who the merchant is or how it
      // signs, so it tells an unauthenticated caller nothing about merchants.
      const body = opts.body === "json" && text.trim() !== "" ? parseJsonSafely(text) : undefined;
      const legacy = legacyRequestString({
        method: c.req.method,
        path: c.req.path,
        merchantId,
        timestamp,
        nonce,
        query: c.req.queries(),
        body,
      });
      if (!legacy.ok)
        throw new AppError(
          "request.parameter_ambiguous",
          `the request cannot be signed unambiguously in the legacy format (${legacy.reason}); sign it in format v2 (docs/signing.md)`,
        );
      if (merchant?.signFormat === "legacy_params") {
        valid = verify(merchant.signScheme, legacy.payload, signature, key);
        if (valid) c.req.bodyCache.json = Promise.resolve(body);
      }
    }
    // One answer for every way of being wrong: an unknown merchant, another scheme, another signature.
    if (!merchant || !valid || !schemeOk) throw new AppError("auth.signature_invalid", "signature does not match");
    c.set("merchant", merchant);
    let idempotencyKey: string | null = null;
    if (opts.mutating) {
      idempotencyKey = c.req.header("idempotency-key") ?? null;
      if (!idempotencyKey)
        throw new AppError("request.idempotency_key_missing", "the Idempotency-Key header is required on this call");
      if (!IDEMPOTENCY_KEY_PATTERN.test(idempotencyKey))
        throw new AppError("request.validation_failed", "Idempotency-Key must be 1 to 255 printable ASCII characters");
      if (merchant.status !== "active") throw new AppError("merchant.inactive", "the merchant account is not active");
    }
    c.set("auth", { merchant, nonce, idempotencyKey });
    await next();
  };

  const parseBody: MiddlewareHandler<PaymentApiEnv> = async (c, next) => {
    if (opts.body === "json" && c.req.bodyCache.json === undefined) {
      c.req.bodyCache.json = Promise.resolve(parseJsonObject(c.get("rawBody")));
    }
    await next();
  };

  return [readBody, authenticate, parseBody];
}
