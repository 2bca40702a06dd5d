import { Hono, type Context } from "hono";
import { ALIPAY_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import { fromDecimalString, money, toDecimalString } from "@pps/money";
import type { AppEnv } from "@pps/runtime";
import { canonicalJson, sign } from "@pps/signing";
import type { SimDeps } from "../sim/deps.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountScan } from "../sim/payer-scan.ts";
import { randomDigits } from "./ids.ts";
import type { Charge, ChannelProtocol, Rejection, RejectionKind, SimPayRequest } from "./protocol.ts";

/**
 * alipay: an Alipay open-platform-like gateway at /alipay/gateway.do. Form-encoded common parameters with
 * JSON `biz_content`, RSA2 (RSA-SHA256) `sign`; answers `{ "<method>_response": {…}, "sign" }`; async
 * notifications form-encoded and RSA2-signed. Platform pay by QR code or app hand-off.
 */
const PRECREATE = "alipay.trade.precreate";
const QUERY = "alipay.trade.query";

function closeReason(charge: Pick<Charge, "failureReason">): string {
  switch (charge.failureReason) {
    case "insufficient_funds":
      return "ACQ.BUYER_BALANCE_NOT_ENOUGH";
    case "declined":
    case "verification_failed":
      return "ACQ.PAYMENT_FAIL";
    case "payer_canceled":
      return "USER_CANCELED";
    default:
      return "EXPIRED";
  }
}

function tradeStatus(charge: Pick<Charge, "status">): string {
  switch (charge.status) {
    case "succeeded":
      return "TRADE_SUCCESS";
    case "failed":
    case "closed":
      return "TRADE_CLOSED";
    default:
      return "WAIT_BUYER_PAY";
  }
}

const SUB: Record<RejectionKind, [string, string]> = {
  invalid_request: ["40002", "isv.invalid-parameter"],
  signature_invalid: ["40002", "isv.invalid-signature"],
  unknown_merchant: ["40002", "isv.invalid-app-id"],
  amount_limit_exceeded: ["40004", "ACQ.INVALID_PARAMETER"],
  invalid_phone: ["40004", "ACQ.INVALID_PARAMETER"],
  bank_not_supported: ["40004", "ACQ.INVALID_PARAMETER"],
  currency_not_supported: ["40004", "ACQ.CURRENCY_NOT_SUPPORT"],
  order_conflict: ["40004", "ACQ.CONTEXT_INCONSISTENT"],
  not_found: ["40004", "ACQ.TRADE_NOT_EXIST"],
};

/** The answer's key names the method asked for, so the renderers need the request's method. */
const methodByRequest = new WeakMap<Request, string>();

export function createAlipayProtocol(keys: DevChannelKeys): ChannelProtocol {
  const methodOf = (c: Context) => methodByRequest.get(c.req.raw);
  const answer = (c: Context, response: Record<string, string | null | undefined>, status: 200 | 503 = 200) => {
    const clean = Object.fromEntries(
      Object.entries(response).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
    );
    const key = methodOf(c) ? wire.alipayResponseKey(methodOf(c)!) : "error_response";
    return c.json({ [key]: clean, sign: sign("RSA_SHA256", canonicalJson(clean), keys.channelSigningKey) }, status);
  };
  const stateFields = (charge: Charge) => ({
    out_trade_no: charge.merchantRef,
    trade_no: charge.id,
    trade_status: tradeStatus(charge),
    total_amount: toDecimalString(money(charge.amount, charge.currency)),
    close_reason: charge.status === "failed" || charge.status === "closed" ? closeReason(charge) : null,
    send_pay_date: charge.paidAt ? wire.toChinaDateTime(charge.paidAt) : null,
  });
  return {
    id: "alipay",
    capabilities: ALIPAY_CAPABILITIES,
    staleStatus: "awaiting_payer",
    newTxnId: () => `${wire.toChinaCompact(new Date()).slice(0, 8)}2200${randomDigits(16)}`,
    validate(req) {
      if (req.product !== "platform_pay")
        return { kind: "invalid_request", message: `product for ${req.product} is not offered` };
      return null;
    },
    renderCharge({ c, origin, op }, charge) {
      const fields = stateFields(charge);
      if (op === "pay" && charge.status === "failed") {
        return answer(c, {
          code: "40004",
          msg: "Business Failed",
          sub_code: closeReason(charge),
          sub_msg: "payment failed",
          ...fields,
        });
      }
      const waiting = charge.status === "awaiting_payer";
      return answer(c, {
        code: "10000",
        msg: "Success",
        ...fields,
        qr_code: waiting ? `https://qr.alipay.com/${charge.id}` : null,
        deeplink:
          waiting && charge.flow === "deeplink"
            ? `alipays://platformapi/startapp?saId=10000007&qrcode=https%3A%2F%2Fqr.alipay.com%2F${charge.id}`
            : null,
        // Not part of the wire: lets a tester reach the wallet stand-in.
        sim_scan_url: waiting ? `${origin}/alipay/sim/scan/${charge.id}` : null,
      });
    },
    renderRejection({ c }, r) {
      const [code, sub] = SUB[r.kind];
      return answer(c, {
        code,
        msg: code === "40002" ? "Invalid Arguments" : "Business Failed",
        sub_code: sub,
        sub_msg: r.message,
      });
    },
    renderBusy({ c }) {
      return answer(
        c,
        { code: "20000", msg: "Service Currently Unavailable", sub_code: "ACQ.SYSTEM_BUSY", sub_msg: "system busy" },
        503,
      );
    },
    renderCallback(charge, notificationId, at) {
      const fields = stateFields(charge);
      const params = Object.fromEntries(
        Object.entries({
          notify_time: wire.toChinaDateTime(new Date()),
          notify_type: "trade_status_sync",
          notify_id: notificationId,
          app_id: charge.merchantId,
          charset: "utf-8",
          version: "1.0",
          ...fields,
          gmt_payment: charge.paidAt ? wire.toChinaDateTime(charge.paidAt) : null,
          gmt_close: charge.closedAt
            ? wire.toChinaDateTime(charge.closedAt)
            : charge.status === "succeeded"
              ? null
              : wire.toChinaDateTime(at),
          passback_params: charge.passthrough,
        }).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
      );
      return {
        contentType: "application/x-www-form-urlencoded; charset=utf-8",
        headers: {},
        body: new URLSearchParams(wire.alipaySignParams(params, keys.channelSigningKey)).toString(),
      };
    },
    ackAccepted: (status, body) => status >= 200 && status < 300 && body.trim() === "success",
  };
}

function parsePrecreate(f: Record<string, string>, biz: Record<string, unknown>): Parsed<SimPayRequest> {
  const str = (k: string) => (typeof biz[k] === "string" ? (biz[k] as string) : null);
  const outTradeNo = str("out_trade_no");
  const total = str("total_amount");
  if (!outTradeNo || !total || !f["notify_url"])
    return {
      ok: false,
      rejection: { kind: "invalid_request", message: "out_trade_no, total_amount and notify_url are required" },
    };
  const currency = str("trans_currency") ?? "CNY";
  let amount: number;
  try {
    amount = fromDecimalString(total, currency).amount;
  } catch {
    return {
      ok: false,
      rejection: {
        kind: currency === "CNY" ? "invalid_request" : "currency_not_supported",
        message: "bad total_amount or trans_currency",
      },
    };
  }
  const expire = str("time_expire");
  return {
    ok: true,
    value: {
      merchantId: f["app_id"]!,
      merchantRef: outTradeNo,
      product: "platform_pay",
      amount,
      currency,
      subject: str("subject") ?? "",
      bankCode: null,
      flow: str("product_code") === "QUICK_MSECURITY_PAY" ? "deeplink" : "qr_code",
      payerPhone: null,
      callbackUrl: f["notify_url"]!,
      returnUrl: f["return_url"] ?? null,
      passthrough: str("passback_params"),
      expiresAt: (expire && wire.fromChinaTime(expire)) || new Date(Date.now() + 2 * 3_600_000),
      extra: { product_code: str("product_code") ?? "" },
    },
  };
}

export function alipayRoutes(deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) {
  const app = new Hono<AppEnv>();
  app.post("/gateway.do", async (c) => {
    const f = Object.fromEntries(new URLSearchParams(await c.req.text()));
    const method = f["method"];
    if (method) methodByRequest.set(c.req.raw, method);
    const reject = (rejection: Rejection) => ({ ok: false as const, rejection });
    const check: Rejection | null = !wire.alipayVerifyParams(f, keys.merchantVerifyKey)
      ? { kind: "signature_invalid", message: "sign verification failed" }
      : f["app_id"] !== keys.merchantId
        ? { kind: "unknown_merchant", message: "invalid app_id" }
        : null;
    let biz: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(f["biz_content"] ?? "{}");
      if (typeof parsed === "object" && parsed !== null) biz = parsed as Record<string, unknown>;
    } catch {
      // Left empty: the required-field checks below reject it.
    }
    if (method === PRECREATE) return handlePay(c, deps, proto, check ? reject(check) : parsePrecreate(f, biz));
    if (method === QUERY) {
      const ref = {
        merchantRef: typeof biz["out_trade_no"] === "string" ? biz["out_trade_no"] : null,
        txnId: typeof biz["trade_no"] === "string" ? biz["trade_no"] : null,
      };
      return handleQuery(
        c,
        deps,
        proto,
        check ? reject(check) : { ok: true, value: { merchantId: f["app_id"]!, ref } },
      );
    }
    return handleQuery(
      c,
      deps,
      proto,
      reject({ kind: "invalid_request", message: `unknown method ${method ?? "(none)"}` }),
    );
  });
  mountScan(app, deps, proto);
  return app;
}
