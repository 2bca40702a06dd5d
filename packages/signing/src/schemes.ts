import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSign,
  createVerify,
  type KeyObject,
  timingSafeEqual,
} from "node:crypto";

/**
 * The signature schemes merchants and channels use.
 * - HMAC_SHA256 (our default): hex HMAC of the payload with the shared key.
 * - MD5 (legacy gateways): uppercase hex MD5 of `payload&key=<key>`.
 * - RSA_SHA256: base64 PKCS#1 v1.5 signature; signed with a private key, verified with the public key.
 */
export const SIGN_SCHEMES = ["HMAC_SHA256", "MD5", "RSA_SHA256"] as const;
export type SignScheme = (typeof SIGN_SCHEMES)[number];

export function isSignScheme(value: string): value is SignScheme {
  return (SIGN_SCHEMES as readonly string[]).includes(value);
}

/** Parsed keys by PEM text: parsing a PEM costs more than the RSA operation itself. Bounded, oldest out first. */
const KEY_CACHE_SIZE = 1_000;
const keyCache = new Map<string, KeyObject>();

function keyObject(pem: string, kind: "private" | "public"): KeyObject {
  const cacheKey = `${kind}\0${pem}`;
  let key = keyCache.get(cacheKey);
  if (!key) {
    key = kind === "private" ? createPrivateKey(pem) : createPublicKey(pem);
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(cacheKey, key);
  }
  return key;
}

/** Key material: a shared secret for HMAC/MD5, a PEM private key for signing RSA, a PEM public key for verifying it. */
export function sign(scheme: SignScheme, payload: string, key: string): string {
  switch (scheme) {
    case "HMAC_SHA256":
      return createHmac("sha256", key).update(payload, "utf8").digest("hex");
    case "MD5":
      return createHash("md5").update(`${payload}&key=${key}`, "utf8").digest("hex").toUpperCase();
    case "RSA_SHA256":
      return createSign("RSA-SHA256").update(payload, "utf8").sign(keyObject(key, "private"), "base64");
  }
}

function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function verify(scheme: SignScheme, payload: string, signature: string, key: string): boolean {
  switch (scheme) {
    case "HMAC_SHA256":
      return constantTimeEqual(sign(scheme, payload, key), signature.toLowerCase());
    case "MD5":
      return constantTimeEqual(sign(scheme, payload, key), signature.toUpperCase());
    case "RSA_SHA256":
      try {
        return createVerify("RSA-SHA256").update(payload, "utf8").verify(keyObject(key, "public"), signature, "base64");
      } catch {
        return false; // a malformed key or signature is simply not a valid signature
      }
  }
}
