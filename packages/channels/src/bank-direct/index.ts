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
import { createBankClient } from "./client.ts";
import {
  bankNotificationToCallback,
  bankOperationNotificationToCallback,
  bankOperationOutcome,
  bankOperationQueryOutcome,
  bankPayOutcome,
  bankQueryOutcome,
  toBankOperationParams,
  toBankOperationQueryParams,
  toBankPayParams,
  toBankQueryParams,
} from "./transformers.ts";

export const BANK_DIRECT_CAPABILITIES: ChannelCapabilities = {
  products: ["online_banking"],
  currencies: ["CNY"],
  banks: ["CMB", "ICBC", "BOC", "CCB", "ABC"],
  flows: CHANNEL_FLOWS.bank_direct,
};

export function createBankDirectAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createBankClient(endpoint, opts);
  const flows = BANK_DIRECT_CAPABILITIES.flows;
  return {
    id: "bank_direct",
    capabilities: BANK_DIRECT_CAPABILITIES,
    async pay(request, call) {
      if (request.captureMethod === "manual" && !flows.authorize)
        return failed("channel_rejected", "bank_direct does not offer pre-authorization");
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
    async operate(request, call) {
      if (!offersOperation(flows, request.kind)) return flowNotOffered("bank_direct", request.kind);
      const answer = await client.operate(
        request.kind,
        toBankOperationParams(request, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok"
        ? bankOperationOutcome(request, answer.data)
        : operationTransportOutcome(answer, "bank");
    },
    async queryOperation(request, call) {
      if (!offersOperation(flows, request.kind)) return flowNotOffered("bank_direct", request.kind);
      const answer = await client.queryOperation(
        toBankOperationQueryParams(request, endpoint, opts.now()),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok"
        ? bankOperationQueryOutcome(request, answer.data)
        : operationQueryTransportOutcome(answer, "operation query");
    },
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      if (!verified.ok) return verified;
      return verified.kind === "operation"
        ? bankOperationNotificationToCallback(verified.data)
        : bankNotificationToCallback(verified.data);
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
