import { describe, expect, it } from "vitest";
import { DEV_CHANNEL_KEYS } from "../dev-keys.ts";
import type { FetchLike } from "../shared/http.ts";
import {
  answerFetch,
  devEndpoint,
  payRequest,
  refusedFetch,
  resetFetch,
  timeoutFetch,
} from "../shared/test-fixtures.ts";
import { createBankDirectAdapter } from "./index.ts";
import { signBankParams, type BankAnswer } from "./client.ts";
import { bankPayOutcome, bankQueryOutcome, toBankPayParams } from "./transformers.ts";

const key = DEV_CHANNEL_KEYS.bank_direct.channelSigningKey;
const answer = (fields: Record<string, string>): BankAnswer => ({ sign: "x", ...fields }) as BankAnswer;

function notification(over: Record<string, string> = {}): string {
  const fields = {
    merchant_no: DEV_CHANNEL_KEYS.bank_direct.merchantId,
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

describe("bank_direct transformers", () => {
  it("builds form params with decimal yuan, our attempt as order_no and the metadata as attach", () => {
    const p = toBankPayParams(payRequest(), devEndpoint("bank_direct"), new Date("2024-03-01T16:30:05Z"));
    expect(p).toMatchObject({
      order_no: "att_1",
      amount: "12.34",
      currency: "CNY",
      bank_code: "CMB",
      timestamp: "20240302003005",
    });
    expect(new URLSearchParams(p["attach"]).get("sim_fault")).toBe("decline");
  });

  it("maps every trade_state", () => {
    const base = { rsp_code: "0000", bank_txn_no: "B1" };
    expect(bankPayOutcome(answer({ ...base, trade_state: "PROCESSING", pay_url: "https://bank/p" }))).toEqual({
      status: "requires_action",
      channelTxnId: "B1",
      action: { type: "redirect", url: "https://bank/p" },
    });
    expect(bankPayOutcome(answer({ ...base, trade_state: "PROCESSING" })).status).toBe("pending");
    expect(bankPayOutcome(answer({ ...base, trade_state: "PAYING" })).status).toBe("pending");
    expect(bankPayOutcome(answer({ ...base, trade_state: "SUCCESS" }))).toEqual({
      status: "succeeded",
      channelTxnId: "B1",
      settlement: null,
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
  });

  it("maps request-level answers: rejected → failed, busy → channel_unavailable, conflict and unknown codes → unknown", () => {
    expect(bankPayOutcome(answer({ rsp_code: "2003", rsp_msg: "bank" }))).toMatchObject({
      status: "failed",
      code: "bank_not_supported",
    });
    expect(bankPayOutcome(answer({ rsp_code: "2002" }))).toMatchObject({ status: "failed", code: "channel_rejected" });
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

  it("maps transport failures: refused → channel_unavailable; timeout, reset, 5xx, unsigned → unknown", async () => {
    const mk = (fetch: FetchLike) => createBankDirectAdapter(devEndpoint("bank_direct"), { fetch });
    expect(await mk(refusedFetch).pay(payRequest())).toMatchObject({ status: "failed", code: "channel_unavailable" });
    expect(await mk(refusedFetch).query({ attemptId: "att_1", channelTxnId: null })).toMatchObject({
      status: "unknown",
    });
    expect(await mk(timeoutFetch).pay(payRequest())).toMatchObject({ status: "unknown" });
    expect(await mk(resetFetch).pay(payRequest())).toMatchObject({ status: "unknown" });
    expect(await mk(answerFetch(500, "oops")).pay(payRequest())).toMatchObject({ status: "unknown" });
    const signedBusy = JSON.stringify(signBankParams({ rsp_code: "9999", rsp_msg: "busy" }, key));
    expect(await mk(answerFetch(503, signedBusy)).pay(payRequest())).toMatchObject({
      status: "failed",
      code: "channel_unavailable",
    });
    expect(
      await mk(answerFetch(503, JSON.stringify({ rsp_code: "9999", sign: "forged" }))).pay(payRequest()),
    ).toMatchObject({ status: "unknown" });
    expect(
      await mk(answerFetch(200, JSON.stringify({ rsp_code: "0000", trade_state: "SUCCESS", bank_txn_no: "B1" }))).pay(
        payRequest(),
      ),
    ).toMatchObject({ status: "unknown" });
    const signedOk = JSON.stringify(
      signBankParams({ rsp_code: "0000", trade_state: "SUCCESS", bank_txn_no: "B1", extra_field: "x" }, key),
    );
    const f = answerFetch(200, signedOk);
    expect(await mk(f).pay(payRequest())).toEqual({ status: "succeeded", channelTxnId: "B1", settlement: null });
    expect(f.calls[0]?.url).toBe("http://channel.test/bank/gateway/pay");
  });
});
