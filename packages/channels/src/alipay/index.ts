import { queryTransportOutcome, resolveOptions, transportOutcome, type AdapterOptions } from "../shared/adapter.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createAlipayClient } from "./client.ts";
import {
  alipayNotificationToCallback,
  alipayPrecreateOutcome,
  alipayQueryOutcome,
  toAlipayPrecreateParams,
  toAlipayQueryParams,
} from "./transformers.ts";

export const ALIPAY_CAPABILITIES: ChannelCapabilities = {
  products: ["platform_pay"],
  currencies: ["CNY"],
  wallets: ["alipay"],
};

export function createAlipayAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createAlipayClient(endpoint, opts);
  return {
    id: "alipay",
    capabilities: ALIPAY_CAPABILITIES,
    async pay(request, call) {
      const answer = await client.call(
        toAlipayPrecreateParams(request, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? alipayPrecreateOutcome(answer.data) : transportOutcome(answer);
    },
    async query(ref, call) {
      const answer = await client.call(
        toAlipayQueryParams(ref, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? alipayQueryOutcome(answer.data) : queryTransportOutcome(answer);
    },
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      return verified.ok ? alipayNotificationToCallback(verified.data) : verified;
    },
    callbackAck(accepted) {
      return accepted
        ? { status: 200, contentType: "text/plain", body: "success" }
        : { status: 400, contentType: "text/plain", body: "failure" };
    },
  };
}

export * from "./client.ts";
export * from "./transformers.ts";
