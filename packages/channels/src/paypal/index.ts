import { CHANNEL_FLOWS, offersOperation } from "../flows.ts";
import {
  operationQueryTransportOutcome,
  operationTransportOutcome,
  queryTransportOutcome,
  resolveOptions,
  transportOutcome,
  type AdapterOptions,
} from "../shared/adapter.ts";
import { failed, flowNotOffered, operationFailed } from "../shared/outcomes.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createPaypalClient } from "./client.ts";
import {
  paypalCaptureOutcome,
  paypalCreateOutcome,
  paypalOrderOperationOutcome,
  paypalOrderPayments,
  paypalQueryOutcome,
  paypalRefundOutcome,
  paypalRefundQueryOutcome,
  paypalVoidOutcome,
  paypalWebhookToCallback,
  toPaypalCaptureBody,
  toPaypalOrderBody,
  toPaypalRefundBody,
} from "./transformers.ts";

/** Foreign cards in these currencies; PayPal settles to us in CNY at its own rate. */
export const PAYPAL_CAPABILITIES: ChannelCapabilities = {
  products: ["foreign_card"],
  currencies: ["USD", "EUR", "GBP", "JPY", "HKD", "AUD", "CAD", "SGD"],
  flows: CHANNEL_FLOWS.paypal,
};

export function createPaypalAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createPaypalClient(endpoint, opts);
  const flows = PAYPAL_CAPABILITIES.flows;
  return {
    id: "paypal",
    capabilities: PAYPAL_CAPABILITIES,
    async pay(request, call) {
      if (request.captureMethod === "manual" && !flows.authorize)
        return failed("channel_rejected", "paypal does not offer pre-authorization");
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
    async operate(request, call) {
      const kind = request.kind;
      if (kind === "cancel" || !offersOperation(flows, kind)) return flowNotOffered("paypal", kind);
      const timeoutMs = call?.timeoutMs ?? opts.timeoutMs;
      // PayPal addresses an operation by the authorization's or the capture's id, which the order's details
      // give. Nothing about the operation has been sent while we look, so a failed look-up is "not done".
      const found = await client.getOrder(request, timeoutMs);
      if (found.kind !== "ok") return operationFailed("channel_unavailable", `${kind} not sent: order ${found.detail}`);
      if ("error" in found.data)
        return found.data.error.name === "RESOURCE_NOT_FOUND"
          ? operationFailed("invalid_state", `${kind} not sent: no such order at paypal`)
          : operationFailed("channel_rejected", `${kind} not sent: order look-up ${found.data.error.name}`);
      const { authorization, capture } = paypalOrderPayments(found.data.order);
      if (kind === "refund") {
        if (!capture) return operationFailed("invalid_state", "refund not sent: the order has no capture");
        const answer = await client.refundCapture(
          capture.id,
          toPaypalRefundBody(request),
          request.operationId,
          timeoutMs,
        );
        return answer.kind === "ok"
          ? paypalRefundOutcome(answer.data, request.operationId)
          : operationTransportOutcome(answer);
      }
      if (!authorization) return operationFailed("invalid_state", `${kind} not sent: the order has no authorization`);
      if (kind === "capture") {
        const answer = await client.captureAuthorization(
          authorization.id,
          toPaypalCaptureBody(request),
          request.operationId,
          timeoutMs,
        );
        return answer.kind === "ok"
          ? paypalCaptureOutcome(answer.data, request.operationId)
          : operationTransportOutcome(answer);
      }
      const answer = await client.voidAuthorization(authorization.id, request.operationId, timeoutMs);
      return answer.kind === "ok" ? paypalVoidOutcome(answer.data) : operationTransportOutcome(answer);
    },
    async queryOperation(request, call) {
      const kind = request.kind;
      if (kind === "cancel" || !offersOperation(flows, kind)) return flowNotOffered("paypal", kind);
      const timeoutMs = call?.timeoutMs ?? opts.timeoutMs;
      if (kind === "refund") {
        const answer = await client.findRefund(request.operationId, timeoutMs);
        return answer.kind === "ok"
          ? paypalRefundQueryOutcome(answer.data, request.operationId)
          : operationQueryTransportOutcome(answer, "refund query");
      }
      // A capture or a void: the order's details, interpreted (see paypalOrderOperationOutcome).
      const answer = await client.getOrder(request, timeoutMs);
      return answer.kind === "ok"
        ? paypalOrderOperationOutcome(answer.data, request)
        : operationQueryTransportOutcome(answer, `${kind} query`);
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
