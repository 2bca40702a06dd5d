import { generateKeyPairSync } from "node:crypto";
import { signBodyForMerchant, verifyMerchantRequest } from "@pps/signing";
import { describe, expect, it } from "vitest";
import { signRequestHeaders, verifyNotification, type MerchantCredentials } from "./client.ts";

const rsa = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const platform = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});

const creds: Record<string, MerchantCredentials> = {
  HMAC_SHA256: { merchantId: "m_1", scheme: "HMAC_SHA256", secretKey: "s3cret-s3cret-s3cret" },
  MD5: { merchantId: "m_1", scheme: "MD5", secretKey: "legacy-key" },
  RSA_SHA256: {
    merchantId: "m_1",
    scheme: "RSA_SHA256",
    secretKey: "rsa-merchant-secret",
    privateKey: rsa.privateKey,
    platformPublicKey: platform.publicKey,
  },
};

describe("request signing", () => {
  it.each(Object.keys(creds))(
    "%s headers verify on the server side with the matching key, over the exact bytes",
    (scheme) => {
      const c = creds[scheme]!;
      const body = JSON.stringify({ amount: 100, currency: "CNY", payer: { id: "u1" } });
      const request = {
        method: "POST",
        path: "/v1/payments",
        rawQuery: "",
        merchantId: "m_1",
        timestamp: "1700000000",
        nonce: "n".repeat(16),
        body,
      };
      const headers = signRequestHeaders(c, {
        method: "POST",
        path: "/v1/payments",
        body,
        nonce: "n".repeat(16),
        timestamp: 1_700_000_000,
      });
      const key = c.scheme === "RSA_SHA256" ? rsa.publicKey : c.secretKey!;
      const check = (r: typeof request) =>
        verifyMerchantRequest({ format: "v2", scheme: c.scheme, key, signature: headers["x-signature"]!, request: r });
      expect(check(request)).toEqual({ ok: true, format: "v2" });
      // The same signature covers no other path, query, or body byte.
      expect(check({ ...request, path: "/v1/orders" }).ok).toBe(false);
      expect(check({ ...request, rawQuery: "amount=100" }).ok).toBe(false);
      expect(check({ ...request, body: body.replace("100", "101") }).ok).toBe(false);
    },
  );
});

describe("notification and response verification", () => {
  const body = JSON.stringify({ id: "evt_1", type: "payment.succeeded", data: { amount: 100 } });
  const now = 1_700_000_000_000;
  const ts = String(now / 1000);

  it.each(Object.keys(creds))(
    "%s: accepts a fresh, untouched body; refuses tampering, old timestamps and a missing legacy signature",
    (scheme) => {
      const c = creds[scheme]!;
      const h = signBodyForMerchant({
        scheme: c.scheme,
        secretKey: c.secretKey!,
        platformPrivateKey: platform.privateKey,
        body,
        timestamp: ts,
      });
      const input = {
        body,
        timestamp: ts,
        signature: h["x-signature"],
        legacySignature: h["x-signature-legacy"],
        legacyScheme: h["x-sign-type"],
        nowMs: now,
      };
      expect(verifyNotification(c, input)).toEqual({ ok: true });
      expect(verifyNotification(c, { ...input, body: body.replace("100", "900") })).toEqual({
        ok: false,
        reason: "mismatch",
      });
      expect(verifyNotification(c, { ...input, nowMs: now + 301_000 })).toEqual({ ok: false, reason: "stale" });
      expect(verifyNotification(c, { ...input, timestamp: String(Number(ts) + 1) })).toEqual({
        ok: false,
        reason: "mismatch",
      });
      expect(verifyNotification(c, { ...input, signature: null })).toEqual({ ok: false, reason: "missing" });
      if (c.scheme !== "HMAC_SHA256") {
        expect(verifyNotification(c, { ...input, legacySignature: null, legacyScheme: null })).toEqual({
          ok: false,
          reason: "missing",
        });
        // A legacy signature made with another key is refused even when the HMAC one holds.
        const forged = signBodyForMerchant({
          scheme: c.scheme,
          secretKey: "someone-else",
          platformPrivateKey: rsa.privateKey,
          body,
          timestamp: ts,
        });
        expect(verifyNotification(c, { ...input, legacySignature: forged["x-signature-legacy"] })).toEqual({
          ok: false,
          reason: "mismatch",
        });
      }
    },
  );
});
