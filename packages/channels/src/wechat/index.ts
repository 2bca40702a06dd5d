import { toFlatXml } from "../shared/xml.ts";
import { queryTransportOutcome, resolveOptions, transportOutcome, type AdapterOptions } from "../shared/adapter.ts";
import type { ChannelAdapter, ChannelCapabilities, ChannelEndpoint } from "../types.ts";
import { createWechatClient } from "./client.ts";
import {
  DEFAULT_WECHAT_APP_ID,
  toWechatOrderFields,
  toWechatQueryFields,
  wechatNotificationToCallback,
  wechatOrderOutcome,
  wechatQueryOutcome,
} from "./transformers.ts";

export const WECHAT_CAPABILITIES: ChannelCapabilities = {
  products: ["platform_pay"],
  currencies: ["CNY"],
  wallets: ["wechat"],
};

export function createWechatAdapter(
  endpoint: ChannelEndpoint,
  options?: AdapterOptions & { appId?: string },
): ChannelAdapter {
  const opts = resolveOptions(options);
  const appId = options?.appId ?? DEFAULT_WECHAT_APP_ID;
  const client = createWechatClient(endpoint, opts);
  return {
    id: "wechat",
    capabilities: WECHAT_CAPABILITIES,
    async pay(request, call) {
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
    parseCallback({ rawBody }) {
      const verified = client.verifyNotification(rawBody);
      return verified.ok ? wechatNotificationToCallback(verified.data) : verified;
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
