import { createHash, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalParams, sign, verify } from "./index.ts";

describe("canonicalParams", () => {
  it("sorts keys, drops empty values and signature fields, writes nested values as canonical JSON", () => {
    const s = canonicalParams({
      b: 2,
      a: "x",
      sign: "zzz",
      empty: "",
      nil: null,
      nested: { z: 1, a: [2, { d: 1, c: 0 }] },
    });
    expect(s).toBe('a=x&b=2&nested={"a":[2,{"c":0,"d":1}],"z":1}');
  });

  it("canonicalJson is independent of key order", () => {
    expect(canonicalJson({ b: 1, a: { y: 2, x: 1 } })).toBe(canonicalJson({ a: { x: 1, y: 2 }, b: 1 }));
  });
});

describe("sign and verify", () => {
  const payload = "amount=100&currency=CNY&merchant_id=m_1";

  it("MD5 matches the classic gateway recipe", () => {
    const expected = createHash("md5").update(`${payload}&key=k123`).digest("hex").toUpperCase();
    expect(sign("MD5", payload, "k123")).toBe(expected);
    expect(verify("MD5", payload, expected.toLowerCase(), "k123")).toBe(true);
    expect(verify("MD5", payload, expected, "other")).toBe(false);
  });

  it("HMAC-SHA256 verifies only the same payload and key", () => {
    const sig = sign("HMAC_SHA256", payload, "secret");
    expect(verify("HMAC_SHA256", payload, sig, "secret")).toBe(true);
    expect(verify("HMAC_SHA256", `${payload}0`, sig, "secret")).toBe(false);
    expect(verify("HMAC_SHA256", payload, sig.slice(2), "secret")).toBe(false);
  });

  it("RSA-SHA256 signs with the private key and verifies with the public key", () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    const sig = sign("RSA_SHA256", payload, privateKey);
    expect(verify("RSA_SHA256", payload, sig, publicKey)).toBe(true);
    expect(verify("RSA_SHA256", payload.replace("100", "101"), sig, publicKey)).toBe(false);
    expect(verify("RSA_SHA256", payload, "not-base64!!", publicKey)).toBe(false);
    expect(verify("RSA_SHA256", payload, sig, "not a key")).toBe(false);
  });
});
