import { describe, expect, it } from "vitest";
import { canonicalJson, sign } from "@pps/signing";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import { answerFetch, devEndpoint, payRequest } from "../shared/test-fixtures.ts";
import { alipaySignParams, type AlipayResponse } from "./client.ts";
import { createAlipayAdapter } from "./index.ts";
import { alipayPrecreateOutcome, alipayQueryOutcome, toAlipayPrecreateParams } from "./transformers.ts";

const key = DEV_CHANNEL_KEYS.alipay.channelSigningKey;
const r = (f: Record<string, string>) => f as AlipayResponse;

function notification(over: Record<string, string> = {}, k = key): string {
  const fields = {
    notify_time: "2024-03-02 00:30:06",
    notify_type: "trade_status_sync",
    notify_id: "n1",
    app_id: DEV_CHANNEL_KEYS.alipay.merchantId,
    trade_no: "2024X",
    out_trade_no: "att_1",
    trade_status: "TRADE_SUCCESS",
    total_amount: "12.34",
    gmt_payment: "2024-03-02 00:30:05",
    ...over,
  };
  return new URLSearchParams(alipaySignParams(fields, k)).toString();
}

describe("alipay transformers", () => {
  it("puts the business fields in biz_content with a decimal amount and the metadata as passback_params", () => {
    const p = toAlipayPrecreateParams(payRequest({ product: "platform_pay" }), devEndpoint("alipay"), new Date());
    const biz = JSON.parse(p["biz_content"]!) as Record<string, string>;
    expect(p["method"]).toBe("alipay.trade.precreate");
    expect(biz).toMatchObject({ out_trade_no: "att_1", total_amount: "12.34", product_code: "FACE_TO_FACE_PAYMENT" });
    expect(new URLSearchParams(biz["passback_params"]).get("sim_fault")).toBe("decline");
  });

  it("maps every trade_status and sub_code", () => {
    const ok = { code: "10000", trade_no: "T" };
    expect(alipayPrecreateOutcome(r({ ...ok, qr_code: "https://qr", deeplink: "alipays://x" }))).toEqual({
      status: "requires_action",
      channelTxnId: "T",
      action: { type: "qr_code", payload: "https://qr", deeplink: "alipays://x" },
    });
    expect(alipayPrecreateOutcome(r({ ...ok, trade_status: "WAIT_BUYER_PAY" })).status).toBe("pending");
    expect(alipayPrecreateOutcome(r({ ...ok, trade_status: "TRADE_SUCCESS" })).status).toBe("succeeded");
    expect(alipayPrecreateOutcome(r({ ...ok, trade_status: "TRADE_FINISHED" })).status).toBe("succeeded");
    expect(
      alipayPrecreateOutcome(r({ ...ok, trade_status: "TRADE_CLOSED", close_reason: "USER_CANCELED" })),
    ).toMatchObject({ code: "payer_canceled" });
    expect(
      alipayPrecreateOutcome(r({ code: "40004", sub_code: "ACQ.BUYER_BALANCE_NOT_ENOUGH", trade_no: "T" })),
    ).toMatchObject({ status: "failed", code: "insufficient_funds", channelTxnId: "T" });
    expect(alipayPrecreateOutcome(r({ code: "40004", sub_code: "ACQ.PAYMENT_FAIL" }))).toMatchObject({
      code: "card_declined",
    });
    expect(alipayPrecreateOutcome(r({ code: "40004", sub_code: "ACQ.CONTEXT_INCONSISTENT" })).status).toBe("unknown");
    expect(alipayPrecreateOutcome(r({ code: "20000", sub_code: "ACQ.SYSTEM_BUSY" }))).toMatchObject({
      code: "channel_unavailable",
    });
    expect(alipayPrecreateOutcome(r({ code: "20000", sub_code: "isp.unknow-error" })).status).toBe("unknown");
    expect(alipayQueryOutcome(r({ code: "40004", sub_code: "ACQ.TRADE_NOT_EXIST" }))).toEqual({ status: "not_found" });
  });
});

describe("alipay adapter", () => {
  it("verifies RSA2 notifications: valid, tampered, wrong key, stale", () => {
    const adapter = createAlipayAdapter(devEndpoint("alipay"));
    expect(adapter.parseCallback({ headers: {}, rawBody: notification() })).toMatchObject({
      ok: true,
      result: {
        channel: "alipay",
        amount: 1234,
        currency: "CNY",
        status: "succeeded",
        occurredAt: "2024-03-01T16:30:05.000Z",
      },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification().replace("12.34", "0.01") })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: notification({}, DEV_CHANNEL_KEYS.unionpay.channelSigningKey) }),
    ).toMatchObject({ ok: false, reason: "signature_invalid" });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: notification({ trade_status: "WAIT_BUYER_PAY" }) }),
    ).toMatchObject({ ok: false, reason: "not_final" });
    expect(adapter.callbackAck(true).body).toBe("success");
  });

  it("verifies the answer signature over the response object", async () => {
    const response = { code: "10000", msg: "Success", trade_no: "T", qr_code: "https://qr" };
    const body = JSON.stringify({
      alipay_trade_precreate_response: response,
      sign: sign("RSA_SHA256", canonicalJson(response), key),
    });
    expect(
      await createAlipayAdapter(devEndpoint("alipay"), { fetch: answerFetch(200, body) }).pay(payRequest()),
    ).toMatchObject({ status: "requires_action" });
    const tampered = body.replace("https://qr", "https://evil");
    expect(
      await createAlipayAdapter(devEndpoint("alipay"), { fetch: answerFetch(200, tampered) }).pay(payRequest()),
    ).toMatchObject({ status: "unknown" });
  });
});
