import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import { answerFetch, devEndpoint, payRequest } from "../shared/test-fixtures.ts";
import { parseFlatXml, toFlatXml } from "../shared/xml.ts";
import { wechatSign, type WechatAnswer } from "./client.ts";
import { createWechatAdapter } from "./index.ts";
import { toWechatOrderFields, wechatOrderOutcome, wechatQueryOutcome } from "./transformers.ts";

const key = DEV_CHANNEL_KEYS.wechat.channelSigningKey;
const a = (f: Record<string, string>) => ({ sign: "x", return_code: "SUCCESS", ...f }) as WechatAnswer;
const signedXml = (f: Record<string, string>, k = key) => toFlatXml({ ...f, sign: wechatSign(f, k) });

function notification(over: Record<string, string> = {}): string {
  return signedXml({
    return_code: "SUCCESS",
    result_code: "SUCCESS",
    mch_id: DEV_CHANNEL_KEYS.wechat.merchantId,
    out_trade_no: "att_1",
    transaction_id: "4200X",
    total_fee: "1234",
    fee_type: "CNY",
    time_end: "20240302003005",
    trade_state: "SUCCESS",
    notify_id: "n1",
    ...over,
  });
}

describe("wechat transformers", () => {
  it("sends total_fee in fen, NATIVE for QR and APP for deeplink, metadata in attach", () => {
    const f = toWechatOrderFields(payRequest({ product: "platform_pay" }), devEndpoint("wechat"), "wx1");
    expect(f).toMatchObject({ out_trade_no: "att_1", total_fee: "1234", trade_type: "NATIVE" });
    expect(new URLSearchParams(f["attach"]).get("sim_fault")).toBe("decline");
    const deeplink = payRequest({ method: { bankCode: null, cardType: null, wallet: "wechat", flow: "deeplink" } });
    expect(toWechatOrderFields(deeplink, devEndpoint("wechat"), "wx1").trade_type).toBe("APP");
  });

  it("maps every trade_state and error code", () => {
    const ok = { result_code: "SUCCESS", transaction_id: "T" };
    expect(wechatOrderOutcome(a({ ...ok, code_url: "weixin://x" }))).toEqual({
      status: "requires_action",
      channelTxnId: "T",
      action: { type: "qr_code", payload: "weixin://x", deeplink: null },
    });
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "USERPAYING" })).status).toBe("pending");
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "SUCCESS" })).status).toBe("succeeded");
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "REFUND" })).status).toBe("succeeded");
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "CLOSED" }))).toMatchObject({ code: "expired" });
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "REVOKED" }))).toMatchObject({ code: "payer_canceled" });
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "PAYERROR", err_code: "NOTENOUGH" }))).toMatchObject({
      code: "insufficient_funds",
    });
    expect(
      wechatOrderOutcome(
        a({ result_code: "FAIL", err_code: "PAYERROR", err_code_des: "declined", transaction_id: "T" }),
      ),
    ).toMatchObject({
      status: "failed",
      code: "card_declined",
      message: "PAYERROR: declined",
    });
    expect(wechatOrderOutcome(a({ return_code: "FAIL", err_code: "SYSTEMBUSY" }))).toMatchObject({
      code: "channel_unavailable",
    });
    expect(wechatOrderOutcome(a({ result_code: "FAIL", err_code: "SYSTEMERROR" })).status).toBe("unknown");
    expect(wechatOrderOutcome(a({ result_code: "FAIL", err_code: "OUT_TRADE_NO_USED" })).status).toBe("unknown");
    expect(wechatQueryOutcome(a({ result_code: "FAIL", err_code: "ORDERNOTEXIST" }))).toEqual({ status: "not_found" });
    expect(wechatQueryOutcome(a({ ...ok, trade_state: "NOTPAY" })).status).toBe("pending");
  });
});

describe("wechat adapter", () => {
  it("verifies HMAC-signed XML callbacks: valid, tampered, wrong key, stale", () => {
    const adapter = createWechatAdapter(devEndpoint("wechat"));
    expect(adapter.parseCallback({ headers: {}, rawBody: notification() })).toMatchObject({
      ok: true,
      result: { channel: "wechat", attemptId: "att_1", channelTxnId: "4200X", status: "succeeded", amount: 1234 },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification().replace("1234", "1") })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    const wrongKey = createWechatAdapter(devEndpoint("wechat", { verifyKey: "not-the-key" }));
    expect(wrongKey.parseCallback({ headers: {}, rawBody: notification() })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification({ trade_state: "NOTPAY" }) })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: notification({ trade_state: "REVOKED", result_code: "FAIL" }) }),
    ).toMatchObject({ ok: true, result: { status: "failed", failureCode: "payer_canceled" } });
    expect(parseFlatXml(adapter.callbackAck(true).body)).toEqual({ return_code: "SUCCESS", return_msg: "OK" });
  });

  it("maps a signed 503 SYSTEMBUSY to channel_unavailable and an unsigned one to unknown", async () => {
    const busy = signedXml({ return_code: "FAIL", return_msg: "busy", err_code: "SYSTEMBUSY" });
    expect(
      await createWechatAdapter(devEndpoint("wechat"), { fetch: answerFetch(503, busy) }).pay(payRequest()),
    ).toMatchObject({ status: "failed", code: "channel_unavailable" });
    const unsigned = toFlatXml({ return_code: "FAIL", err_code: "SYSTEMBUSY", sign: "00" });
    expect(
      await createWechatAdapter(devEndpoint("wechat"), { fetch: answerFetch(503, unsigned) }).pay(payRequest()),
    ).toMatchObject({ status: "unknown" });
  });
});
