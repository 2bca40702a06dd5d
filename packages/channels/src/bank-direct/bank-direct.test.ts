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
  resetFetch,
  sentForm,
  timeoutFetch,
} from "../shared/test-fixtures.ts";
import { createBankDirectAdapter } from "./index.ts";
import { signBankParams, type BankAnswer } from "./client.ts";
import { bankPayOutcome, bankQueryOutcome, toBankPayParams } from "./transformers.ts";

const key = DEV_CHANNEL_KEYS.bank_direct.channelSigningKey;
const merchantNo = DEV_CHANNEL_KEYS.bank_direct.merchantId;
const answer = (fields: Record<string, string>): BankAnswer => ({ sign: "x", ...fields }) as BankAnswer;
const signedJson = (fields: Record<string, string>) => JSON.stringify(signBankParams(fields, key));
const mk = (fetch: FetchLike) => createBankDirectAdapter(devEndpoint("bank_direct"), { fetch });
const operationRequest = operationRequestFor("bank_direct", { channelTxnId: "B1" });

function notification(over: Record<string, string> = {}): string {
  const fields = {
    merchant_no: merchantNo,
    order_no: "att_1",
    bank_txn_no: "B1",
    amount: "12.34",
    currency: "CNY",
    trade_state: "SUCCESS",
    pay_time: "20240302003005",
    notify_id: "n1",
    notify_time: "20240302003006",
    ...over,
  };
  return new URLSearchParams(signBankParams(fields, key)).toString();
}

/** A signed 0000 answer about one operation, as the bank gives it. */
function opAnswer(over: Record<string, string> = {}): Record<string, string> {
  return {
    rsp_code: "0000",
    rsp_msg: "OK",
    merchant_no: merchantNo,
    order_no: "att_1",
    bank_txn_no: "B1",
    trade_state: "SUCCESS",
    amount: "12.34",
    currency: "CNY",
    op_type: "REFUND",
    request_no: "re_1",
    op_txn_no: "R1",
    op_state: "SUCCESS",
    op_amount: "5.00",
    op_currency: "CNY",
    op_time: "20240303101010",
    ...over,
  };
}

describe("bank_direct transformers", () => {
  it("builds form params with decimal yuan, our attempt as order_no and the metadata as attach", () => {
    const p = toBankPayParams(payRequest(), devEndpoint("bank_direct"), new Date("2024-03-01T16:30:05Z"));
    expect(p).toMatchObject({
      order_no: "att_1",
      trade_type: "SALE",
      amount: "12.34",
      currency: "CNY",
      bank_code: "CMB",
      timestamp: "20240302003005",
    });
    expect(new URLSearchParams(p["attach"]).get("sim_fault")).toBe("decline");
    const manual = toBankPayParams(payRequest({ captureMethod: "manual" }), devEndpoint("bank_direct"), new Date());
    expect(manual["trade_type"]).toBe("PREAUTH");
  });

  it("maps every trade_state, with the amount the bank reported", () => {
    const base = { rsp_code: "0000", bank_txn_no: "B1", currency: "CNY" };
    expect(bankPayOutcome(answer({ ...base, trade_state: "PROCESSING", pay_url: "https://bank/p" }))).toEqual({
      status: "requires_action",
      channelTxnId: "B1",
      action: { type: "redirect", url: "https://bank/p" },
    });
    expect(bankPayOutcome(answer({ ...base, trade_state: "PROCESSING" })).status).toBe("pending");
    expect(bankPayOutcome(answer({ ...base, trade_state: "PAYING" })).status).toBe("pending");
    expect(bankPayOutcome(answer({ ...base, trade_state: "SUCCESS", amount: "12.30" }))).toEqual({
      status: "succeeded",
      channelTxnId: "B1",
      amount: 1230,
      currency: "CNY",
      settlement: null,
    });
    // A captured pre-authorization took what was captured, not the order amount.
    expect(
      bankPayOutcome(answer({ ...base, trade_state: "SUCCESS", amount: "12.34", capture_amount: "10.00" })),
    ).toMatchObject({ status: "succeeded", amount: 1000 });
    expect(
      bankPayOutcome(
        answer({
          ...base,
          trade_type: "PREAUTH",
          trade_state: "AUTHORIZED",
          amount: "12.34",
          auth_amount: "12.34",
          auth_expire_time: "20240309003005",
        }),
      ),
    ).toEqual({
      status: "authorized",
      channelTxnId: "B1",
      amount: 1234,
      currency: "CNY",
      expiresAt: "2024-03-08T16:30:05.000Z",
    });
    expect(
      bankPayOutcome(answer({ ...base, trade_state: "FAILED", err_code: "E1001", err_msg: "card declined" })),
    ).toEqual({
      status: "failed",
      channelTxnId: "B1",
      code: "card_declined",
      message: "E1001: card declined",
    });
    expect(bankPayOutcome(answer({ ...base, trade_state: "FAILED", err_code: "E1002" }))).toMatchObject({
      code: "insufficient_funds",
    });
    expect(bankPayOutcome(answer({ ...base, trade_state: "CLOSED", err_code: "E2001" }))).toMatchObject({
      code: "payer_canceled",
    });
    expect(bankPayOutcome(answer({ ...base, trade_state: "CLOSED" }))).toMatchObject({ code: "expired" });
    // Ended with nothing kept after it was paid: their own states, never a success.
    expect(bankQueryOutcome(answer({ ...base, trade_state: "VOIDED", amount: "12.34" }))).toMatchObject({
      status: "failed",
      code: "expired",
      message: expect.stringContaining("VOIDED"),
    });
    expect(bankQueryOutcome(answer({ ...base, trade_state: "CANCELED", amount: "12.34" }))).toMatchObject({
      status: "failed",
      code: "payer_canceled",
      message: expect.stringContaining("CANCELED"),
    });
  });

  it("a success or authorization without the amount, currency or hold end the bank reported is unknown", () => {
    const base = { rsp_code: "0000", bank_txn_no: "B1" };
    expect(bankPayOutcome(answer({ ...base, trade_state: "SUCCESS" })).status).toBe("unknown");
    expect(bankPayOutcome(answer({ ...base, trade_state: "SUCCESS", amount: "12.34" })).status).toBe("unknown");
    expect(bankPayOutcome(answer({ ...base, trade_state: "SUCCESS", amount: "12.345", currency: "CNY" })).status).toBe(
      "unknown",
    );
    expect(
      bankQueryOutcome(answer({ ...base, trade_state: "AUTHORIZED", amount: "12.34", currency: "CNY" })).status,
    ).toBe("unknown");
  });

  it("maps request-level answers: rejected → failed, busy → channel_unavailable, conflict and unknown codes → unknown", () => {
    expect(bankPayOutcome(answer({ rsp_code: "2003", rsp_msg: "bank" }))).toMatchObject({
      status: "failed",
      code: "bank_not_supported",
    });
    expect(bankPayOutcome(answer({ rsp_code: "2002" }))).toMatchObject({ status: "failed", code: "channel_rejected" });
    expect(bankPayOutcome(answer({ rsp_code: "4001" }))).toMatchObject({ status: "failed", code: "channel_rejected" });
    expect(bankPayOutcome(answer({ rsp_code: "9999" }))).toMatchObject({
      status: "failed",
      code: "channel_unavailable",
    });
    expect(bankPayOutcome(answer({ rsp_code: "3001" })).status).toBe("unknown");
    expect(bankPayOutcome(answer({ rsp_code: "7777" })).status).toBe("unknown");
    expect(bankPayOutcome(answer({ rsp_code: "0000" })).status).toBe("unknown");
  });

  it("a query never fails on a request-level error: not found or unknown", () => {
    expect(bankQueryOutcome(answer({ rsp_code: "3004" }))).toEqual({ status: "not_found" });
    expect(bankQueryOutcome(answer({ rsp_code: "9999" })).status).toBe("unknown");
    expect(bankQueryOutcome(answer({ rsp_code: "2002" })).status).toBe("unknown");
  });
});

describe("bank_direct adapter", () => {
  it("verifies callbacks: valid, tampered, wrong key, stale", () => {
    const adapter = createBankDirectAdapter(devEndpoint("bank_direct"));
    const ok = adapter.parseCallback({ headers: {}, rawBody: notification() });
    expect(ok).toEqual({
      ok: true,
      result: {
        channel: "bank_direct",
        attemptId: "att_1",
        channelTxnId: "B1",
        status: "succeeded",
        amount: 1234,
        currency: "CNY",
        settlement: null,
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-01T16:30:05.000Z",
        notificationId: "n1",
      },
    });
    const tampered = notification().replace("amount=12.34", "amount=99.99");
    expect(adapter.parseCallback({ headers: {}, rawBody: tampered })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    const wrongKey = createBankDirectAdapter(devEndpoint("bank_direct", { verifyKey: "another-key" }));
    expect(wrongKey.parseCallback({ headers: {}, rawBody: notification() })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification({ trade_state: "PROCESSING" }) })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: notification({ trade_state: "CLOSED", err_code: "E2001" }) }),
    ).toMatchObject({
      ok: true,
      result: { status: "failed", failureCode: "payer_canceled" },
    });
    expect(adapter.callbackAck(true)).toEqual({ status: 200, contentType: "text/plain", body: "SUCCESS" });
  });

  it("a pre-authorization's callback is authorized, with what is held and until when", () => {
    const adapter = createBankDirectAdapter(devEndpoint("bank_direct"));
    const held = notification({
      trade_type: "PREAUTH",
      trade_state: "AUTHORIZED",
      auth_amount: "12.34",
      auth_expire_time: "20240309003005",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: held })).toMatchObject({
      ok: true,
      result: {
        status: "authorized",
        amount: 1234,
        currency: "CNY",
        authorizationExpiresAt: "2024-03-08T16:30:05.000Z",
        channelTxnId: "B1",
      },
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification({ trade_state: "AUTHORIZED" }) })).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    expect(adapter.parseCallback({ headers: {}, rawBody: notification({ capture_amount: "10.00" }) })).toMatchObject({
      ok: true,
      result: { status: "succeeded", amount: 1000 },
    });
  });

  it("recognises an operation notification: succeeded, failed with its code, in progress, forged", () => {
    const adapter = createBankDirectAdapter(devEndpoint("bank_direct"));
    const opNotice = (over: Record<string, string> = {}) =>
      new URLSearchParams(
        signBankParams(
          {
            notify_type: "OPERATION",
            merchant_no: merchantNo,
            order_no: "att_1",
            bank_txn_no: "B1",
            op_type: "REFUND",
            request_no: "re_1",
            op_txn_no: "R1",
            op_state: "SUCCESS",
            op_amount: "5.00",
            op_currency: "CNY",
            op_time: "20240303101010",
            notify_id: "n9",
            notify_time: "20240303101011",
            ...over,
          },
          key,
        ),
      ).toString();
    expect(adapter.parseCallback({ headers: {}, rawBody: opNotice() })).toEqual({
      ok: true,
      operation: {
        channel: "bank_direct",
        kind: "refund",
        operationId: "re_1",
        channelOpId: "R1",
        status: "succeeded",
        amount: 500,
        currency: "CNY",
        failureCode: null,
        failureMessage: null,
        occurredAt: "2024-03-03T02:10:10.000Z",
        notificationId: "n9",
      },
    });
    expect(
      adapter.parseCallback({
        headers: {},
        rawBody: opNotice({ op_state: "FAILED", op_err_code: "4007", op_err_msg: "exceeds" }),
      }),
    ).toMatchObject({ ok: true, operation: { status: "failed", failureCode: "amount_exceeds_refundable" } });
    expect(adapter.parseCallback({ headers: {}, rawBody: opNotice({ op_state: "PROCESSING" }) })).toMatchObject({
      ok: false,
      reason: "not_final",
    });
    expect(
      adapter.parseCallback({ headers: {}, rawBody: opNotice().replace("op_amount=5.00", "op_amount=50.00") }),
    ).toMatchObject({ ok: false, reason: "signature_invalid" });
  });

  it("maps transport failures: refused → channel_unavailable; timeout, reset, 5xx, unsigned → unknown", async () => {
    expect(await mk(refusedFetch).pay(payRequest())).toMatchObject({ status: "failed", code: "channel_unavailable" });
    expect(await mk(refusedFetch).query({ attemptId: "att_1", channelTxnId: null })).toMatchObject({
      status: "unknown",
    });
    expect(await mk(timeoutFetch).pay(payRequest())).toMatchObject({ status: "unknown" });
    expect(await mk(resetFetch).pay(payRequest())).toMatchObject({ status: "unknown" });
    expect(await mk(answerFetch(500, "oops")).pay(payRequest())).toMatchObject({ status: "unknown" });
    const signedBusy = signedJson({ rsp_code: "9999", rsp_msg: "busy" });
    expect(await mk(answerFetch(503, signedBusy)).pay(payRequest())).toMatchObject({
      status: "failed",
      code: "channel_unavailable",
    });
    expect(
      await mk(answerFetch(503, JSON.stringify({ rsp_code: "9999", sign: "forged" }))).pay(payRequest()),
    ).toMatchObject({ status: "unknown" });
    expect(
      await mk(
        answerFetch(
          200,
          JSON.stringify({
            rsp_code: "0000",
            trade_state: "SUCCESS",
            bank_txn_no: "B1",
            amount: "12.34",
            currency: "CNY",
          }),
        ),
      ).pay(payRequest()),
    ).toMatchObject({ status: "unknown" });
    const signedOk = signedJson({
      rsp_code: "0000",
      trade_state: "SUCCESS",
      bank_txn_no: "B1",
      amount: "12.34",
      currency: "CNY",
      extra_field: "x",
    });
    const f = answerFetch(200, signedOk);
    expect(await mk(f).pay(payRequest())).toEqual({
      status: "succeeded",
      channelTxnId: "B1",
      amount: 1234,
      currency: "CNY",
      settlement: null,
    });
    expect(f.calls[0]?.url).toBe("http://channel.test/bank/gateway/pay");
  });
});

describe("bank_direct operations", () => {
  it("sends each kind to its gateway path with our request number, the order and the amount in yuan", async () => {
    const paths = {
      capture: "/bank/gateway/preauth/capture",
      void: "/bank/gateway/preauth/void",
      cancel: "/bank/gateway/cancel",
      refund: "/bank/gateway/refund",
    } as const;
    const opTypes = { capture: "CAPTURE", void: "VOID", cancel: "CANCEL", refund: "REFUND" } as const;
    for (const kind of ["capture", "void", "cancel", "refund"] as const) {
      const opId = `${kind}_1`;
      const f = answerFetch(
        200,
        signedJson(opAnswer({ op_type: opTypes[kind], request_no: opId, op_amount: "5.00", op_txn_no: `X${kind}` })),
      );
      const out = await mk(f).operate(operationRequest({ kind, operationId: opId }));
      expect(out).toEqual({ status: "succeeded", channelOpId: `X${kind}`, amount: 500, currency: "CNY" });
      expect(f.calls[0]?.url).toBe(`http://channel.test${paths[kind]}`);
      const sent = sentForm(f);
      expect(sent).toMatchObject({
        merchant_no: merchantNo,
        order_no: "att_1",
        bank_txn_no: "B1",
        op_type: opTypes[kind],
        request_no: opId,
        op_amount: "5.00",
        currency: "CNY",
        order_amount: "12.34",
        sign_type: "MD5",
      });
      expect(sent["sign"]).toMatch(/^[0-9A-F]{32}$/);
    }
    // Before we know the bank's serial, the order is named by our reference alone.
    const f = answerFetch(200, signedJson(opAnswer()));
    await mk(f).operate(operationRequest({ channelTxnId: null }));
    expect(sentForm(f)["bank_txn_no"]).toBeUndefined();
  });

  it("reports what the bank moved, not what we asked; an answer without it or about another request is unknown", async () => {
    expect(
      await mk(answerFetch(200, signedJson(opAnswer({ op_amount: "4.99" })))).operate(operationRequest()),
    ).toMatchObject({ status: "succeeded", amount: 499 });
    const { op_amount: _a, ...noAmount } = opAnswer();
    expect((await mk(answerFetch(200, signedJson(noAmount))).operate(operationRequest())).status).toBe("unknown");
    const { op_currency: _c, ...noCurrency } = opAnswer();
    expect((await mk(answerFetch(200, signedJson(noCurrency))).operate(operationRequest())).status).toBe("unknown");
    expect(
      (await mk(answerFetch(200, signedJson(opAnswer({ request_no: "re_other" })))).operate(operationRequest())).status,
    ).toBe("unknown");
    expect(
      (await mk(answerFetch(200, signedJson(opAnswer({ op_type: "CANCEL" })))).operate(operationRequest())).status,
    ).toBe("unknown");
    expect(
      await mk(answerFetch(200, signedJson(opAnswer({ op_state: "PROCESSING" })))).operate(operationRequest()),
    ).toEqual({ status: "pending", channelOpId: "R1" });
    expect(
      await mk(
        answerFetch(200, signedJson(opAnswer({ op_state: "FAILED", op_err_code: "E1001", op_err_msg: "declined" }))),
      ).operate(operationRequest()),
    ).toEqual({ status: "failed", code: "channel_rejected", message: "E1001: declined" });
  });

  it("maps every refusal code precisely; a conflict on our request number is unknown", async () => {
    const cases: [string, string][] = [
      ["4001", "flow_not_supported"],
      ["4002", "invalid_state"],
      ["4003", "cancel_window_closed"],
      ["4004", "not_settled"],
      ["4005", "refund_window_closed"],
      ["4006", "refund_limit_reached"],
      ["4007", "amount_exceeds_refundable"],
      ["4008", "amount_exceeds_authorized"],
      ["4009", "authorization_expired"],
      ["2001", "channel_rejected"],
      ["2002", "channel_rejected"],
      ["3004", "channel_rejected"],
      ["9999", "channel_unavailable"],
    ];
    for (const [rsp, code] of cases) {
      const out = await mk(answerFetch(200, signedJson({ rsp_code: rsp, rsp_msg: "no" }))).operate(operationRequest());
      expect(out, rsp).toEqual({ status: "failed", code, message: `${rsp}: no` });
    }
    expect((await mk(answerFetch(200, signedJson({ rsp_code: "3001" }))).operate(operationRequest())).status).toBe(
      "unknown",
    );
    expect((await mk(answerFetch(200, signedJson({ rsp_code: "8888" }))).operate(operationRequest())).status).toBe(
      "unknown",
    );
  });

  it("transport: refused and a signed busy are channel_unavailable; timeout, reset, 5xx, garbled, unsigned are unknown", async () => {
    const req = operationRequest();
    await expectOperationTransport((f) => mk(f).operate(req), {
      busy: answerFetch(503, signedJson({ rsp_code: "9999", rsp_msg: "busy" })),
      lost: [
        answerFetch(500, "oops"),
        answerFetch(502, signedJson(opAnswer())),
        answerFetch(200, "{not json"),
        answerFetch(200, JSON.stringify({ ...opAnswer(), sign: "FORGED" })),
        answerFetch(200, JSON.stringify(opAnswer())),
        answerFetch(200, signedJson({ ...opAnswer(), op_state: "DONE" })),
      ],
    });
  });

  it("queries an operation by its type and our request number; not found, busy and garbled answers", async () => {
    const f = answerFetch(200, signedJson(opAnswer({ op_type: "CAPTURE", request_no: "cap_1", op_amount: "10.00" })));
    expect(await mk(f).queryOperation(operationRequest({ kind: "capture", operationId: "cap_1" }))).toEqual({
      status: "succeeded",
      channelOpId: "R1",
      amount: 1000,
      currency: "CNY",
    });
    expect(f.calls[0]?.url).toBe("http://channel.test/bank/gateway/operation/query");
    expect(sentForm(f)).toMatchObject({ merchant_no: merchantNo, op_type: "CAPTURE", request_no: "cap_1" });
    expect(
      await mk(answerFetch(200, signedJson({ rsp_code: "3004", rsp_msg: "no such request" }))).queryOperation(
        operationRequest(),
      ),
    ).toEqual({ status: "not_found" });
    expect(
      await mk(answerFetch(200, signedJson(opAnswer({ op_state: "FAILED", op_err_code: "4007" })))).queryOperation(
        operationRequest(),
      ),
    ).toMatchObject({ status: "failed", code: "amount_exceeds_refundable" });
    // A query the bank refused, or that went wrong, tells nothing: never failed.
    for (const fetch of [
      answerFetch(503, signedJson({ rsp_code: "9999" })),
      answerFetch(200, signedJson({ rsp_code: "2001" })),
      refusedFetch,
      timeoutFetch,
      answerFetch(500, "x"),
      answerFetch(200, JSON.stringify(opAnswer())),
    ])
      expect((await mk(fetch).queryOperation(operationRequest())).status).toBe("unknown");
  });
});
