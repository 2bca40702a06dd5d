import { CHANNEL_FLOWS, offersOperation } from "../flows.ts";
import {
  operationQueryTransportOutcome,
  operationTransportOutcome,
  queryTransportOutcome,
  resolveOptions,
  transportOutcome,
  type AdapterOptions,
} from "../shared/adapter.ts";
import { failed, flowNotOffered } from "../shared/outcomes.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createCarrierClient } from "./client.ts";
import {
  CARRIER_MAX_AMOUNT,
  carrierCreateOutcome,
  carrierEventToCallback,
  carrierQueryOutcome,
  carrierRefundEventToCallback,
  carrierRefundOutcome,
  carrierRefundQueryOutcome,
  toCarrierChargeBody,
  toCarrierRefundBody,
} from "./transformers.ts";

export const CARRIER_CAPABILITIES: ChannelCapabilities = {
  products: ["carrier_billing"],
  currencies: ["CNY"],
  maxAmount: CARRIER_MAX_AMOUNT,
  flows: CHANNEL_FLOWS.carrier,
};

export function createCarrierAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createCarrierClient(endpoint, opts);
  const flows = CARRIER_CAPABILITIES.flows;
  return {
    id: "carrier",
    capabilities: CARRIER_CAPABILITIES,
    async pay(request, call) {
      if (request.captureMethod === "manual" && !flows.authorize)
        return failed("channel_rejected", "carrier does not offer pre-authorization");
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
    async operate(request, call) {
      // Refunds only: no pre-authorization, no cancel.
      if (request.kind !== "refund" || !offersOperation(flows, request.kind))
        return flowNotOffered("carrier", request.kind);
      const answer = await client.createRefund(
        toCarrierRefundBody(request, endpoint),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok"
        ? carrierRefundOutcome(answer.data, request.operationId)
        : operationTransportOutcome(answer);
    },
    async queryOperation(request, call) {
      if (request.kind !== "refund" || !offersOperation(flows, request.kind))
        return flowNotOffered("carrier", request.kind);
      const answer = await client.getRefund(request.operationId, call?.timeoutMs ?? opts.timeoutMs);
      return answer.kind === "ok"
        ? carrierRefundQueryOutcome(answer.data, request.operationId)
        : operationQueryTransportOutcome(answer, "refund query");
    },
    parseCallback({ headers, rawBody }) {
      const verified = client.verifyEvent(headers, rawBody);
      if (!verified.ok) return verified;
      return verified.kind === "refund"
        ? carrierRefundEventToCallback(verified.data)
        : carrierEventToCallback(verified.data);
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
