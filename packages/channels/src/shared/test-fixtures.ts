// Test-only fixtures shared by the package's unit tests (not exported from the package).
import type { ChannelEndpoint, ChannelId, PayRequest } from "../types.ts";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import type { FetchLike } from "./http.ts";

export function devEndpoint(id: ChannelId, over: Partial<ChannelEndpoint> = {}): ChannelEndpoint {
  const k = DEV_CHANNEL_KEYS[id];
  return {
    baseUrl: "http://channel.test",
    merchantId: k.merchantId,
    signingKey: k.merchantSigningKey,
    verifyKey: k.channelVerifyKey,
    ...over,
  };
}

export function payRequest(over: Partial<PayRequest> = {}): PayRequest {
  return {
    paymentId: "pay_1",
    attemptId: "att_1",
    product: "online_banking",
    amount: 1234,
    currency: "CNY",
    subject: "Order 42",
    payer: { id: "payer_1", ip: "10.0.0.1", deviceId: null, phone: "13800138000" },
    method: { bankCode: "CMB", cardType: "debit", wallet: null, flow: "qr_code" },
    returnUrl: "https://merchant.test/return",
    callbackUrl: "https://api.test/v1/channel-callbacks/x",
    expiresAt: "2030-01-01T00:00:00.000Z",
    metadata: { sim_fault: "decline", order: "42" },
    captureMethod: "automatic",
    ...over,
  };
}

/** A fetch that throws what undici throws when nothing listens on the port. */
export const refusedFetch: FetchLike = async () => {
  throw Object.assign(new TypeError("fetch failed"), {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
  });
};

/** A fetch that throws what AbortSignal.timeout produces. */
export const timeoutFetch: FetchLike = async () => {
  throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
};

export const resetFetch: FetchLike = async () => {
  throw Object.assign(new TypeError("fetch failed"), {
    cause: Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
  });
};

export function answerFetch(
  status: number,
  body: string,
  headers: Record<string, string> = {},
): FetchLike & { calls: { url: string; init: RequestInit }[] } {
  const calls: { url: string; init: RequestInit }[] = [];
  const f = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(body, { status, headers });
  }) as FetchLike & { calls: typeof calls };
  f.calls = calls;
  return f;
}
