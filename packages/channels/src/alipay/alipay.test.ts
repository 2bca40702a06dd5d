import { describe, expect, it } from "vitest";
import { canonicalJson, sign } from "@pps/signing";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import type { FetchLike } from "../shared/http.ts";
import {
  answerFetch,
  devEndpoint,
  expectFlowsNotOffered,
  expectOperationTransport,
  operationRequestFor,
  payRequest,
  refusedFetch,
} from "../shared/test-fixtures.ts";
import { alipaySignParams, alipayVerifyParams, responseKey, type AlipayResponse } from "./client.ts";
import { createAlipayAdapter } from "./index.ts";
import {
  alipayCaptureOutcome,
  alipayCaptureQueryOutcome,
  alipayFreezeOutcome,
  alipayPrecreateOutcome,
  alipayQueryOutcome,
  alipayRefundOutcome,
  alipayRefundQueryOutcome,
  alipayUnfreezeOutcome,
  alipayUnfreezeQueryOutcome,
  toAlipayCaptureParams,
  toAlipayFreezeParams,
  toAlipayPrecreateParams,
  toAlipayRefundParams,
  toAlipayUnfreezeParams,
} from "./transformers.ts";

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
    expect(alipayPrecreateOutcome(r({ ...ok, trade_status: "TRADE_SUCCESS", total_amount: "12.34" }))).toEqual({
      status: "succeeded",
      channelTxnId: "T",
      amount: 1234,
      currency: "CNY",
      settlement: null,
    });
    expect(alipayPrecreateOutcome(r({ ...ok, trade_status: "TRADE_FINISHED", total_amount: "12.34" })).status).toBe(
      "succeeded",
    );
    // What Alipay took comes from its answer: without it a success cannot be applied.
    expect(alipayPrecreateOutcome(r({ ...ok, trade_status: "TRADE_SUCCESS" })).status).toBe("unknown");
    expect(alipayPrecreateOutcome(r({ ...ok, trade_status: "TRADE_SUCCESS", total_amount: "12.345" })).status).toBe(
      "unknown",
    );
    // A trade refunded in full is closed, and was paid all the same.
    expect(
      alipayQueryOutcome(
        r({ ...ok, trade_status: "TRADE_CLOSED", total_amount: "12.34", send_pay_date: "2024-03-02 00:30:05" }),
      ),
    ).toMatchObject({ status: "succeeded", amount: 1234 });
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

const operation = operationRequestFor("alipay", { channelTxnId: "2024X", amount: 300, reason: null });

const bizOf = (params: Record<string, string>) => JSON.parse(params["biz_content"]!) as Record<string, unknown>;

/** A fake gateway: answers by method, signed as Alipay signs (or not, when `signed` is false). */
function gateway(
  answer: (method: string, biz: Record<string, unknown>) => Record<string, string>,
  opts: { status?: number; signed?: boolean } = {},
): FetchLike & { methods: string[] } {
  const methods: string[] = [];
  const f = (async (_url: string, init: RequestInit) => {
    const params = Object.fromEntries(new URLSearchParams(String(init.body)));
    if (!alipayVerifyParams(params, DEV_CHANNEL_KEYS.alipay.merchantVerifyKey)) throw new Error("unsigned request");
    const method = params["method"]!;
    methods.push(method);
    const response = answer(method, bizOf(params));
    const signature = opts.signed === false ? "AAAA" : sign("RSA_SHA256", canonicalJson(response), key);
    return new Response(JSON.stringify({ [responseKey(method)]: response, sign: signature }), {
      status: opts.status ?? 200,
    });
  }) as FetchLike & { methods: string[] };
  f.methods = methods;
  return f;
}

describe("alipay pre-authorization (fund authorization)", () => {
  it("asks for a freeze voucher under our attempt id, the metadata in extra_param", () => {
    const now = new Date("2029-12-31T23:00:00.000Z");
    const p = toAlipayFreezeParams(payRequest({ captureMethod: "manual" }), devEndpoint("alipay"), now);
    expect(p["method"]).toBe("alipay.fund.auth.order.voucher.create");
    const biz = bizOf(p);
    expect(biz).toMatchObject({
      out_order_no: "att_1",
      out_request_no: "att_1",
      amount: "12.34",
      trans_currency: "CNY",
      timeout_express: "60m",
    });
    const extra = JSON.parse(biz["extra_param"] as string) as { passback_params: string };
    expect(new URLSearchParams(extra.passback_params).get("sim_fault")).toBe("decline");
  });

  it("maps the freeze's states: waiting, held (30 days from gmt_trans), paid from, released, never made", () => {
    const base = { code: "10000", auth_no: "A1", amount: "12.34" };
    expect(alipayFreezeOutcome(r({ ...base, status: "INIT", code_value: "https://qr/fa" }))).toEqual({
      status: "requires_action",
      channelTxnId: "A1",
      action: { type: "qr_code", payload: "https://qr/fa", deeplink: null },
    });
    expect(alipayFreezeOutcome(r({ ...base, status: "INIT" }))).toEqual({ status: "pending", channelTxnId: "A1" });
    const held = { ...base, status: "SUCCESS", order_status: "AUTHORIZED", gmt_trans: "2024-03-02 00:30:05" };
    expect(alipayFreezeOutcome(r(held))).toEqual({
      status: "authorized",
      channelTxnId: "A1",
      amount: 1234,
      currency: "CNY",
      expiresAt: "2024-03-31T16:30:05.000Z",
    });
    expect(alipayFreezeOutcome(r({ ...held, gmt_trans: "" })).status).toBe("unknown");
    expect(alipayFreezeOutcome(r({ ...held, amount: "" })).status).toBe("unknown");
    expect(
      alipayFreezeOutcome(r({ ...held, order_status: "FINISH", total_pay_amount: "10.00", rest_amount: "0.00" })),
    ).toMatchObject({ status: "succeeded", amount: 1000 });
    expect(alipayFreezeOutcome(r({ ...held, order_status: "CLOSED", total_pay_amount: "0.00" }))).toMatchObject({
      status: "failed",
      code: "expired",
      channelTxnId: "A1",
    });
    expect(alipayFreezeOutcome(r({ ...base, status: "CLOSED", close_reason: "USER_CANCELED" }))).toMatchObject({
      status: "failed",
      code: "payer_canceled",
    });
    expect(alipayFreezeOutcome(r({ code: "10000", status: "SUCCESS" })).status).toBe("unknown");
  });

  it("captures by turning the freeze into the trade of our attempt id, and voids by unfreezing under our operation id", () => {
    const now = new Date();
    const cap = toAlipayCaptureParams(
      operation({ kind: "capture", operationId: "cap_1", amount: 1000 }),
      devEndpoint("alipay"),
      now,
    );
    expect(cap["method"]).toBe("alipay.trade.pay");
    expect(cap["notify_url"]).toBeUndefined();
    expect(bizOf(cap)).toMatchObject({
      out_trade_no: "att_1",
      auth_no: "2024X",
      total_amount: "10.00",
      product_code: "PREAUTH_PAY",
      auth_confirm_mode: "COMPLETE",
    });
    const unfreeze = toAlipayUnfreezeParams(
      operation({ kind: "void", operationId: "void_1", amount: 1234 }),
      devEndpoint("alipay"),
      now,
    );
    expect(unfreeze["method"]).toBe("alipay.fund.auth.order.unfreeze");
    expect(bizOf(unfreeze)).toMatchObject({ auth_no: "2024X", out_request_no: "void_1", amount: "12.34" });
    const refund = toAlipayRefundParams(operation(), devEndpoint("alipay"), now);
    expect(bizOf(refund)).toMatchObject({ out_trade_no: "att_1", out_request_no: "re_1", refund_amount: "3.00" });
  });

  it("maps capture, unfreeze, refund answers and their queries", () => {
    const cap = operation({ kind: "capture", operationId: "cap_1", amount: 1000 });
    expect(
      alipayCaptureOutcome(r({ code: "10000", trade_no: "T9", out_trade_no: "att_1", total_amount: "10.00" }), cap),
    ).toEqual({ status: "succeeded", channelOpId: "T9", amount: 1000, currency: "CNY" });
    expect(alipayCaptureOutcome(r({ code: "10000", trade_no: "T9", out_trade_no: "att_1" }), cap).status).toBe(
      "unknown",
    );
    expect(alipayCaptureOutcome(r({ code: "10003", trade_no: "T9" }), cap).status).toBe("unknown");
    expect(
      alipayCaptureQueryOutcome(
        r({ code: "10000", trade_no: "T9", trade_status: "TRADE_SUCCESS", total_amount: "10.00" }),
      ),
    ).toEqual({ status: "succeeded", channelOpId: "T9", amount: 1000, currency: "CNY" });
    expect(alipayCaptureQueryOutcome(r({ code: "40004", sub_code: "ACQ.TRADE_NOT_EXIST" }))).toEqual({
      status: "not_found",
    });

    const voidReq = operation({ kind: "void", operationId: "void_1", amount: 1234 });
    const unfrozen = { code: "10000", out_request_no: "void_1", operation_id: "OP1", amount: "12.34" };
    expect(alipayUnfreezeOutcome(r({ ...unfrozen, status: "SUCCESS" }), voidReq)).toEqual({
      status: "succeeded",
      channelOpId: "OP1",
      amount: 1234,
      currency: "CNY",
    });
    expect(alipayUnfreezeOutcome(r({ ...unfrozen, status: "CLOSED" }), voidReq)).toMatchObject({ status: "failed" });
    expect(alipayUnfreezeOutcome(r({ ...unfrozen, out_request_no: "void_2", status: "SUCCESS" }), voidReq).status).toBe(
      "unknown",
    );
    expect(
      alipayUnfreezeQueryOutcome(r({ ...unfrozen, operation_type: "UNFREEZE", status: "SUCCESS" }), voidReq),
    ).toMatchObject({ status: "succeeded" });
    expect(
      alipayUnfreezeQueryOutcome(r({ ...unfrozen, operation_type: "FREEZE", status: "SUCCESS" }), voidReq).status,
    ).toBe("unknown");
    expect(alipayUnfreezeQueryOutcome(r({ code: "40004", sub_code: "AUTH_OPERATION_NOT_EXIST" }), voidReq)).toEqual({
      status: "not_found",
    });

    const req = operation();
    const refunded = { code: "10000", out_trade_no: "att_1", send_back_fee: "3.00", refund_fee: "5.00" };
    expect(alipayRefundOutcome(r({ ...refunded, fund_change: "Y" }), req)).toEqual({
      status: "succeeded",
      channelOpId: null,
      amount: 300,
      currency: "CNY",
    });
    // N: this request moved nothing, a repeat of a done refund or no refund at all: the query tells.
    expect(alipayRefundOutcome(r({ ...refunded, fund_change: "N" }), req).status).toBe("unknown");
    expect(alipayRefundOutcome(r({ ...refunded, fund_change: "Y", send_back_fee: "" }), req).status).toBe("unknown");
    expect(alipayRefundOutcome(r({ ...refunded, fund_change: "Y", out_trade_no: "att_2" }), req).status).toBe(
      "unknown",
    );
    const listed = { code: "10000", out_request_no: "re_1", refund_amount: "3.00" };
    expect(alipayRefundQueryOutcome(r({ ...listed, refund_status: "REFUND_SUCCESS" }), req)).toEqual({
      status: "succeeded",
      channelOpId: null,
      amount: 300,
      currency: "CNY",
    });
    expect(alipayRefundQueryOutcome(r({ code: "10000", trade_no: "T" }), req)).toEqual({ status: "not_found" });
    expect(alipayRefundQueryOutcome(r({ code: "40004", sub_code: "ACQ.TRADE_NOT_EXIST" }), req)).toEqual({
      status: "not_found",
    });
    expect(
      alipayRefundQueryOutcome(r({ ...listed, out_request_no: "re_2", refund_status: "REFUND_SUCCESS" }), req).status,
    ).toBe("unknown");
    expect(alipayRefundQueryOutcome(r({ code: "20000", sub_code: "ACQ.SYSTEM_BUSY" }), req).status).toBe("unknown");
  });

  it("maps every refusal to its code, and the ones that may mean done under this number to unknown", () => {
    const refused = (code: string, sub_code?: string) =>
      alipayRefundOutcome(r({ code, ...(sub_code ? { sub_code } : {}) }), operation());
    expect(refused("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")).toMatchObject({ code: "amount_exceeds_refundable" });
    expect(refused("40004", "ACQ.TRADE_HAS_FINISHED")).toMatchObject({ code: "refund_window_closed" });
    expect(refused("40004", "ACQ.TRADE_STATUS_ERROR")).toMatchObject({ code: "invalid_state" });
    expect(refused("40004", "ACQ.AUTH_AMOUNT_NOT_ENOUGH")).toMatchObject({ code: "amount_exceeds_authorized" });
    expect(refused("40004", "REQUEST_AMOUNT_EXCEED")).toMatchObject({ code: "amount_exceeds_authorized" });
    expect(refused("40004", "ACQ.AUTH_ORDER_EXPIRED")).toMatchObject({ code: "authorization_expired" });
    expect(refused("40004", "AUTH_ORDER_EXPIRED")).toMatchObject({ code: "authorization_expired" });
    expect(refused("40004", "ORDER_ALREADY_CLOSED")).toMatchObject({ code: "invalid_state" });
    expect(refused("40004", "ACQ.REFUND_TIMES_LIMIT")).toMatchObject({ code: "refund_limit_reached" });
    expect(refused("40004", "ACQ.TRADE_NOT_SETTLED")).toMatchObject({ code: "not_settled" });
    expect(refused("40004", "ACQ.TRADE_NOT_ALLOW_CANCEL")).toMatchObject({ code: "cancel_window_closed" });
    expect(refused("40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH")).toMatchObject({ code: "channel_rejected" });
    expect(refused("40004", "ACQ.TRADE_NOT_EXIST")).toMatchObject({ code: "channel_rejected" });
    expect(refused("40006", "isv.insufficient-isv-permissions")).toMatchObject({ code: "flow_not_supported" });
    expect(refused("40004", "ACCESS_FORBIDDEN")).toMatchObject({ code: "flow_not_supported" });
    expect(refused("40002", "isv.invalid-signature")).toMatchObject({ code: "channel_rejected" });
    expect(refused("20000", "ACQ.SYSTEM_BUSY")).toMatchObject({ code: "channel_unavailable" });
    for (const [code, sub] of [
      ["40004", "ACQ.SYSTEM_ERROR"],
      ["40004", "SYSTEM_ERROR"],
      ["40004", "ACQ.DISCORDANT_REPEAT_REQUEST"],
      ["40004", "ACQ.CONTEXT_INCONSISTENT"],
      ["40004", "ACQ.SOMETHING_NEW"],
      ["20000", "isp.unknow-error"],
      ["99999", undefined],
    ] as const)
      expect(refused(code, sub).status).toBe("unknown");
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

  it("pays with capture later by a freeze voucher; a query finds the freeze when there is no trade", async () => {
    const frozen = {
      code: "10000",
      auth_no: "A1",
      out_order_no: "att_1",
      amount: "12.34",
      status: "SUCCESS",
      order_status: "AUTHORIZED",
      gmt_trans: "2024-03-02 00:30:05",
    };
    const fetch = gateway((method) =>
      method === "alipay.trade.query" ? { code: "40004", sub_code: "ACQ.TRADE_NOT_EXIST" } : frozen,
    );
    const adapter = createAlipayAdapter(devEndpoint("alipay"), { fetch });
    expect(await adapter.pay(payRequest({ captureMethod: "manual" }))).toMatchObject({
      status: "authorized",
      channelTxnId: "A1",
      amount: 1234,
    });
    expect(await adapter.query({ attemptId: "att_1", channelTxnId: "A1" })).toMatchObject({ status: "authorized" });
    expect(fetch.methods).toEqual([
      "alipay.fund.auth.order.voucher.create",
      "alipay.trade.query",
      "alipay.fund.auth.operation.detail.query",
    ]);
    const nowhere = createAlipayAdapter(devEndpoint("alipay"), {
      fetch: gateway((method) =>
        method === "alipay.trade.query"
          ? { code: "40004", sub_code: "ACQ.TRADE_NOT_EXIST" }
          : { code: "40004", sub_code: "AUTH_ORDER_NOT_EXIST" },
      ),
    });
    expect(await nowhere.query({ attemptId: "att_1", channelTxnId: null })).toEqual({ status: "not_found" });
  });

  it("operates through the gateway method of each flow; cancel is refused without a call", async () => {
    const fetch = gateway((method, biz): Record<string, string> => {
      switch (method) {
        case "alipay.trade.pay":
          return { code: "10000", trade_no: "T9", out_trade_no: String(biz["out_trade_no"]), total_amount: "10.00" };
        case "alipay.fund.auth.order.unfreeze":
          return { code: "10000", out_request_no: String(biz["out_request_no"]), amount: "12.34", status: "SUCCESS" };
        case "alipay.trade.refund":
          return { code: "10000", out_trade_no: "att_1", fund_change: "Y", send_back_fee: "3.00" };
        case "alipay.trade.fastpay.refund.query":
          return {
            code: "10000",
            out_request_no: String(biz["out_request_no"]),
            refund_amount: "3.00",
            refund_status: "REFUND_SUCCESS",
          };
        default:
          return { code: "40004", sub_code: "ACQ.TRADE_NOT_EXIST" };
      }
    });
    const adapter = createAlipayAdapter(devEndpoint("alipay"), { fetch });
    expect(await adapter.operate(operation({ kind: "capture", operationId: "cap_1", amount: 1000 }))).toMatchObject({
      status: "succeeded",
      amount: 1000,
    });
    expect(await adapter.operate(operation({ kind: "void", operationId: "void_1", amount: 1234 }))).toMatchObject({
      status: "succeeded",
      amount: 1234,
    });
    expect(await adapter.operate(operation())).toMatchObject({ status: "succeeded", amount: 300 });
    expect(await adapter.queryOperation(operation())).toMatchObject({ status: "succeeded", amount: 300 });
    // The capture's query is the trade's: no trade, no capture.
    expect(await adapter.queryOperation(operation({ kind: "capture" }))).toEqual({ status: "not_found" });
    expect(fetch.methods).toEqual([
      "alipay.trade.pay",
      "alipay.fund.auth.order.unfreeze",
      "alipay.trade.refund",
      "alipay.trade.fastpay.refund.query",
      "alipay.trade.query",
    ]);
    const before = fetch.methods.length;
    await expectFlowsNotOffered(adapter, operation, ["cancel"]);
    expect(await adapter.operate(operation({ kind: "capture", channelTxnId: null }))).toMatchObject({
      status: "failed",
      code: "channel_rejected",
    });
    expect(fetch.methods).toHaveLength(before);
  });

  it("an operation whose answer is garbled, unsigned, 5xx or lost is unknown; a signed busy or nothing sent is unavailable", async () => {
    const op = (fetch: FetchLike) => createAlipayAdapter(devEndpoint("alipay"), { fetch }).operate(operation());
    const done = () => ({ code: "10000", out_trade_no: "att_1", fund_change: "Y", send_back_fee: "3.00" });
    const busy = () => ({ code: "20000", msg: "Service Currently Unavailable", sub_code: "ACQ.SYSTEM_BUSY" });
    await expectOperationTransport(op, {
      busy: gateway(busy, { status: 503 }),
      lost: [answerFetch(200, "not json"), gateway(done, { signed: false }), gateway(done, { status: 500 })],
    });
    // A query never fails an operation because of its own transport.
    const q = (fetch: FetchLike) => createAlipayAdapter(devEndpoint("alipay"), { fetch }).queryOperation(operation());
    expect((await q(refusedFetch)).status).toBe("unknown");
    expect((await q(gateway(busy, { status: 503 }))).status).toBe("unknown");
  });

  it("verifies fund-authorization and refund notifications", () => {
    const adapter = createAlipayAdapter(devEndpoint("alipay"));
    const freeze = (over: Record<string, string> = {}) =>
      new URLSearchParams(
        alipaySignParams(
          {
            notify_time: "2024-03-02 00:30:06",
            notify_type: "fund_auth_freeze",
            notify_id: "n2",
            app_id: DEV_CHANNEL_KEYS.alipay.merchantId,
            auth_no: "A1",
            out_order_no: "att_1",
            operation_id: "A101",
            out_request_no: "att_1",
            operation_type: "FREEZE",
            amount: "12.34",
            status: "SUCCESS",
            gmt_trans: "2024-03-02 00:30:05",
            ...over,
          },
          key,
        ),
      ).toString();
    expect(adapter.parseCallback({ headers: {}, rawBody: freeze() })).toEqual({
      ok: true,
      result: {
        channel: "alipay",
        attemptId: "att_1",
        channelTxnId: "A1",
        status: "authorized",
        authorizationExpiresAt: "2024-03-31T16:30:05.000Z",
        amount: 1234,
        currency: "CNY",
        settlement: null,
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-01T16:30:05.000Z",
        notificationId: "n2",
      },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: freeze().replace("12.34", "1.34") })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: freeze({ status: "INIT" }) })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: freeze({ status: "CLOSED", close_reason: "USER_CANCELED" }) }),
    ).toMatchObject({ ok: true, result: { status: "failed", failureCode: "payer_canceled" } });
    expect(
      adapter.parseCallback({
        headers: {},
        rawBody: freeze({ notify_type: "fund_auth_unfreeze", operation_type: "UNFREEZE", out_request_no: "void_1" }),
      }),
    ).toMatchObject({
      ok: true,
      operation: { kind: "void", operationId: "void_1", status: "succeeded", amount: 1234, currency: "CNY" },
    });
    const refunded = notification({
      out_biz_no: "re_1",
      refund_fee: "5.00",
      send_back_fee: "3.00",
      gmt_refund: "2024-03-03 10:00:00",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: refunded })).toMatchObject({
      ok: true,
      operation: {
        kind: "refund",
        operationId: "re_1",
        status: "succeeded",
        amount: 300,
        occurredAt: "2024-03-03T02:00:00.000Z",
      },
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: notification({ out_biz_no: "re_1", refund_fee: "5.00" }) }),
    ).toMatchObject({ ok: false, reason: "not_final" });
  });
});
