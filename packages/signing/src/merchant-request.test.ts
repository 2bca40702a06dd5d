import { describe, expect, it } from "vitest";
import {
  canonicalRequest,
  DEFAULT_SIGN_FORMAT,
  isSignFormat,
  type RawRequest,
  signMerchantRequest,
  verifyMerchantRequest,
} from "./index.ts";

const request: RawRequest = {
  method: "POST",
  path: "/v1/payments",
  rawQuery: "",
  merchantId: "m_test_0001",
  timestamp: "1700000000",
  nonce: "n0nce_4f9a2c7e1b3d",
  body: '{"amount":1999}',
};

function signature(format: "v2" | "legacy_params"): string {
  const signed = signMerchantRequest({ format, scheme: "HMAC_SHA256", key: "k", request });
  if (!signed.ok) throw new Error(signed.reason);
  return signed.signature;
}

describe("sign formats", () => {
  it("v2 is the default; only the two formats are known", () => {
    expect(DEFAULT_SIGN_FORMAT).toBe("v2");
    expect(isSignFormat("v2")).toBe(true);
    expect(isSignFormat("legacy_params")).toBe(true);
    expect(isSignFormat("v1")).toBe(false);
  });

  it("a v2 merchant is held to v2: a legacy signature does not verify", () => {
    expect(
      verifyMerchantRequest({ format: "v2", scheme: "HMAC_SHA256", key: "k", signature: signature("v2"), request }),
    ).toEqual({ ok: true, format: "v2" });
    expect(
      verifyMerchantRequest({
        format: "v2",
        scheme: "HMAC_SHA256",
        key: "k",
        signature: signature("legacy_params"),
        request,
      }),
    ).toEqual({ ok: false, reason: "mismatch" });
  });

  it("a legacy merchant may already send v2, and the result says which format matched", () => {
    expect(
      verifyMerchantRequest({
        format: "legacy_params",
        scheme: "HMAC_SHA256",
        key: "k",
        signature: signature("legacy_params"),
        request,
      }),
    ).toEqual({ ok: true, format: "legacy_params" });
    expect(
      verifyMerchantRequest({
        format: "legacy_params",
        scheme: "HMAC_SHA256",
        key: "k",
        signature: signature("v2"),
        request,
      }),
    ).toEqual({ ok: true, format: "v2" });
  });

  it("the two canonical strings never coincide: v2 meets a line break first, legacy an =", () => {
    const firstSeparator = (s: string) => s[s.search(/[=\n]/)];
    for (const r of [
      request,
      { ...request, body: '{"subject":"a\\nb=c"}' },
      { ...request, method: "GET", rawQuery: "a=1", body: "" },
    ]) {
      const v2 = canonicalRequest("v2", r);
      const legacy = canonicalRequest("legacy_params", r);
      if (!v2.ok || !legacy.ok) throw new Error("refused");
      expect(firstSeparator(v2.canonical)).toBe("\n");
      expect(firstSeparator(legacy.canonical)).toBe("=");
    }
  });

  it("a legacy merchant's request that v2 would refuse is judged by the legacy rules", () => {
    const withBreak = { ...request, nonce: "n0nce\n4f9a2c7e1b3d" };
    expect(
      verifyMerchantRequest({ format: "v2", scheme: "HMAC_SHA256", key: "k", signature: "00", request: withBreak }),
    ).toEqual({ ok: false, reason: "line_break_in_field", field: "nonce" });
    expect(
      verifyMerchantRequest({
        format: "legacy_params",
        scheme: "HMAC_SHA256",
        key: "k",
        signature: "00",
        request: withBreak,
      }),
    ).toEqual({ ok: false, reason: "mismatch" });
  });
});
