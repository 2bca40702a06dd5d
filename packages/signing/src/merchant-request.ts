import { type LegacyRefusal, legacyRequestString } from "./legacy-params.ts";
import { canonicalRequestV2, type RawRequest, type RequestV2Refusal } from "./request-v2.ts";
import { sign, verify, type SignScheme } from "./schemes.ts";

/**
 * How a merchant's request signatures are computed. `v2` (the default) signs the raw request; `legacy_params`
 * signs the sorted `k=v&…` string and exists only for merchants set to it (see docs/signing.md, migration).
 */
export const SIGN_FORMATS = ["v2", "legacy_params"] as const;
export type SignFormat = (typeof SIGN_FORMATS)[number];
export const DEFAULT_SIGN_FORMAT: SignFormat = "v2";

export function isSignFormat(value: string): value is SignFormat {
  return (SIGN_FORMATS as readonly string[]).includes(value);
}

/** Request headers a merchant sends (lower case, as Hono and fetch read them). */
export const REQUEST_SIGNATURE_HEADERS = {
  merchantId: "x-merchant-id",
  timestamp: "x-timestamp",
  nonce: "x-nonce",
  signature: "x-signature",
  /** Optional; when sent it must equal the merchant's configured scheme. */
  signType: "x-sign-type",
} as const;

export type BodyNotJson = { ok: false; reason: "body_not_json" };
export type RequestRefusal = RequestV2Refusal | LegacyRefusal | BodyNotJson;
export type CanonicalRequestResult = { ok: true; canonical: string } | RequestRefusal;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The legacy format signs parsed fields: an empty body has none, anything else must be JSON text. */
function parseBodyForLegacy(body: RawRequest["body"]): { ok: true; value: unknown } | BodyNotJson {
  if (body === null || body === undefined || body.length === 0) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(typeof body === "string" ? body : utf8.decode(body)) };
  } catch {
    return { ok: false, reason: "body_not_json" };
  }
}

/** The string to sign for a request in the given format, or why the request cannot be signed in it. */
export function canonicalRequest(format: SignFormat, request: RawRequest): CanonicalRequestResult {
  switch (format) {
    case "v2":
      return canonicalRequestV2(request);
    case "legacy_params": {
      const body = parseBodyForLegacy(request.body);
      if (!body.ok) return body;
      const { method, path, rawQuery, merchantId, timestamp, nonce } = request;
      const legacy = legacyRequestString({
        method,
        path,
        query: rawQuery,
        merchantId,
        timestamp,
        nonce,
        body: body.value,
      });
      return legacy.ok ? { ok: true, canonical: legacy.payload } : legacy;
    }
  }
}

export type SignMerchantRequestInput = {
  format: SignFormat;
  scheme: SignScheme;
  /** The secret key (HMAC_SHA256, MD5) or the merchant's PEM private key (RSA_SHA256). */
  key: string;
  request: RawRequest;
};

/** Signs a request for the X-Signature header. A refusal means the request cannot be sent in this format. */
export function signMerchantRequest({
  format,
  scheme,
  key,
  request,
}: SignMerchantRequestInput): { ok: true; canonical: string; signature: string } | RequestRefusal {
  const canonical = canonicalRequest(format, request);
  if (!canonical.ok) return canonical;
  return { ok: true, canonical: canonical.canonical, signature: sign(scheme, canonical.canonical, key) };
}

export type VerifyMerchantRequestInput = {
  /** The merchant's configured format. */
  format: SignFormat;
  scheme: SignScheme;
  /** The secret key (HMAC_SHA256, MD5) or the merchant's PEM public key (RSA_SHA256). */
  key: string;
  signature: string;
  request: RawRequest;
};

export type VerifyMerchantRequestResult =
  | { ok: true; format: SignFormat }
  | RequestRefusal
  | { ok: false; reason: "mismatch" };

/**
 * Verifies a merchant request's signature. A `v2` merchant is held to v2. A `legacy_params` merchant may
 * already send v2 (strictly stronger), so it can switch its client before an operator switches its format;
 * `format` in the result says which one matched, so legacy traffic can be watched until it stops. The two
 * canonical strings can never be equal (a v2 string has a line break before any `=`, a legacy string an `=`
 * before any line break), so one signature is never valid in both.
 */
export function verifyMerchantRequest({
  format,
  scheme,
  key,
  signature,
  request,
}: VerifyMerchantRequestInput): VerifyMerchantRequestResult {
  const v2 = canonicalRequestV2(request);
  if (v2.ok && verify(scheme, v2.canonical, signature, key)) return { ok: true, format: "v2" };
  if (format === "v2") return v2.ok ? { ok: false, reason: "mismatch" } : v2;
  const legacy = canonicalRequest("legacy_params", request);
  if (!legacy.ok) return legacy;
  return verify(scheme, legacy.canonical, signature, key)
    ? { ok: true, format: "legacy_params" }
    : { ok: false, reason: "mismatch" };
}
