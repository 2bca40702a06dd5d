import { queryTransportOutcome, resolveOptions, transportOutcome, type AdapterOptions } from "../shared/adapter.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createBankClient } from "./client.ts";
import {
  bankNotificationToCallback,
  bankPayOutcome,
  bankQueryOutcome,
  toBankPayParams,
  toBankQueryParams,
} from "./transformers.ts";

export const BANK_DIRECT_CAPABILITIES: ChannelCapabilities = {
  products: ["online_banking"],
  currencies: ["CNY"],
  banks: ["CMB", "ICBC", "BOC", "CCB", "ABC"],
};

export function createBankDirectAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createBankClient(endpoint, opts);
  return {
    id: "bank_direct",
    capabilities: BANK_DIRECT_CAPABILITIES,
    async pay(request, call) {
      const answer = await client.pay(
        toBankPayParams(request, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? bankPayOutcome(answer.data) : transportOutcome(answer);
    },
    async query(ref, call) {
      const answer = await client.query(
        toBankQueryParams(ref, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? bankQueryOutcome(answer.data) : queryTransportOutcome(answer);
    },
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      return verified.ok ? bankNotificationToCallback(verified.data) : verified;
    },
    callbackAck(accepted) {
      return accepted
        ? { status: 200, contentType: "text/plain", body: "SUCCESS" }
        : { status: 400, contentType: "text/plain", body: "FAIL" };
    },
  };
}

export * from "./client.ts";
export * from "./transformers.ts";
