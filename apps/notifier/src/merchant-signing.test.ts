import { describe, expect, it } from "vitest";
import { MerchantSigningClient } from "./merchant-signing.ts";

function fakeApi(answer: (url: string, auth: string | null) => Response) {
  const calls: string[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push(url);
    return answer(url, new Headers(init?.headers).get("authorization"));
  }) as typeof globalThis.fetch;
  return { calls, fetch };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

describe("merchant signing keys from payment-api", () => {
  it("asks once per merchant with the service token, shares concurrent misses, and caches for the TTL", async () => {
    const api = fakeApi((url, auth) => {
      expect(auth).toBe("Bearer svc-token-123456");
      const id = url.split("/").at(-2)!;
      return json(200, { merchant_id: id, status: "active", sign_scheme: "MD5", secret_key: `key-of-${id}` });
    });
    const client = new MerchantSigningClient({
      paymentApiUrl: "http://api",
      internalToken: "svc-token-123456",
      fetch: api.fetch,
      ttlMs: 50,
    });
    const [a, b] = await Promise.all([client.get("m_1"), client.get("m_1")]);
    expect(a).toEqual({
      ok: true,
      signing: { merchantId: "m_1", status: "active", scheme: "MD5", secretKey: "key-of-m_1" },
    });
    expect(b).toEqual(a);
    await client.get("m_1");
    expect(api.calls).toEqual(["http://api/internal/v1/merchants/m_1/signing"]);
    await new Promise((r) => setTimeout(r, 60));
    await client.get("m_1");
    expect(api.calls).toHaveLength(2);
  });

  it("tells an unknown merchant (never signable) from payment-api being unavailable (try later)", async () => {
    const unknown = new MerchantSigningClient({
      paymentApiUrl: "http://api",
      internalToken: "t",
      fetch: fakeApi(() =>
        json(401, { error: { code: "merchant.unknown", message: "unknown merchant", requestId: "r" } }),
      ).fetch,
    });
    expect(await unknown.get("m_x")).toMatchObject({ ok: false, reason: "unknown_merchant" });
    const badToken = new MerchantSigningClient({
      paymentApiUrl: "http://api",
      internalToken: "t",
      fetch: fakeApi(() => json(401, { error: { code: "auth.admin_token_invalid", message: "no", requestId: "r" } }))
        .fetch,
    });
    expect(await badToken.get("m_x")).toMatchObject({ ok: false, reason: "unavailable" });
    const down = new MerchantSigningClient({
      paymentApiUrl: "http://api",
      internalToken: "t",
      fetch: fakeApi(() => json(503, {})).fetch,
    });
    expect(await down.get("m_x")).toMatchObject({ ok: false, reason: "unavailable" });
    const unreachable = new MerchantSigningClient({
      paymentApiUrl: "http://127.0.0.1:1",
      internalToken: "t",
      timeoutMs: 500,
    });
    expect(await unreachable.get("m_x")).toMatchObject({ ok: false, reason: "unavailable" });
    const garbage = new MerchantSigningClient({
      paymentApiUrl: "http://api",
      internalToken: "t",
      fetch: fakeApi(() =>
        json(200, { merchant_id: "m_other", sign_scheme: "HMAC_SHA256", secret_key: "k", status: "active" }),
      ).fetch,
    });
    expect(await garbage.get("m_x")).toMatchObject({ ok: false, reason: "unavailable" });
  });
});
