import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import {
  answerFetch,
  devEndpoint,
  expectFlowsNotOffered,
  expectOperationTransport,
  operationRequestFor,
  payRequest,
  refusedFetch,
  sentBody,
} from "../shared/test-fixtures.ts";
import type { AdapterOptions } from "../shared/adapter.ts";
import { parseFlatXml, toFlatXml } from "../shared/xml.ts";
import {
  wechatSign,
  wechatVerify,
  type WechatAnswer,
  type WechatRefundAnswer,
  type WechatRefundQueryAnswer,
} from "./client.ts";
import { createWechatAdapter } from "./index.ts";
import {
  toWechatOrderFields,
  toWechatRefundFields,
  wechatOrderOutcome,
  wechatQueryOutcome,
  wechatRefundOutcome,
  wechatRefundQueryOutcome,
} from "./transformers.ts";

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
    const paid = { ...ok, total_fee: "1234", fee_type: "CNY" };
    expect(wechatOrderOutcome(a({ ...paid, trade_state: "SUCCESS" }))).toEqual({
      status: "succeeded",
      channelTxnId: "T",
      amount: 1234,
      currency: "CNY",
      settlement: null,
    });
    // An order with a refund (转入退款) was paid all the same.
    expect(wechatOrderOutcome(a({ ...paid, trade_state: "REFUND" }))).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    // What the channel took must come from its answer: without it, a success cannot be applied.
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "SUCCESS" })).status).toBe("unknown");
    expect(wechatOrderOutcome(a({ ...ok, trade_state: "SUCCESS", total_fee: "1234" })).status).toBe("unknown");
    expect(wechatQueryOutcome(a({ ...ok, trade_state: "SUCCESS", total_fee: "12.34", fee_type: "CNY" })).status).toBe(
      "unknown",
    );
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

const operation = operationRequestFor("wechat", { channelTxnId: "4200X", amount: 300, reason: "damaged" });

const ra = (f: Record<string, string>) =>
  ({ sign: "x", return_code: "SUCCESS", result_code: "SUCCESS", ...f }) as WechatRefundAnswer;
const rq = (f: Record<string, string>) =>
  ({ sign: "x", return_code: "SUCCESS", result_code: "SUCCESS", ...f }) as WechatRefundQueryAnswer;

function refundNotification(over: Record<string, string> = {}): string {
  return signedXml({
    return_code: "SUCCESS",
    mch_id: DEV_CHANNEL_KEYS.wechat.merchantId,
    transaction_id: "4200X",
    out_trade_no: "att_1",
    refund_id: "5030R",
    out_refund_no: "re_1",
    total_fee: "1234",
    refund_fee: "300",
    fee_type: "CNY",
    refund_status: "SUCCESS",
    success_time: "2024-03-02 00:30:05",
    notify_id: "n9",
    ...over,
  });
}

describe("wechat refunds", () => {
  it("sends the refund under our operation id with the order's total and names the order by its transaction id", () => {
    const f = toWechatRefundFields(operation(), devEndpoint("wechat"), "wx1");
    expect(f).toMatchObject({
      transaction_id: "4200X",
      out_refund_no: "re_1",
      total_fee: "1234",
      refund_fee: "300",
      refund_fee_type: "CNY",
      refund_desc: "damaged",
      notify_url: "https://api.test/v1/channel-callbacks/wechat",
    });
    expect(f["out_trade_no"]).toBeUndefined();
    const byRef = toWechatRefundFields(operation({ channelTxnId: null, reason: null }), devEndpoint("wechat"), "wx1");
    expect(byRef).toMatchObject({ out_trade_no: "att_1" });
    expect(byRef["transaction_id"]).toBeUndefined();
    expect(byRef["refund_desc"]).toBeUndefined();
  });

  it("maps the refund answer: accepted is pending; each refusal to its code; a possible repeat to unknown", () => {
    const req = operation();
    expect(wechatRefundOutcome(ra({ out_refund_no: "re_1", refund_id: "5030R" }), req)).toEqual({
      status: "pending",
      channelOpId: "5030R",
    });
    // Accepted, but not our refund number: we cannot tell what was accepted.
    expect(wechatRefundOutcome(ra({ out_refund_no: "re_2", refund_id: "5030R" }), req).status).toBe("unknown");
    const refused = (err_code: string) =>
      wechatRefundOutcome(ra({ result_code: "FAIL", err_code, err_code_des: "no" }), req);
    expect(refused("TRADE_OVERDUE")).toMatchObject({ status: "failed", code: "refund_window_closed" });
    expect(refused("INVALID_REQUEST")).toMatchObject({ code: "amount_exceeds_refundable" });
    expect(refused("REFUND_COUNT_EXCEEDED")).toMatchObject({ code: "refund_limit_reached" });
    expect(refused("ERROR")).toMatchObject({ code: "invalid_state" });
    expect(refused("NO_AUTH")).toMatchObject({ code: "flow_not_supported" });
    expect(refused("NOTENOUGH")).toMatchObject({ code: "channel_rejected", message: "NOTENOUGH: no" });
    expect(refused("INVALID_TRANSACTIONID")).toMatchObject({ code: "channel_rejected" });
    expect(refused("FREQUENCY_LIMITED")).toMatchObject({ code: "channel_unavailable" });
    for (const maybeDone of ["SYSTEMERROR", "BIZERR_NEED_RETRY", "REFUND_FEE_MISMATCH", "SOMETHING_NEW"])
      expect(refused(maybeDone).status).toBe("unknown");
    expect(wechatRefundOutcome(ra({ return_code: "FAIL", return_msg: "invalid refund_fee" }), req)).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    expect(wechatRefundOutcome(ra({ return_code: "FAIL", err_code: "SYSTEMBUSY" }), req)).toMatchObject({
      code: "channel_unavailable",
    });
  });

  it("reads our refund out of the refundquery list, with the amount WeChat reports", () => {
    const req = operation();
    const listed = (status: string, extra: Record<string, string> = {}) =>
      rq({
        fee_type: "CNY",
        refund_count: "2",
        out_refund_no_0: "re_0",
        refund_id_0: "5030A",
        refund_fee_0: "100",
        refund_status_0: "SUCCESS",
        out_refund_no_1: "re_1",
        refund_id_1: "5030R",
        refund_fee_1: "300",
        refund_status_1: status,
        ...extra,
      });
    expect(wechatRefundQueryOutcome(listed("SUCCESS"), req)).toEqual({
      status: "succeeded",
      channelOpId: "5030R",
      amount: 300,
      currency: "CNY",
    });
    expect(wechatRefundQueryOutcome(listed("PROCESSING"), req)).toEqual({ status: "pending", channelOpId: "5030R" });
    expect(wechatRefundQueryOutcome(listed("REFUNDCLOSE"), req)).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    // 退款异常: the money left the merchant but not reached the payer; neither done nor undone.
    expect(wechatRefundQueryOutcome(listed("CHANGE"), req).status).toBe("unknown");
    expect(wechatRefundQueryOutcome(listed("SUCCESS", { fee_type: "" }), req).status).toBe("unknown");
    expect(wechatRefundQueryOutcome(listed("SUCCESS"), operation({ operationId: "re_9" })).status).toBe("unknown");
    expect(wechatRefundQueryOutcome(rq({ result_code: "FAIL", err_code: "REFUNDNOTEXIST" }), req)).toEqual({
      status: "not_found",
    });
    // A query that failed tells nothing about the refund, busy included.
    expect(wechatRefundQueryOutcome(rq({ return_code: "FAIL", err_code: "SYSTEMBUSY" }), req).status).toBe("unknown");
    expect(wechatRefundQueryOutcome(rq({ result_code: "FAIL", err_code: "SYSTEMERROR" }), req).status).toBe("unknown");
  });
});

describe("wechat adapter", () => {
  it("has no pre-authorization, capture, void or cancel: refused without a call", async () => {
    const fetch = answerFetch(200, signedXml({ return_code: "SUCCESS" }));
    const adapter = createWechatAdapter(devEndpoint("wechat"), { fetch });
    expect(await adapter.pay(payRequest({ captureMethod: "manual" }))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    await expectFlowsNotOffered(adapter, operation, ["capture", "void", "cancel"]);
    expect(fetch.calls).toHaveLength(0);
  });

  it("posts the signed refund to /secapi/pay/refund and the query to /pay/refundquery", async () => {
    const accepted = signedXml({
      return_code: "SUCCESS",
      result_code: "SUCCESS",
      out_refund_no: "re_1",
      refund_id: "5030R",
    });
    const fetch = answerFetch(200, accepted);
    const adapter = createWechatAdapter(devEndpoint("wechat"), { fetch });
    expect(await adapter.operate(operation())).toEqual({ status: "pending", channelOpId: "5030R" });
    expect(fetch.calls[0]!.url).toBe("http://channel.test/wechat/secapi/pay/refund");
    const sent = parseFlatXml(sentBody(fetch))!;
    expect(wechatVerify(sent, DEV_CHANNEL_KEYS.wechat.merchantSigningKey)).toBe(true);
    expect(sent).toMatchObject({ out_refund_no: "re_1", refund_fee: "300", total_fee: "1234" });

    const listed = signedXml({
      return_code: "SUCCESS",
      result_code: "SUCCESS",
      fee_type: "CNY",
      refund_count: "1",
      out_refund_no_0: "re_1",
      refund_id_0: "5030R",
      refund_fee_0: "300",
      refund_status_0: "SUCCESS",
    });
    const queryFetch = answerFetch(200, listed);
    const queried = createWechatAdapter(devEndpoint("wechat"), { fetch: queryFetch });
    expect(await queried.queryOperation(operation())).toEqual({
      status: "succeeded",
      channelOpId: "5030R",
      amount: 300,
      currency: "CNY",
    });
    expect(queryFetch.calls[0]!.url).toBe("http://channel.test/wechat/pay/refundquery");
    expect(parseFlatXml(sentBody(queryFetch))).toMatchObject({ out_refund_no: "re_1" });
  });

  it("a refund whose answer is garbled, unsigned, 5xx or lost is unknown; a signed busy or nothing sent is unavailable", async () => {
    const op = (options: AdapterOptions) => createWechatAdapter(devEndpoint("wechat"), options).operate(operation());
    const accepted = { return_code: "SUCCESS", result_code: "SUCCESS", out_refund_no: "re_1" };
    const busy = signedXml({ return_code: "FAIL", return_msg: "busy", err_code: "SYSTEMBUSY" });
    await expectOperationTransport((fetch) => op({ fetch }), {
      busy: answerFetch(503, busy),
      lost: [
        answerFetch(200, "<html>oops</html>"),
        answerFetch(200, toFlatXml({ ...accepted, sign: "00" })),
        answerFetch(200, signedXml(accepted, "another-key")),
        answerFetch(500, signedXml(accepted)),
      ],
    });
    // A query never fails an operation because of its own transport.
    const q = (fetch: typeof refusedFetch) =>
      createWechatAdapter(devEndpoint("wechat"), { fetch }).queryOperation(operation());
    expect((await q(refusedFetch)).status).toBe("unknown");
    expect((await q(answerFetch(503, busy))).status).toBe("unknown");
    expect((await q(answerFetch(200, "garbage"))).status).toBe("unknown");
  });

  it("verifies refund notifications and returns the operation's result", () => {
    const adapter = createWechatAdapter(devEndpoint("wechat"), { now: () => new Date("2024-03-02T00:00:00Z") });
    expect(adapter.parseCallback({ headers: {}, rawBody: refundNotification() })).toEqual({
      ok: true,
      operation: {
        channel: "wechat",
        kind: "refund",
        operationId: "re_1",
        channelOpId: "5030R",
        status: "succeeded",
        amount: 300,
        currency: "CNY",
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-01T16:30:05.000Z",
        notificationId: "n9",
      },
    });
    expect(
      adapter.parseCallback({
        headers: {},
        rawBody: refundNotification().replace("<refund_fee><![CDATA[300", "<refund_fee><![CDATA[3000"),
      }),
    ).toMatchObject({ ok: false, reason: "signature_invalid" });
    expect(
      adapter.parseCallback({
        headers: {},
        rawBody: refundNotification({ refund_status: "REFUNDCLOSE", success_time: "" }),
      }),
    ).toMatchObject({
      ok: true,
      operation: { status: "failed", failureCode: "channel_rejected", occurredAt: "2024-03-02T00:00:00.000Z" },
    });
    for (const refund_status of ["PROCESSING", "CHANGE"])
      expect(adapter.parseCallback({ headers: {}, rawBody: refundNotification({ refund_status }) })).toMatchObject({
        ok: false,
        reason: "not_final",
      });
    expect(adapter.parseCallback({ headers: {}, rawBody: refundNotification({ fee_type: "" }) })).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: refundNotification({ mch_id: "someone_else" }) }),
    ).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });

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
