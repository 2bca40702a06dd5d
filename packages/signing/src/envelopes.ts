import { canonicalParams } from "./canonical.ts";
import { sign, verify, type SignScheme } from "./schemes.ts";

/**
 * The string a merchant signs for an API request: every body field and query parameter plus merchant_id,
 * timestamp, nonce, http_method and http_path, as a sorted `k=v&…` string. Binding method and path means a
 * signature for one endpoint cannot be replayed against another.
 * @deprecated Ambiguous (a field can move between body and query, a value can imitate another field). Use
 * `verifyMerchantRequest` / `signMerchantRequest` (format `v2`, or `legacy_params`, which refuses the ambiguous cases).
 */
export function requestSigningPayload(input: {
  method: string;
  path: string;
  merchantId: string;
  timestamp: string;
  nonce: string | null;
  params: Record<string, unknown>;
}): string {
  return canonicalParams({
    ...input.params,
    merchant_id: input.merchantId,
    timestamp: input.timestamp,
    nonce: input.nonce ?? "",
    http_method: input.method.toUpperCase(),
    http_path: input.path,
  });
}

/** What we sign on responses and notifications: `timestamp.body`, so neither can change without the other. */
export function bodySigningPayload(timestamp: string, body: string): string {
  return `${timestamp}.${body}`;
}

export function signBody(scheme: SignScheme, timestamp: string, body: string, key: string): string {
  return sign(scheme, bodySigningPayload(timestamp, body), key);
}

export type VerifyBodyInput = {
  scheme: SignScheme;
  timestamp: string | null | undefined;
  signature: string | null | undefined;
  body: string;
  /** Shared secret (HMAC/MD5) or the signer's RSA public key. */
  key: string;
  toleranceSeconds: number;
  nowMs?: number;
};

/** Verifies a signed body and that its timestamp is within the tolerance (an old message is refused). */
export function verifyBody({
  scheme,
  timestamp,
  signature,
  body,
  key,
  toleranceSeconds,
  nowMs = Date.now(),
}: VerifyBodyInput): { ok: true } | { ok: false; reason: "missing" | "stale" | "mismatch" } {
  if (!timestamp || !signature) return { ok: false, reason: "missing" };
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds)
    return { ok: false, reason: "stale" };
  return verify(scheme, bodySigningPayload(timestamp, body), signature, key)
    ? { ok: true }
    : { ok: false, reason: "mismatch" };
}

/** Headers of a body the platform signs for a merchant (API responses and notifications). */
export const BODY_SIGNATURE_HEADERS = {
  timestamp: "x-timestamp",
  /** Always: HMAC-SHA256 hex over `timestamp.body` with the merchant's secret key. */
  signature: "x-signature",
  /** MD5 and RSA merchants also get their own scheme here (RSA: the platform's private key). */
  legacySignature: "x-signature-legacy",
  legacyScheme: "x-sign-type",
} as const;

/**
 * Signs a body for a merchant: the HMAC-SHA256 signature every merchant can check, plus the merchant's
 * legacy scheme where it has one. `platformPrivateKey` is used for RSA merchants.
 */
export function signBodyForMerchant(input: {
  scheme: SignScheme;
  secretKey: string;
  platformPrivateKey: string;
  body: string;
  timestamp: string;
}): Record<string, string> {
  const headers: Record<string, string> = {
    [BODY_SIGNATURE_HEADERS.timestamp]: input.timestamp,
    [BODY_SIGNATURE_HEADERS.signature]: signBody("HMAC_SHA256", input.timestamp, input.body, input.secretKey),
  };
  if (input.scheme !== "HMAC_SHA256") {
    headers[BODY_SIGNATURE_HEADERS.legacyScheme] = input.scheme;
    headers[BODY_SIGNATURE_HEADERS.legacySignature] = signBody(
      input.scheme,
      input.timestamp,
      input.body,
      input.scheme === "RSA_SHA256" ? input.platformPrivateKey : input.secretKey,
    );
  }
  return headers;
}
