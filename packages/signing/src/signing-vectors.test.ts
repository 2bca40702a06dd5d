import { describe, expect, it } from "vitest";
import {
  bodyDigest,
  canonicalRequest,
  isSignFormat,
  isSignScheme,
  type RawRequest,
  SIGN_FORMATS,
  SIGN_SCHEMES,
  sign,
  type SignScheme,
  verifyMerchantRequest,
} from "./index.ts";
import { loadSigningVectors, type SigningVectorInput } from "./test-vectors.ts";

type VectorInput = SigningVectorInput;
const vectors = loadSigningVectors();

function rawRequest(v: VectorInput): RawRequest {
  return {
    method: v.method,
    path: v.path,
    rawQuery: v.raw_query,
    merchantId: v.merchant_id,
    timestamp: v.timestamp,
    nonce: v.nonce,
    body: v.body,
  };
}

const signingKey = (scheme: SignScheme) =>
  scheme === "RSA_SHA256" ? vectors.keys.RSA_SHA256.private_key_pem : vectors.keys[scheme].secret_key;
const verifyingKey = (scheme: SignScheme) =>
  scheme === "RSA_SHA256" ? vectors.keys.RSA_SHA256.public_key_pem : vectors.keys[scheme].secret_key;

describe("docs/signing-vectors.json", () => {
  it("covers a GET with a query, a POST with a non-ASCII JSON body and a POST with an empty body", () => {
    expect(vectors.requests.some((r) => r.method === "GET" && r.raw_query !== "")).toBe(true);
    expect(vectors.requests.some((r) => r.method === "POST" && Buffer.byteLength(r.body, "utf8") > r.body.length)).toBe(
      true,
    );
    expect(vectors.requests.some((r) => r.method === "POST" && r.body === "")).toBe(true);
  });

  describe.each(vectors.requests)("$name", (vector) => {
    it("has the documented body digest", () => {
      expect(bodyDigest(vector.body)).toBe(vector.body_sha256);
      expect(bodyDigest(new TextEncoder().encode(vector.body))).toBe(vector.body_sha256);
    });

    it.each(SIGN_FORMATS)("recomputes the %s canonical string and every scheme's signature", (format) => {
      const canonical = canonicalRequest(format, rawRequest(vector));
      expect(canonical).toEqual({ ok: true, canonical: vector.canonical[format] });
      for (const scheme of SIGN_SCHEMES) {
        const expected = vector.signatures[format]?.[scheme];
        expect(sign(scheme, vector.canonical[format]!, signingKey(scheme)), `${format} ${scheme}`).toBe(expected);
        const verified = verifyMerchantRequest({
          format,
          scheme,
          key: verifyingKey(scheme),
          signature: expected!,
          request: rawRequest(vector),
        });
        expect(verified, `${format} ${scheme}`).toEqual({ ok: true, format });
      }
    });
  });

  it.each(vectors.refused)("refuses $name in $format with $reason", (vector) => {
    expect(isSignFormat(vector.format)).toBe(true);
    const result = canonicalRequest(vector.format as "v2", rawRequest(vector));
    expect(result).toEqual({
      ok: false,
      reason: vector.reason,
      ...(vector.field !== undefined ? { field: vector.field } : {}),
    });
  });

  it("lists every scheme's keys", () => {
    expect(Object.keys(vectors.keys).every(isSignScheme)).toBe(true);
  });
});
