import { CHANNEL_FLOWS } from "../flows.ts";
import { toFlatXml } from "../shared/xml.ts";
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
import { createWechatClient } from "./client.ts";
import {
  DEFAULT_WECHAT_APP_ID,
  toWechatOrderFields,
  toWechatQueryFields,
  toWechatRefundFields,
  toWechatRefundQueryFields,
  wechatNotificationToCallback,
  wechatOrderOutcome,
  wechatQueryOutcome,
  wechatRefundNotificationToCallback,
  wechatRefundOutcome,
  wechatRefundQueryOutcome,
} from "./transformers.ts";

export const WECHAT_CAPABILITIES: ChannelCapabilities = {
  products: ["platform_pay"],
  currencies: ["CNY"],
  wallets: ["wechat"],
  flows: CHANNEL_FLOWS.wechat,
};

/**
 * WeChat Pay v2: pay by QR code or app hand-off, result by notification; no pre-authorization and no
 * cancel: a paid order is refunded (/secapi/pay/refund), up to 50 times within a year, each refund under our
 * operation id as out_refund_no, its result by refund notification or /pay/refundquery.
 */
export function createWechatAdapter(
  endpoint: ChannelEndpoint,
  options?: AdapterOptions & { appId?: string },
): ChannelAdapter {
  const opts = resolveOptions(options);
  const appId = options?.appId ?? DEFAULT_WECHAT_APP_ID;
  const client = createWechatClient(endpoint, opts);
  const flows = WECHAT_CAPABILITIES.flows;
  return {
    id: "wechat",
    capabilities: WECHAT_CAPABILITIES,
    async pay(request, call) {
      if (request.captureMethod === "manual" && !flows.authorize)
        return failed("channel_rejected", "wechat does not offer pre-authorization");
      const answer = await client.unifiedOrder(
        toWechatOrderFields(request, endpoint, appId),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? wechatOrderOutcome(answer.data) : transportOutcome(answer);
    },
    async query(ref, call) {
      const answer = await client.orderQuery(
        toWechatQueryFields(ref, endpoint, appId),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? wechatQueryOutcome(answer.data) : queryTransportOutcome(answer);
    },
    async operate(request, call) {
      if (request.kind !== "refund") return flowNotOffered("wechat", request.kind);
      const answer = await client.refund(
        toWechatRefundFields(request, endpoint, appId),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok" ? wechatRefundOutcome(answer.data, request) : operationTransportOutcome(answer);
    },
    async queryOperation(request, call) {
      if (request.kind !== "refund") return flowNotOffered("wechat", request.kind);
      const answer = await client.refundQuery(
        toWechatRefundQueryFields(request, endpoint, appId),
        call?.timeoutMs ?? opts.timeoutMs,
      );
      return answer.kind === "ok"
        ? wechatRefundQueryOutcome(answer.data, request)
        : operationQueryTransportOutcome(answer, "refundquery");
    },
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      if (!verified.ok) return verified;
      return verified.kind === "refund"
        ? wechatRefundNotificationToCallback(verified.data, opts.now())
        : wechatNotificationToCallback(verified.data);
    },
    callbackAck(accepted) {
      return {
        status: 200,
        contentType: "text/xml",
        body: toFlatXml(
          accepted ? { return_code: "SUCCESS", return_msg: "OK" } : { return_code: "FAIL", return_msg: "rejected" },
        ),
      };
    },
  };
}

export * from "./client.ts";
export * from "./transformers.ts";
