import { SIGN_FORMATS, SIGN_SCHEMES, type SignFormat, type SignScheme } from "@pps/signing";
import { loadSigningVectors } from "@pps/signing/test-vectors";
import { describe, expect, it } from "vitest";
import { type MerchantCredentials, signRequestHeaders } from "./client.ts";

/** The SDK signs the published vectors (docs/signing-vectors.json) byte for byte, in both formats and every scheme. */
const vectors = loadSigningVectors();

function credentials(merchantId: string, scheme: SignScheme, signFormat: SignFormat): MerchantCredentials {
  return scheme === "RSA_SHA256"
    ? { merchantId, scheme, signFormat, privateKey: vectors.keys.RSA_SHA256.private_key_pem }
    : { merchantId, scheme, signFormat, secretKey: vectors.keys[scheme].secret_key };
}

describe.each(vectors.requests)("vector $name", (v) => {
  it.each(SIGN_FORMATS.flatMap((format) => SIGN_SCHEMES.map((scheme) => ({ format, scheme }))))(
    "$format $scheme",
    ({ format, scheme }) => {
      const headers = signRequestHeaders(credentials(v.merchant_id, scheme, format), {
        method: v.method,
        path: v.path,
        rawQuery: v.raw_query,
        body: v.body,
        nonce: v.nonce,
        timestamp: Number(v.timestamp),
      });
      expect(headers["x-signature"]).toBe(v.signatures[format][scheme]);
      expect(headers["x-sign-type"]).toBe(scheme);
    },
  );
});

describe("requests the legacy format cannot pin down", () => {
  it.each(vectors.refused.filter((r) => r.format === "legacy_params"))("$name: the SDK refuses to sign it", (v) => {
    const sign = () =>
      signRequestHeaders(credentials(v.merchant_id, "HMAC_SHA256", "legacy_params"), {
        method: v.method,
        path: v.path,
        rawQuery: v.raw_query,
        body: v.body,
        nonce: v.nonce,
        timestamp: Number(v.timestamp),
      });
    expect(sign).toThrow(/cannot be signed in format legacy_params/);
  });
});
