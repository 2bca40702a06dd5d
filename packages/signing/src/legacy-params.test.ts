import { describe, expect, it } from "vitest";
import {
  LEGACY_MAX_NESTING,
  LEGACY_RESERVED_KEYS,
  type LegacyParamsRequest,
  legacyRequestString,
  requestSigningPayload,
  SIGN_SCHEMES,
  type SignScheme,
  signMerchantRequest,
  verifyMerchantRequest,
} from "./index.ts";

const post: LegacyParamsRequest = {
  method: "POST",
  path: "/v1/payments",
  query: "",
  merchantId: "m_test_0001",
  timestamp: "1700000000",
  nonce: "n0nce_4f9a2c7e1b3d",
  body: {},
};
const get: LegacyParamsRequest = { ...post, method: "GET", path: "/v1/events", nonce: null, body: undefined };

function refusal(request: LegacyParamsRequest) {
  const result = legacyRequestString(request);
  if (result.ok) throw new Error(`accepted: ${result.payload}`);
  return { reason: result.reason, field: result.field };
}

describe("legacyRequestString: accepted requests keep today's string", () => {
  const accepted: [string, LegacyParamsRequest, Record<string, unknown>][] = [
    [
      "a POST body",
      {
        ...post,
        body: {
          amount: 1999,
          currency: "CNY",
          subject: "咖啡 ☕",
          notify_url: "https://m.example/cb?ref=a1",
          paid: true,
        },
      },
      { amount: 1999, currency: "CNY", subject: "咖啡 ☕", notify_url: "https://m.example/cb?ref=a1", paid: true },
    ],
    [
      "nested values as canonical JSON",
      { ...post, body: { metadata: { z: "1", a: "x=y", n: null, e: "" }, payer: { ids: [3, { b: 1, a: [] }] } } },
      { metadata: { z: "1", a: "x=y", n: null, e: "" }, payer: { ids: [3, { b: 1, a: [] }] } },
    ],
    [
      "a GET query, decoded",
      { ...get, query: "limit=50&after=evt%5F01&q=a+b" },
      { limit: "50", after: "evt_01", q: "a b" },
    ],
    [
      "a GET query already decoded",
      { ...get, query: { limit: ["50"], after: ["evt_01"] } },
      { limit: "50", after: "evt_01" },
    ],
    ["no fields", post, {}],
  ];
  it.each(accepted)("%s", (_, request, params) => {
    const result = legacyRequestString(request);
    const today = requestSigningPayload({
      method: request.method,
      path: request.path,
      merchantId: request.merchantId,
      timestamp: request.timestamp,
      nonce: request.nonce,
      params,
    });
    expect(result).toEqual({ ok: true, payload: today });
  });

  it("writes the documented string", () => {
    expect(
      legacyRequestString({ ...post, method: "post", body: { b: 2, a: "x", m: { z: 1, a: [2, { d: 1, c: 0 }] } } }),
    ).toEqual({
      ok: true,
      payload:
        'a=x&b=2&http_method=POST&http_path=/v1/payments&m={"a":[2,{"c":0,"d":1}],"z":1}&merchant_id=m_test_0001&nonce=n0nce_4f9a2c7e1b3d&timestamp=1700000000',
    });
    expect(legacyRequestString(get)).toEqual({
      ok: true,
      payload: "http_method=GET&http_path=/v1/events&merchant_id=m_test_0001&timestamp=1700000000",
    });
  });
});

describe("legacyRequestString: ambiguous requests are refused with a reason", () => {
  const cases: [string, LegacyParamsRequest, string, string | undefined][] = [
    [
      "a key in both body and query",
      { ...post, query: "amount=1999", body: { amount: 1999 } },
      "field_in_body_and_query",
      "amount",
    ],
    [
      "a body field moved into a POST's query",
      { ...post, query: "amount=1999", body: {} },
      "query_on_body_method",
      "amount",
    ],
    ["body fields on a GET", { ...get, body: { limit: 5 } }, "body_on_query_method", "limit"],
    ["the same query name twice", { ...get, query: "limit=1&limit=500" }, "duplicate_query_key", "limit"],
    ["the same query name twice, decoded", { ...get, query: { limit: ["1", "500"] } }, "duplicate_query_key", "limit"],
    ["& in a body value", { ...post, body: { subject: "tea&amount=1" } }, "separator_in_value", "subject"],
    ["& in a decoded query value", { ...get, query: "after=a%26b" }, "separator_in_value", "after"],
    ["& in a nested string", { ...post, body: { metadata: { note: "a&b" } } }, "separator_in_value", "metadata"],
    ["& in a nested key", { ...post, body: { metadata: { "a&b": "1" } } }, "separator_in_value", "metadata"],
    ["& deep in an array", { ...post, body: { payer: { ids: [1, [2, ["x&y"]]] } } }, "separator_in_value", "payer"],
    ["= in a key", { ...get, query: "a%3Db=1" }, "separator_in_key", "a=b"],
    ["& in a key", { ...post, body: { "a&b": "1" } }, "separator_in_key", "a&b"],
    ["an empty string", { ...post, body: { subject: "" } }, "empty_value", "subject"],
    ["a null", { ...post, body: { expires_in: null } }, "empty_value", "expires_in"],
    ["an empty query value", { ...get, query: "after=" }, "empty_value", "after"],
    ["a query name without a value", { ...get, query: "after" }, "empty_value", "after"],
    [
      "a string that looks like an object",
      { ...post, body: { metadata: '{"a":"1"}' } },
      "json_like_string",
      "metadata",
    ],
    ["a string that looks like an array", { ...get, query: "ids=%5B1%5D" }, "json_like_string", "ids"],
    ["a non-ASCII key", { ...post, body: { é: "1" } }, "invalid_key", "é"],
    ["an empty key", { ...get, query: "=1" }, "invalid_key", ""],
    ["a key with a space", { ...get, query: "a+b=1" }, "invalid_key", "a b"],
    ["a malformed percent-escape", { ...get, query: "after=%zz" }, "invalid_query_encoding", undefined],
    ["an escape that is not UTF-8", { ...get, query: "after=%E4" }, "invalid_query_encoding", undefined],
    ["a body that is not an object", { ...post, body: [1, 2] }, "body_not_object", undefined],
    ["a string body", { ...post, body: "amount=1" }, "body_not_object", undefined],
    ["a value JSON cannot carry", { ...post, body: { at: new Date(0) } }, "unsupported_value", "at"],
    ["undefined inside an array", { ...post, body: { ids: [1, undefined] } }, "unsupported_value", "ids"],
    ["a non-finite number", { ...post, body: { amount: Number.NaN } }, "unsupported_value", "amount"],
    ["& in the path", { ...post, path: "/v1/a&amount=1" }, "separator_in_value", "http_path"],
    ["& in the merchant id", { ...post, merchantId: "m_1&amount=1" }, "separator_in_value", "merchant_id"],
    ["& in the nonce", { ...post, nonce: "n0nce&amount=100" }, "separator_in_value", "nonce"],
    ["an empty merchant id", { ...post, merchantId: "" }, "empty_value", "merchant_id"],
    ["a method that is not a token", { ...post, method: "PO ST" }, "invalid_method", "http_method"],
  ];
  it.each(cases)("%s", (_, request, reason, field) => {
    expect(refusal(request)).toEqual({ reason, field });
  });

  it.each([...LEGACY_RESERVED_KEYS])("a field named %s", (key) => {
    expect(refusal({ ...post, body: { amount: 1, [key]: "x" } })).toEqual({ reason: "reserved_key", field: key });
    expect(refusal({ ...get, query: `${key}=x` })).toEqual({ reason: "reserved_key", field: key });
  });

  it(`nests at most ${LEGACY_MAX_NESTING} arrays or objects in a field, without recursing`, () => {
    const nest = (depth: number): unknown => {
      let value: unknown = "leaf";
      for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { k: value };
      return value;
    };
    expect(legacyRequestString({ ...post, body: { m: nest(LEGACY_MAX_NESTING) } }).ok).toBe(true);
    expect(refusal({ ...post, body: { m: nest(LEGACY_MAX_NESTING + 1) } })).toEqual({ reason: "too_deep", field: "m" });
    // Far past any stack a recursive writer could take.
    expect(refusal({ ...post, body: { m: nest(200_000) } })).toEqual({ reason: "too_deep", field: "m" });
  });

  it("a cycle ends at the depth bound", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect(refusal({ ...post, body: { m: cyclic } })).toEqual({ reason: "too_deep", field: "m" });
  });

  it("checks fields in key order, so a request always gets the same reason", () => {
    expect(refusal({ ...post, body: { z: "", a: "x&y" } })).toEqual({ reason: "separator_in_value", field: "a" });
    expect(refusal({ ...post, body: { a: "x&y", z: "" } })).toEqual({ reason: "separator_in_value", field: "a" });
  });
});

describe.each(SIGN_SCHEMES.filter((s): s is Exclude<SignScheme, "RSA_SHA256"> => s !== "RSA_SHA256"))(
  "legacy signatures with %s",
  (scheme) => {
    const request = {
      method: "POST",
      path: "/v1/payments",
      rawQuery: "",
      merchantId: "m_test_0001",
      timestamp: "1700000000",
      nonce: "n0nce_4f9a2c7e1b3d",
      body: '{"amount":1999,"currency":"CNY"}',
    };
    const signed = signMerchantRequest({ format: "legacy_params", scheme, key: "k", request });
    if (!signed.ok) throw new Error(signed.reason);
    const check = (change: Partial<typeof request>) =>
      verifyMerchantRequest({
        format: "legacy_params",
        scheme,
        key: "k",
        signature: signed.signature,
        request: { ...request, ...change },
      });

    it("verifies the same fields whatever the JSON layout (legacy signs parsed fields, not bytes)", () => {
      expect(check({})).toEqual({ ok: true, format: "legacy_params" });
      expect(check({ body: '{ "currency": "CNY", "amount": 1999 }' })).toEqual({ ok: true, format: "legacy_params" });
    });

    it.each<[string, Partial<typeof request>]>([
      ["method", { method: "PUT" }],
      ["path", { path: "/v1/orders" }],
      ["a body value", { body: '{"amount":1998,"currency":"CNY"}' }],
      ["timestamp", { timestamp: "1700000001" }],
      ["nonce", { nonce: "n0nce_4f9a2c7e1b3e" }],
      ["merchant id", { merchantId: "m_test_0002" }],
    ])("breaks when the %s changes", (_, change) => {
      expect(check(change)).toEqual({ ok: false, reason: "mismatch" });
    });

    it("refuses, rather than verifies, a field moved into the query", () => {
      expect(check({ rawQuery: "amount=1999", body: '{"currency":"CNY"}' })).toEqual({
        ok: false,
        reason: "query_on_body_method",
        field: "amount",
      });
      expect(check({ body: "not json" })).toEqual({ ok: false, reason: "body_not_json" });
    });
  },
);
