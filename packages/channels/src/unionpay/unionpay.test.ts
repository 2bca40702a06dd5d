import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import type { FetchLike } from "../shared/http.ts";
import {
  answerFetch,
  devEndpoint,
  expectOperationTransport,
  operationRequestFor,
  payRequest,
  refusedFetch,
  sentJson,
  timeoutFetch,
} from "../shared/test-fixtures.ts";
import type { OperationKind } from "@pps/domain";
import { signUnionPay, type UnionPayAnswer } from "./client.ts";
import { createUnionPayAdapter } from "./index.ts";
import { toUnionPayPayFields, unionpayPayOutcome, unionpayQueryOutcome } from "./transformers.ts";

const channelKey = DEV_CHANNEL_KEYS.unionpay.channelSigningKey;
const merId = DEV_CHANNEL_KEYS.unionpay.merchantId;
const a = (f: Record<string, string>) => ({ signature: "x", ...f }) as UnionPayAnswer;
const signedJson = (f: Record<string, string>) => JSON.stringify(signUnionPay(f, channelKey));
const mk = (fetch: FetchLike) => createUnionPayAdapter(devEndpoint("unionpay"), { fetch });
const operationRequest = operationRequestFor("unionpay", { channelTxnId: "Q1" });

function notification(over: Record<string, string> = {}): string {
  return signedJson({
    merId,
    orderId: "att_1",
    queryId: "Q1",
    txnAmt: "1234",
    currencyCode: "156",
    respCode: "00",
    respMsg: "success",
    traceNo: "T1",
    traceTime: "20240302003005",
    ...over,
  });
}

const TXN_TYPE: Record<OperationKind, string> = { capture: "03", void: "32", cancel: "31", refund: "04" };

/** A signed respCode 00 answer about one back transaction. */
function opAnswer(over: Record<string, string> = {}): Record<string, string> {
  return {
    version: "5.1.0",
    respCode: "00",
    respMsg: "success",
    merId,
    txnType: "04",
    orderId: "re_1",
    queryId: "R1",
    origQryId: "Q1",
    txnAmt: "500",
    currencyCode: "156",
    origRespCode: "00",
    origRespMsg: "success",
    traceTime: "20240303101010",
    ...over,
  };
}

describe("unionpay transformers", () => {
  it("sends integer fen, numeric currency and the bank; 01 consume or 02 pre-authorization", () => {
    expect(toUnionPayPayFields(payRequest(), devEndpoint("unionpay"), new Date())).toMatchObject({
      txnType: "01",
      txnAmt: "1234",
      currencyCode: "156",
      issInsCode: "CMB",
      orderId: "att_1",
    });
    expect(
      toUnionPayPayFields(payRequest({ captureMethod: "manual" }), devEndpoint("unionpay"), new Date())["txnType"],
    ).toBe("02");
  });

  it("maps every transaction code, with the amount the scheme reported", () => {
    const ok = { respCode: "00", queryId: "Q1", txnAmt: "1234", currencyCode: "156" };
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "04", payUrl: "https://up/p" }))).toMatchObject({
      status: "requires_action",
      action: { type: "redirect", url: "https://up/p" },
    });
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "03" })).status).toBe("pending");
    expect(unionpayPayOutcome(a({ ...ok, origRespCode: "00", txnAmt: "1200" }))).toEqual({
      status: "succeeded",
      channelTxnId: "Q1",
      amount: 1200,
      currency: "CNY",
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
    expect(unionpayPayOutcome(a({ respCode: "30" }))).toMatchObject({ code: "channel_rejected" });
    expect(unionpayPayOutcome(a({ respCode: "94" })).status).toBe("unknown");
    expect(unionpayQueryOutcome(a({ respCode: "34" }))).toEqual({ status: "not_found" });
    expect(unionpayQueryOutcome(a({ respCode: "96" })).status).toBe("unknown");
  });

  it("reads the order's state from the transaction that set it: pre-authorized, completed, cancelled", () => {
    const ok = { respCode: "00", queryId: "Q1", currencyCode: "156", origRespCode: "00" };
    expect(unionpayQueryOutcome(a({ ...ok, txnType: "02", txnAmt: "1234", authExpireTime: "20240401003005" }))).toEqual(
      {
        status: "authorized",
        channelTxnId: "Q1",
        amount: 1234,
        currency: "CNY",
        expiresAt: "2024-03-31T16:30:05.000Z",
      },
    );
    expect(unionpayQueryOutcome(a({ ...ok, txnType: "02", txnAmt: "1234" })).status).toBe("unknown");
    expect(unionpayQueryOutcome(a({ ...ok, txnType: "03", txnAmt: "1000" }))).toMatchObject({
      status: "succeeded",
      amount: 1000,
    });
    expect(unionpayQueryOutcome(a({ ...ok, txnType: "32", txnAmt: "1234" }))).toMatchObject({
      status: "failed",
      code: "expired",
      message: expect.stringContaining("32"),
    });
    expect(unionpayQueryOutcome(a({ ...ok, txnType: "31", txnAmt: "1234" }))).toMatchObject({
      status: "failed",
      code: "payer_canceled",
    });
    // Without the amount or currency the scheme reported, a success is unknown.
    expect(unionpayQueryOutcome(a({ ...ok, txnType: "01" })).status).toBe("unknown");
    expect(unionpayQueryOutcome(a({ ...ok, txnAmt: "1234", currencyCode: "840" })).status).toBe("unknown");
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

  it("a pre-authorization's notification is authorized, with what is held and until when", () => {
    const adapter = createUnionPayAdapter(devEndpoint("unionpay"));
    expect(
      adapter.parseCallback({
        headers: {},
        rawBody: notification({ txnType: "02", authExpireTime: "20240401003005" }),
      }),
    ).toMatchObject({
      ok: true,
      result: {
        status: "authorized",
        amount: 1234,
        currency: "CNY",
        authorizationExpiresAt: "2024-03-31T16:30:05.000Z",
      },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification({ txnType: "02" }) })).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });

  it("recognises a back transaction's notification (a refund result): done, refused, in progress, forged", () => {
    const adapter = createUnionPayAdapter(devEndpoint("unionpay"));
    const notice = (over: Record<string, string> = {}) =>
      signedJson({
        merId,
        txnType: "04",
        orderId: "re_1",
        queryId: "R1",
        origQryId: "Q1",
        txnAmt: "500",
        currencyCode: "156",
        respCode: "00",
        respMsg: "success",
        traceNo: "T9",
        traceTime: "20240303101010",
        ...over,
      });
    expect(adapter.parseCallback({ headers: {}, rawBody: notice() })).toEqual({
      ok: true,
      operation: {
        channel: "unionpay",
        kind: "refund",
        operationId: "re_1",
        channelOpId: "R1",
        status: "succeeded",
        amount: 500,
        currency: "CNY",
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-03T02:10:10.000Z",
        notificationId: "T9",
      },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notice({ respCode: "36" }) })).toMatchObject({
      ok: true,
      operation: { status: "failed", failureCode: "amount_exceeds_refundable" },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notice({ respCode: "05" }) })).toMatchObject({
      ok: true,
      operation: { status: "failed", failureCode: "channel_rejected" },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notice({ respCode: "03" }) })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: notice().replace('"txnAmt":"500"', '"txnAmt":"5000"') }),
    ).toMatchObject({ ok: false, reason: "signature_invalid" });
  });

  it("signs requests with our key and trusts only UnionPay-signed answers", async () => {
    const signed = signedJson({
      respCode: "00",
      queryId: "Q1",
      origRespCode: "00",
      txnAmt: "1234",
      currencyCode: "156",
    });
    const f = answerFetch(200, signed);
    expect(await mk(f).pay(payRequest())).toMatchObject({ status: "succeeded", amount: 1234, currency: "CNY" });
    const sent = sentJson(f);
    expect(sent["signature"]).toBeTruthy();
    const forged = JSON.stringify(
      signUnionPay(
        { respCode: "00", queryId: "Q1", origRespCode: "00", txnAmt: "1234", currencyCode: "156" },
        DEV_CHANNEL_KEYS.unionpay.merchantSigningKey,
      ),
    );
    expect(await mk(answerFetch(200, forged)).pay(payRequest())).toMatchObject({ status: "unknown" });
  });
});

describe("unionpay back transactions", () => {
  it("sends 03 / 32 / 31 / 04 on the original (origQryId) with our operation id as orderId and fen", async () => {
    for (const kind of ["capture", "void", "cancel", "refund"] as const) {
      const opId = `${kind}_1`;
      const f = answerFetch(200, signedJson(opAnswer({ txnType: TXN_TYPE[kind], orderId: opId, queryId: `X${kind}` })));
      expect(await mk(f).operate(operationRequest({ kind, operationId: opId }))).toEqual({
        status: "succeeded",
        channelOpId: `X${kind}`,
        amount: 500,
        currency: "CNY",
      });
      expect(f.calls[0]?.url).toBe("http://channel.test/unionpay/gateway/api/backTransReq");
      expect(sentJson(f)).toMatchObject({
        txnType: TXN_TYPE[kind],
        merId,
        orderId: opId,
        origQryId: "Q1",
        origOrderId: "att_1",
        txnAmt: "500",
        currencyCode: "156",
        backUrl: "https://api.test/v1/channel-callbacks/unionpay",
      });
    }
  });

  it("a refund is accepted and in progress; the amount is the scheme's; answers about something else are unknown", async () => {
    expect(
      await mk(answerFetch(200, signedJson(opAnswer({ origRespCode: "03" })))).operate(operationRequest()),
    ).toEqual({ status: "pending", channelOpId: "R1" });
    expect(
      await mk(answerFetch(200, signedJson(opAnswer({ txnAmt: "499" })))).operate(operationRequest()),
    ).toMatchObject({ status: "succeeded", amount: 499 });
    const { txnAmt: _t, ...noAmount } = opAnswer();
    expect((await mk(answerFetch(200, signedJson(noAmount))).operate(operationRequest())).status).toBe("unknown");
    const { currencyCode: _c, ...noCurrency } = opAnswer();
    expect((await mk(answerFetch(200, signedJson(noCurrency))).operate(operationRequest())).status).toBe("unknown");
    expect(
      (await mk(answerFetch(200, signedJson(opAnswer({ orderId: "re_other" })))).operate(operationRequest())).status,
    ).toBe("unknown");
    expect(
      (await mk(answerFetch(200, signedJson(opAnswer({ txnType: "31" })))).operate(operationRequest())).status,
    ).toBe("unknown");
    expect(
      await mk(answerFetch(200, signedJson(opAnswer({ origRespCode: "38", origRespMsg: "too many" })))).operate(
        operationRequest(),
      ),
    ).toEqual({ status: "failed", code: "refund_limit_reached", message: "38: too many" });
  });

  it("maps every refusal code precisely, by transaction type where the scheme shares a code", async () => {
    const cases: [string, OperationKind, string][] = [
      ["30", "refund", "flow_not_supported"],
      ["35", "capture", "invalid_state"],
      ["36", "capture", "amount_exceeds_authorized"],
      ["36", "refund", "amount_exceeds_refundable"],
      ["37", "capture", "authorization_expired"],
      ["37", "void", "authorization_expired"],
      ["37", "refund", "refund_window_closed"],
      ["38", "refund", "refund_limit_reached"],
      ["39", "cancel", "cancel_window_closed"],
      ["39", "refund", "not_settled"],
      ["01", "void", "channel_rejected"],
      ["11", "refund", "channel_rejected"],
      ["34", "refund", "channel_rejected"],
      ["96", "refund", "channel_unavailable"],
    ];
    for (const [code, kind, expected] of cases) {
      const out = await mk(answerFetch(200, signedJson({ respCode: code, respMsg: "no" }))).operate(
        operationRequest({ kind }),
      );
      expect(out, `${code} ${kind}`).toEqual({ status: "failed", code: expected, message: `${code}: no` });
    }
    // The orderId was used already: the transaction may be done under it.
    expect((await mk(answerFetch(200, signedJson({ respCode: "94" }))).operate(operationRequest())).status).toBe(
      "unknown",
    );
    expect((await mk(answerFetch(200, signedJson({ respCode: "77" }))).operate(operationRequest())).status).toBe(
      "unknown",
    );
  });

  it("transport: refused and a signed busy are channel_unavailable; timeout, reset, 5xx, garbled, unsigned are unknown", async () => {
    const req = operationRequest();
    await expectOperationTransport((f) => mk(f).operate(req), {
      busy: answerFetch(503, signedJson({ respCode: "96", respMsg: "busy" })),
      lost: [
        answerFetch(500, "oops"),
        answerFetch(502, signedJson(opAnswer())),
        answerFetch(200, "[1,2"),
        answerFetch(200, JSON.stringify({ ...opAnswer(), signature: "Zm9yZ2Vk" })),
        answerFetch(200, JSON.stringify(opAnswer())),
      ],
    });
  });

  it("queries a back transaction by its orderId and type; not found, busy and garbled answers", async () => {
    const f = answerFetch(200, signedJson(opAnswer({ txnType: "03", orderId: "cap_1", txnAmt: "1000" })));
    expect(await mk(f).queryOperation(operationRequest({ kind: "capture", operationId: "cap_1" }))).toEqual({
      status: "succeeded",
      channelOpId: "R1",
      amount: 1000,
      currency: "CNY",
    });
    expect(f.calls[0]?.url).toBe("http://channel.test/unionpay/gateway/api/query");
    expect(sentJson(f)).toMatchObject({ txnType: "00", merId, orderId: "cap_1", origTxnType: "03" });
    expect(
      await mk(answerFetch(200, signedJson({ respCode: "34", respMsg: "no such" }))).queryOperation(operationRequest()),
    ).toEqual({ status: "not_found" });
    expect(
      await mk(answerFetch(200, signedJson(opAnswer({ origRespCode: "03" })))).queryOperation(operationRequest()),
    ).toEqual({ status: "pending", channelOpId: "R1" });
    for (const fetch of [
      answerFetch(503, signedJson({ respCode: "96" })),
      answerFetch(200, signedJson({ respCode: "01" })),
      refusedFetch,
      timeoutFetch,
      answerFetch(500, "x"),
      answerFetch(200, JSON.stringify(opAnswer())),
    ])
      expect((await mk(fetch).queryOperation(operationRequest())).status).toBe("unknown");
  });
});
