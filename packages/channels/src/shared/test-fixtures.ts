// Test-only fixtures shared by the package's unit tests (not exported from the package).
import { expect } from "vitest";
import type { OperationKind } from "@pps/domain";
import type {
  ChannelAdapter,
  ChannelEndpoint,
  ChannelId,
  OperationOutcome,
  OperationRequest,
  PayRequest,
} from "../types.ts";
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

/**
 * A builder of operation requests on payRequest()'s payment (attempt att_1, 12.34 CNY) at `channel`: a refund
 * of 5.00 under re_1, as the router sends it, unless the test file's `defaults` or the call's `over` say otherwise.
 */
export function operationRequestFor(
  channel: ChannelId,
  defaults: Partial<OperationRequest> = {},
): (over?: Partial<OperationRequest>) => OperationRequest {
  return (over = {}) => ({
    kind: "refund",
    operationId: "re_1",
    paymentId: "pay_1",
    attemptId: "att_1",
    channelTxnId: null,
    amount: 500,
    currency: "CNY",
    paymentAmount: 1234,
    reason: "returned goods",
    callbackUrl: `https://api.test/v1/channel-callbacks/${channel}`,
    ...defaults,
    ...over,
  });
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

/** A fetch that keeps the calls made through it. */
export type RecordingFetch = FetchLike & { calls: { url: string; init: RequestInit }[] };

export function answerFetch(status: number, body: string, headers: Record<string, string> = {}): RecordingFetch {
  const calls: RecordingFetch["calls"] = [];
  const f = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(body, { status, headers });
  }) as RecordingFetch;
  f.calls = calls;
  return f;
}

/** The body of the i-th call made through a recording fetch. */
export function sentBody(f: RecordingFetch, i = 0): string {
  return String(f.calls[i]?.init.body);
}

/** The i-th call's body as the JSON object it carries. */
export function sentJson(f: RecordingFetch, i = 0): Record<string, unknown> {
  return JSON.parse(sentBody(f, i)) as Record<string, unknown>;
}

/** The i-th call's body as the form fields it carries. */
export function sentForm(f: RecordingFetch, i = 0): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(sentBody(f, i)));
}

/** Operations a channel does not offer are refused (flow_not_supported) by operate and queryOperation alike. */
export async function expectFlowsNotOffered(
  adapter: ChannelAdapter,
  request: (over: Partial<OperationRequest>) => OperationRequest,
  kinds: OperationKind[],
): Promise<void> {
  for (const kind of kinds) {
    expect(await adapter.operate(request({ kind })), kind).toMatchObject({
      status: "failed",
      code: "flow_not_supported",
    });
    expect(await adapter.queryOperation(request({ kind })), kind).toMatchObject({
      status: "failed",
      code: "flow_not_supported",
    });
  }
}

/**
 * The transport rules of an operation call, `operate` run through each fetch: nothing sent (a refused
 * connection) and the channel's signed `busy` are a definitive channel_unavailable; a timeout, a reset and
 * each `lost` answer (garbled, unsigned, 5xx…) are unknown, never failed.
 */
export async function expectOperationTransport(
  operate: (fetch: FetchLike) => Promise<OperationOutcome>,
  answers: { busy?: FetchLike; lost: FetchLike[] },
): Promise<void> {
  expect(await operate(refusedFetch), "refused").toMatchObject({ status: "failed", code: "channel_unavailable" });
  if (answers.busy)
    expect(await operate(answers.busy), "busy").toMatchObject({ status: "failed", code: "channel_unavailable" });
  expect((await operate(timeoutFetch)).status, "timeout").toBe("unknown");
  expect((await operate(resetFetch)).status, "reset").toBe("unknown");
  for (const [i, f] of answers.lost.entries()) expect((await operate(f)).status, `lost answer ${i}`).toBe("unknown");
}
