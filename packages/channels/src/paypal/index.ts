import { queryTransportOutcome, resolveOptions, transportOutcome, type AdapterOptions } from "../shared/adapter.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createPaypalClient } from "./client.ts";
import { paypalCreateOutcome, paypalQueryOutcome, paypalWebhookToCallback, toPaypalOrderBody } from "./transformers.ts";

/** Foreign cards in these currencies; PayPal settles to us in CNY at its own rate. */
export const PAYPAL_CAPABILITIES: ChannelCapabilities = {
  products: ["foreign_card"],
  currencies: ["USD", "EUR", "GBP", "JPY", "HKD", "AUD", "CAD", "SGD"],
};

export function createPaypalAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createPaypalClient(endpoint, opts);
  return {
    id: "paypal",
    capabilities: PAYPAL_CAPABILITIES,
    async pay(request, call) {
      const answer = await client.createOrder(
        toPaypalOrderBody(request),
        request.attemptId,
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? paypalCreateOutcome(answer.data) : transportOutcome(answer);
    },
    async query(ref, call) {
      const answer = await client.getOrder(ref, call?.timeoutMs ?? opts.timeoutMs);
      return answer.kind === "ok" ? paypalQueryOutcome(answer.data) : queryTransportOutcome(answer);
    },
    parseCallback({ headers, rawBody }) {
      const verified = client.verifyWebhook(headers, rawBody);
      return verified.ok ? paypalWebhookToCallback(verified.data) : verified;
    },
    callbackAck(accepted) {
      return accepted
        ? { status: 200, contentType: "text/plain", body: "" }
        : { status: 400, contentType: "text/plain", body: "rejected" };
    },
  };
}

export * from "./client.ts";
export * from "./transformers.ts";
