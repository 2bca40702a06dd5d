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
import { createUnionPayClient } from "./client.ts";
import {
  toUnionPayOperationFields,
  toUnionPayOperationQueryFields,
  toUnionPayPayFields,
  toUnionPayQueryFields,
  unionpayNotificationToCallback,
  unionpayOperationNotificationToCallback,
  unionpayOperationOutcome,
  unionpayOperationQueryOutcome,
  unionpayPayOutcome,
  unionpayQueryOutcome,
} from "./transformers.ts";

export const UNIONPAY_CAPABILITIES: ChannelCapabilities = {
  products: ["online_banking"],
  currencies: ["CNY"],
  banks: ["*"],
  flows: CHANNEL_FLOWS.unionpay,
};

export function createUnionPayAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createUnionPayClient(endpoint, opts);
  const flows = UNIONPAY_CAPABILITIES.flows;
  return {
    id: "unionpay",
    capabilities: UNIONPAY_CAPABILITIES,
    async pay(request, call) {
      if (request.captureMethod === "manual" && !flows.authorize)
        return failed("channel_rejected", "unionpay does not offer pre-authorization");
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
    async operate(request, call) {
      if (!offersOperation(flows, request.kind)) return flowNotOffered("unionpay", request.kind);
      const answer = await client.operate(
        toUnionPayOperationFields(request, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok"
        ? unionpayOperationOutcome(request, answer.data)
        : operationTransportOutcome(answer, "unionpay");
    },
    async queryOperation(request, call) {
      if (!offersOperation(flows, request.kind)) return flowNotOffered("unionpay", request.kind);
      const answer = await client.queryOperation(
        toUnionPayOperationQueryFields(request, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok"
        ? unionpayOperationQueryOutcome(request, answer.data)
        : operationQueryTransportOutcome(answer, "operation query");
    },
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      if (!verified.ok) return verified;
      return verified.kind === "operation"
        ? unionpayOperationNotificationToCallback(verified.data)
        : unionpayNotificationToCallback(verified.data);
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
