import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import { answerFetch, devEndpoint, payRequest } from "../shared/test-fixtures.ts";
import { signUnionPay, type UnionPayAnswer } from "./client.ts";
import { createUnionPayAdapter } from "./index.ts";
import { toUnionPayPayFields, unionpayPayOutcome, unionpayQueryOutcome } from "./transformers.ts";

const channelKey = DEV_CHANNEL_KEYS.unionpay.channelSigningKey;
const a = (f: Record<string, string>) => ({ signature: "x", ...f }) as UnionPayAnswer;

function notification(over: Record<string, string> = {}): string {
  return JSON.stringify(
    signUnionPay(
      {
        merId: DEV_CHANNEL_KEYS.unionpay.merchantId,
        orderId: "att_1",
        queryId: "Q1",
        txnAmt: "1234",
        currencyCode: "156",
        respCode: "00",
        respMsg: "success",
        traceNo: "T1",
        traceTime: "20240302003005",
        ...over,
      },
      channelKey,
    ),
  );
}

describe("unionpay transformers", () => {
  it("sends integer fen, numeric currency and the bank", () => {
    expect(toUnionPayPayFields(payRequest(), devEndpoint("unionpay"), new Date())).toMatchObject({
      txnAmt: "1234",
      currencyCode: "156",
      issInsCode: "CMB",
      orderId: "att_1",
    });
  });

  it("maps every transaction code", () => {
    const ok = { respCode: "00", queryId: "Q1" };
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "04", payUrl: "https://up/p" }))).toMatchObject({
      status: "requires_action",
      action: { type: "redirect", url: "https://up/p" },
    });
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "03" })).status).toBe("pending");
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "00" }))).toEqual({
      status: "succeeded",
      channelTxnId: "Q1",
      settlement: null,
    });
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "05", origRespMsg: "do not honour" }))).toMatchObject({
      status: "failed",
      code: "card_declined",
      message: "05: do not honour",
    });
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "51" }))).toMatchObject({ code: "insufficient_funds" });
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "31" }))).toMatchObject({ code: "payer_canceled" });
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "32" }))).toMatchObject({ code: "expired" });
    expect(unionpayPayOutcome(a({ respCode: "96" }))).toMatchObject({ code: "channel_unavailable" });
    expect(unionpayPayOutcome(a({ respCode: "94" })).status).toBe("unknown");
    expect(unionpayQueryOutcome(a({ respCode: "34" }))).toEqual({ status: "not_found" });
    expect(unionpayQueryOutcome(a({ respCode: "96" })).status).toBe("unknown");
  });
});

describe("unionpay adapter", () => {
  it("verifies RSA-signed callbacks: valid, tampered, wrong key, stale", () => {
    const adapter = createUnionPayAdapter(devEndpoint("unionpay"));
    expect(adapter.parseCallback({ headers: {}, rawBody: notification() })).toMatchObject({
      ok: true,
      result: { attemptId: "att_1", status: "succeeded", amount: 1234, currency: "CNY", notificationId: "T1" },
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: notification().replace('"txnAmt":"1234"', '"txnAmt":"1"') }),
    ).toMatchObject({ ok: false, reason: "signature_invalid" });
    const wrongKey = createUnionPayAdapter(
      devEndpoint("unionpay", { verifyKey: DEV_CHANNEL_KEYS.alipay.channelVerifyKey }),
    );
    expect(wrongKey.parseCallback({ headers: {}, rawBody: notification() })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification({ respCode: "04" }) })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification({ respCode: "51" }) })).toMatchObject({
      ok: true,
      result: { status: "failed", failureCode: "insufficient_funds" },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: "{" })).toMatchObject({ ok: false, reason: "malformed" });
  });

  it("signs requests with our key and trusts only UnionPay-signed answers", async () => {
    const signed = JSON.stringify(signUnionPay({ respCode: "00", queryId: "Q1", origRespCode: "00" }, channelKey));
    const f = answerFetch(200, signed);
    expect(await createUnionPayAdapter(devEndpoint("unionpay"), { fetch: f }).pay(payRequest())).toMatchObject({
      status: "succeeded",
    });
    const sent = JSON.parse(String(f.calls[0]?.init.body)) as Record<string, string>;
    expect(sent["signature"]).toBeTruthy();
    const forged = JSON.stringify(
      signUnionPay({ respCode: "00", queryId: "Q1", origRespCode: "00" }, DEV_CHANNEL_KEYS.unionpay.merchantSigningKey),
    );
    expect(
      await createUnionPayAdapter(devEndpoint("unionpay"), { fetch: answerFetch(200, forged) }).pay(payRequest()),
    ).toMatchObject({ status: "unknown" });
  });
});
