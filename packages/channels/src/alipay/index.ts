import { CHANNEL_FLOWS } from "../flows.ts";
import {
  operationQueryTransportOutcome,
  operationTransportOutcome,
  queryTransportOutcome,
  resolveOptions,
  transportOutcome,
  type AdapterOptions,
} from "../shared/adapter.ts";
import { flowNotOffered, operationFailed } from "../shared/outcomes.ts";
import type {
  ChannelAdapter,
  ChannelCapabilities,
  ChannelEndpoint,
  OperationOutcome,
  OperationQueryOutcome,
  OperationRequest,
} from "../types.ts";
import { createAlipayClient, type AlipayResponse } from "./client.ts";
import {
  alipayAuthNotificationToCallback,
  alipayCaptureOutcome,
  alipayCaptureQueryOutcome,
  alipayFreezeOutcome,
  alipayNotificationToCallback,
  alipayPrecreateOutcome,
  alipayQueryOutcome,
  alipayRefundOutcome,
  alipayRefundQueryOutcome,
  alipayUnfreezeOutcome,
  alipayUnfreezeQueryOutcome,
  toAlipayCaptureParams,
  toAlipayCaptureQueryParams,
  toAlipayFreezeParams,
  toAlipayFreezeQueryParams,
  toAlipayPrecreateParams,
  toAlipayQueryParams,
  toAlipayRefundParams,
  toAlipayRefundQueryParams,
  toAlipayUnfreezeParams,
  toAlipayUnfreezeQueryParams,
} from "./transformers.ts";

export const ALIPAY_CAPABILITIES: ChannelCapabilities = {
  products: ["platform_pay"],
  currencies: ["CNY"],
  wallets: ["alipay"],
  flows: CHANNEL_FLOWS.alipay,
};

type OperationCall = {
  params: (req: OperationRequest, now: Date) => Record<string, string>;
  outcome: (r: AlipayResponse, req: OperationRequest) => OperationOutcome;
  queryParams: (req: OperationRequest, now: Date) => Record<string, string>;
  queryOutcome: (r: AlipayResponse, req: OperationRequest) => OperationQueryOutcome;
};

/**
 * Alipay: pay by QR code or app hand-off (alipay.trade.precreate), or with capture later as a fund
 * authorization (the payer freezes the amount; capture turns it into a trade, void unfreezes it, within 30
 * days). No cancel. Refunds are partial, each under our operation id as out_request_no, answered at once.
 */
export function createAlipayAdapter(endpoint: ChannelEndpoint, options?: AdapterOptions): ChannelAdapter {
  const opts = resolveOptions(options);
  const client = createAlipayClient(endpoint, opts);
  const calls: Partial<Record<OperationRequest["kind"], OperationCall>> = {
    capture: {
      params: (req, now) => toAlipayCaptureParams(req, endpoint, now),
      outcome: alipayCaptureOutcome,
      queryParams: (req, now) => toAlipayCaptureQueryParams(req, endpoint, now),
      queryOutcome: (r) => alipayCaptureQueryOutcome(r),
    },
    void: {
      params: (req, now) => toAlipayUnfreezeParams(req, endpoint, now),
      outcome: alipayUnfreezeOutcome,
      queryParams: (req, now) => toAlipayUnfreezeQueryParams(req, endpoint, now),
      queryOutcome: alipayUnfreezeQueryOutcome,
    },
    refund: {
      params: (req, now) => toAlipayRefundParams(req, endpoint, now),
      outcome: alipayRefundOutcome,
      queryParams: (req, now) => toAlipayRefundQueryParams(req, endpoint, now),
      queryOutcome: alipayRefundQueryOutcome,
    },
  };
  /** The flows of CHANNEL_FLOWS.alipay; capture and void name the freeze by its auth_no, which Alipay requires. */
  function callFor(req: OperationRequest): OperationCall | OperationOutcome {
    const call = ALIPAY_CAPABILITIES.flows[req.kind] ? calls[req.kind] : undefined;
    if (!call) return flowNotOffered("alipay", req.kind);
    if ((req.kind === "capture" || req.kind === "void") && !req.channelTxnId)
      return operationFailed("channel_rejected", `alipay ${req.kind} needs the authorization's auth_no`);
    return call;
  }
  return {
    id: "alipay",
    capabilities: ALIPAY_CAPABILITIES,
    async pay(request, call) {
      const timeoutMs = call?.timeoutMs ?? opts.timeoutMs;
      if (request.captureMethod === "manual") {
        const answer = await client.call(toAlipayFreezeParams(request, endpoint, opts.now()), timeoutMs);
        return answer.kind === "ok" ? alipayFreezeOutcome(answer.data) : transportOutcome(answer);
      }
      const answer = await client.call(toAlipayPrecreateParams(request, endpoint, opts.now()), timeoutMs);
      return answer.kind === "ok" ? alipayPrecreateOutcome(answer.data) : transportOutcome(answer);
    },
    async query(ref, call) {
      const timeoutMs = call?.timeoutMs ?? opts.timeoutMs;
      const answer = await client.call(toAlipayQueryParams(ref, endpoint, opts.now()), timeoutMs);
      if (answer.kind !== "ok") return queryTransportOutcome(answer);
      const trade = alipayQueryOutcome(answer.data);
      if (trade.status !== "not_found") return trade;
      // No trade: a payment with capture later is a freeze until it is captured (then the trade exists).
      const freeze = await client.call(toAlipayFreezeQueryParams(ref, endpoint, opts.now()), timeoutMs);
      if (freeze.kind !== "ok") return queryTransportOutcome(freeze);
      const r = freeze.data;
      if (r.code === "40004" && r.sub_code === "AUTH_ORDER_NOT_EXIST") return { status: "not_found" };
      return alipayFreezeOutcome(r);
    },
    async operate(request, call) {
      const op = callFor(request);
      if ("status" in op) return op;
      const answer = await client.call(op.params(request, opts.now()), call?.timeoutMs ?? opts.timeoutMs);
      return answer.kind === "ok" ? op.outcome(answer.data, request) : operationTransportOutcome(answer);
    },
    async queryOperation(request, call) {
      const op = callFor(request);
      if ("status" in op) return op;
      const answer = await client.call(op.queryParams(request, opts.now()), call?.timeoutMs ?? opts.timeoutMs);
      return answer.kind === "ok" ? op.queryOutcome(answer.data, request) : operationQueryTransportOutcome(answer);
    },
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      if (!verified.ok) return verified;
      return verified.kind === "fund_auth"
        ? alipayAuthNotificationToCallback(verified.data)
        : alipayNotificationToCallback(verified.data);
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
