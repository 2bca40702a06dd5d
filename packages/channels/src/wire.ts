// The wire-level helpers channel-sim reuses: time formats, the flat XML dialect, passthrough encoding,
// and each channel's signing recipe. Behaviour (states, codes, faults) is the simulator's own.
export { fromChinaTime, toChinaCompact, toChinaDateTime } from "./shared/time.ts";
export { parseFlatXml, toFlatXml } from "./shared/xml.ts";
export { decodePassthrough, encodePassthrough, header } from "./shared/adapter.ts";
export { signBankParams, verifyBankParams } from "./bank-direct/client.ts";
export { signUnionPay, verifyUnionPay } from "./unionpay/client.ts";
export { wechatSign, wechatVerify } from "./wechat/client.ts";
export { alipaySignParams, alipayVerifyParams, responseKey as alipayResponseKey } from "./alipay/client.ts";
export { paypalRequestSignature, paypalTransmissionPayload, verifyPaypalTransmission } from "./paypal/client.ts";
export { carrierMessageSignature, carrierRequestSignature, verifyCarrierMessage } from "./carrier/client.ts";
