export * from "./types.ts";
export * from "./registry.ts";
export { CHANNEL_FLOWS, offersOperation } from "./flows.ts";
export { DEV_CHANNEL_KEYS, type DevChannelKeys } from "./dev-keys.ts";
export { FAILURE_CODES, type FailureCode } from "./shared/outcomes.ts";
export type { AdapterOptions } from "./shared/adapter.ts";
export {
  DEFAULT_TIMEOUT_MS,
  type FetchLike,
  type HttpResult,
  type HttpTransport,
  nodeHttpTransport,
} from "./shared/http.ts";
export { createBankDirectAdapter, BANK_DIRECT_CAPABILITIES } from "./bank-direct/index.ts";
export { createUnionPayAdapter, UNIONPAY_CAPABILITIES } from "./unionpay/index.ts";
export { createWechatAdapter, WECHAT_CAPABILITIES } from "./wechat/index.ts";
export { createAlipayAdapter, ALIPAY_CAPABILITIES } from "./alipay/index.ts";
export { createPaypalAdapter, PAYPAL_CAPABILITIES } from "./paypal/index.ts";
export { createCarrierAdapter, CARRIER_CAPABILITIES, CARRIER_MAX_AMOUNT } from "./carrier/index.ts";
/** Wire helpers the simulated channels share with the adapters (formats, not behaviour). */
export * as wire from "./wire.ts";
