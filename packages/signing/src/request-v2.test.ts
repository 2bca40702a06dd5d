import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  bodyDigest,
  canonicalRequestV2,
  type RawRequest,
  REQUEST_V2_TAG,
  SIGN_SCHEMES,
  type SignScheme,
  signMerchantRequest,
  splitRequestTarget,
  verifyMerchantRequest,
} from "./index.ts";

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const base: RawRequest = {
  method: "POST",
  path: "/v1/payments",
  rawQuery: "expand=timeline",
  merchantId: "m_test_0001",
  timestamp: "1700000000",
  nonce: "n0nce_4f9a2c7e1b3d",
  body: '{"amount":1999,"currency":"CNY","subject":"咖啡"}',
};

const rsa = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const keys: Record<SignScheme, { sign: string; verify: string }> = {
  HMAC_SHA256: { sign: "hmac-secret", verify: "hmac-secret" },
  MD5: { sign: "md5-secret", verify: "md5-secret" },
  RSA_SHA256: { sign: rsa.privateKey, verify: rsa.publicKey },
};

function canonical(request: RawRequest): string {
  const result = canonicalRequestV2(request);
  if (!result.ok) throw new Error(`refused: ${result.reason}`);
  return result.canonical;
}

describe("bodyDigest", () => {
  it("hashes the exact bytes; no body is the empty string's SHA-256", () => {
    expect(bodyDigest("")).toBe(EMPTY_SHA256);
    expect(bodyDigest(undefined)).toBe(EMPTY_SHA256);
    expect(bodyDigest(null)).toBe(EMPTY_SHA256);
    expect(bodyDigest(new Uint8Array())).toBe(EMPTY_SHA256);
    expect(bodyDigest("é")).toBe(bodyDigest(new Uint8Array([0xc3, 0xa9])));
    expect(bodyDigest('{"a":1}')).not.toBe(bodyDigest('{"a": 1}'));
  });
});

describe("canonicalRequestV2", () => {
  it("is eight lines: tag, METHOD, path, raw query, merchant, timestamp, nonce, body digest", () => {
    expect(canonical({ ...base, method: "post" }).split("\n")).toEqual([
      REQUEST_V2_TAG,
      "POST",
      "/v1/payments",
      "expand=timeline",
      "m_test_0001",
      "1700000000",
      "n0nce_4f9a2c7e1b3d",
      bodyDigest(base.body),
    ]);
  });

  it("keeps the path and query byte for byte: no decoding, no reordering, no normalising", () => {
    const lines = canonical({ ...base, path: "/v1/a/../payments/%7Eid", rawQuery: "b=2&a=%41+x&&a=1" }).split("\n");
    expect(lines[2]).toBe("/v1/a/../payments/%7Eid");
    expect(lines[3]).toBe("b=2&a=%41+x&&a=1");
  });

  it("writes an empty nonce line for a read without a nonce, and an empty query line without a query", () => {
    const lines = canonical({ ...base, method: "GET", rawQuery: "", nonce: null, body: undefined }).split("\n");
    expect(lines).toHaveLength(8);
    expect(lines[3]).toBe("");
    expect(lines[6]).toBe("");
    expect(lines[7]).toBe(EMPTY_SHA256);
  });

  it.each(["method", "path", "rawQuery", "merchantId", "timestamp", "nonce"] as const)(
    "refuses a line break in %s",
    (field) => {
      for (const lineBreak of ["\n", "\r"]) {
        const value = `${field === "path" ? "/" : ""}x${lineBreak}y`;
        expect(canonicalRequestV2({ ...base, [field]: value })).toEqual({
          ok: false,
          reason: "line_break_in_field",
          field,
        });
      }
    },
  );

  it("refuses a method that is not an HTTP token and a path that does not start at / or holds a ?", () => {
    expect(canonicalRequestV2({ ...base, method: "PO ST" })).toMatchObject({ ok: false, reason: "invalid_method" });
    expect(canonicalRequestV2({ ...base, method: "" })).toMatchObject({ ok: false, reason: "invalid_method" });
    expect(canonicalRequestV2({ ...base, method: "poſt" })).toMatchObject({ ok: false, reason: "invalid_method" }); // ſ upper-cases to S
    expect(canonicalRequestV2({ ...base, path: "v1/payments" })).toMatchObject({ ok: false, reason: "invalid_path" });
    expect(canonicalRequestV2({ ...base, path: "/v1/payments?x=1" })).toMatchObject({
      ok: false,
      reason: "invalid_path",
    });
  });

  it("gives another string when a body field moves into the query", () => {
    const inBody = canonical({ ...base, rawQuery: "", body: '{"amount":1999,"currency":"CNY"}' });
    const inQuery = canonical({ ...base, rawQuery: "amount=1999", body: '{"currency":"CNY"}' });
    const copied = canonical({ ...base, rawQuery: "amount=1999", body: '{"amount":1999,"currency":"CNY"}' });
    expect(new Set([inBody, inQuery, copied]).size).toBe(3);
  });

  it("tells an object from its JSON string and an empty value from none", () => {
    expect(canonical({ ...base, body: '{"m":{"a":1}}' })).not.toBe(canonical({ ...base, body: '{"m":"{\\"a\\":1}"}' }));
    expect(canonical({ ...base, body: '{"a":""}' })).not.toBe(canonical({ ...base, body: "{}" }));
    expect(canonical({ ...base, rawQuery: "a=1&b=2" })).not.toBe(canonical({ ...base, rawQuery: "a=1%26b%3D2" }));
  });
});

describe("splitRequestTarget", () => {
  it("splits at the first ? and keeps everything after it", () => {
    expect(splitRequestTarget("/v1/payments")).toEqual({ path: "/v1/payments", rawQuery: "" });
    expect(splitRequestTarget("/v1/payments?")).toEqual({ path: "/v1/payments", rawQuery: "" });
    expect(splitRequestTarget("/v1/events?a=1?b&c")).toEqual({ path: "/v1/events", rawQuery: "a=1?b&c" });
  });
});

describe.each(SIGN_SCHEMES)("v2 signatures with %s", (scheme) => {
  const signed = signMerchantRequest({ format: "v2", scheme, key: keys[scheme].sign, request: base });
  if (!signed.ok) throw new Error(signed.reason);
  const check = (request: RawRequest) =>
    verifyMerchantRequest({ format: "v2", scheme, key: keys[scheme].verify, signature: signed.signature, request });

  it("verifies the request it was made for", () => {
    expect(check(base)).toEqual({ ok: true, format: "v2" });
    expect(check({ ...base, method: "post", body: new TextEncoder().encode(base.body as string) })).toEqual({
      ok: true,
      format: "v2",
    });
  });

  const body = new TextEncoder().encode(base.body as string);
  const flippedByte = Uint8Array.from(body, (b, i) => (i === body.length - 2 ? b ^ 0x01 : b));
  const tampered: [string, Partial<RawRequest>][] = [
    ["method", { method: "PUT" }],
    ["path", { path: "/v1/orders" }],
    ["path escaping", { path: "/v1/%70ayments" }],
    ["query", { rawQuery: "expand=timelinf" }],
    ["query removed", { rawQuery: "" }],
    ["one body byte", { body: flippedByte }],
    ["body dropped", { body: "" }],
    ["timestamp", { timestamp: "1700000001" }],
    ["nonce", { nonce: "n0nce_4f9a2c7e1b3e" }],
    ["nonce removed", { nonce: null }],
    ["merchant id", { merchantId: "m_test_0002" }],
  ];
  it.each(tampered)("breaks when the %s changes", (_, change) => {
    expect(check({ ...base, ...change })).toEqual({ ok: false, reason: "mismatch" });
  });

  it("reports a refused request instead of a mismatch", () => {
    expect(check({ ...base, nonce: "a\nb" })).toEqual({ ok: false, reason: "line_break_in_field", field: "nonce" });
    expect(
      signMerchantRequest({ format: "v2", scheme, key: keys[scheme].sign, request: { ...base, merchantId: "m\n1" } }),
    ).toEqual({ ok: false, reason: "line_break_in_field", field: "merchantId" });
  });
});
