import { queryTransportOutcome, resolveOptions, transportOutcome, type AdapterOptions } from "../shared/adapter.ts";
import { failed } from "../shared/outcomes.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createCarrierClient } from "./client.ts";
import {
  CARRIER_MAX_AMOUNT,
  carrierCreateOutcome,
  carrierEventToCallback,
  carrierQueryOutcome,
  toCarrierChargeBody,
} from "./transformers.ts";

export const CARRIER_CAPABILITIES: ChannelCapabilities = {
  products: ["carrier_billing"],
  currencies: ["CNY"],
  maxAmount: CARRIER_MAX_AMOUNT,
};

export function createCarrierAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createCarrierClient(endpoint, opts);
  return {
    id: "carrier",
    capabilities: CARRIER_CAPABILITIES,
    async pay(request, call) {
      const phone = request.payer.phone;
      // The carrier bills a phone number; without one there is nothing to send (and nothing was taken).
      if (!phone) return failed("payer_phone_missing", "carrier billing needs the payer's phone number");
      const answer = await client.createCharge(
        toCarrierChargeBody({ ...request, payer: { ...request.payer, phone } }, endpoint),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? carrierCreateOutcome(answer.data) : transportOutcome(answer);
    },
    async query(ref, call) {
      const answer = await client.getCharge(ref, call?.timeoutMs ?? opts.timeoutMs);
      return answer.kind === "ok" ? carrierQueryOutcome(answer.data) : queryTransportOutcome(answer);
    },
    parseCallback({ headers, rawBody }) {
      const verified = client.verifyEvent(headers, rawBody);
      return verified.ok ? carrierEventToCallback(verified.data) : verified;
    },
    callbackAck(accepted) {
      return accepted
        ? { status: 200, contentType: "application/json", body: '{"received":true}' }
        : { status: 400, contentType: "application/json", body: '{"received":false}' };
    },
  };
}

export * from "./client.ts";
export * from "./transformers.ts";
