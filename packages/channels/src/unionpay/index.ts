import { queryTransportOutcome, resolveOptions, transportOutcome, type AdapterOptions } from "../shared/adapter.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createUnionPayClient } from "./client.ts";
import {
  toUnionPayPayFields,
  toUnionPayQueryFields,
  unionpayNotificationToCallback,
  unionpayPayOutcome,
  unionpayQueryOutcome,
} from "./transformers.ts";

export const UNIONPAY_CAPABILITIES: ChannelCapabilities = {
  products: ["online_banking"],
  currencies: ["CNY"],
  banks: ["*"],
};

export function createUnionPayAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createUnionPayClient(endpoint, opts);
  return {
    id: "unionpay",
    capabilities: UNIONPAY_CAPABILITIES,
    async pay(request, call) {
      const answer = await client.pay(
        toUnionPayPayFields(request, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? unionpayPayOutcome(answer.data) : transportOutcome(answer);
    },
    async query(ref, call) {
      const answer = await client.query(
        toUnionPayQueryFields(ref, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? unionpayQueryOutcome(answer.data) : queryTransportOutcome(answer);
    },
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      return verified.ok ? unionpayNotificationToCallback(verified.data) : verified;
    },
    callbackAck(accepted) {
      return accepted
        ? { status: 200, contentType: "text/plain", body: "ok" }
        : { status: 400, contentType: "text/plain", body: "fail" };
    },
  };
}

export * from "./client.ts";
export * from "./transformers.ts";
