import { Hono, type Context } from "hono";
import { ALIPAY_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import { fromDecimalString, money, toDecimalString } from "@pps/money";
import type { AppEnv } from "@pps/runtime";
import { canonicalJson, sign } from "@pps/signing";
import type { SimDeps } from "../sim/deps.ts";
import { handleOperation, handleOperationQuery, type OperationQuery } from "../sim/operations.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountScan } from "../sim/payer-scan.ts";
import { randomDigits } from "./ids.ts";
import type {
  Charge,
  ChannelProtocol,
  Rejection,
  RejectionKind,
  SimOperation,
  SimOperationRequest,
  SimPayRequest,
} from "./protocol.ts";

/**
 * alipay: an Alipay open-platform-like gateway at /alipay/gateway.do. Form-encoded common parameters with
 * JSON `biz_content`, RSA2 (RSA-SHA256) `sign`; answers `{ "<method>_response": {…}, "sign" }`; async
 * notifications form-encoded and RSA2-signed. Platform pay by QR code or app hand-off.
 *
 * Pre-authorization is a fund authorization: voucher.create gives the payer a QR code to freeze the amount
 * (auth_no = the transaction id), alipay.trade.pay with auth_no turns it into a trade (the capture, under
 * the order's out_trade_no; the rest unfrozen), alipay.fund.auth.order.unfreeze releases it (the void),
 * alipay.fund.auth.operation.detail.query tells about the freeze or an unfreeze. Refunds
 * (alipay.trade.refund, each with its out_request_no) answer at once; trade.fastpay.refund.query tells.
 * Where real Alipay gives the trade made from a freeze a trade_no of its own, the simulator's is the
 * transaction id (one book entry is both).
 */
const PRECREATE = "alipay.trade.precreate";
const QUERY = "alipay.trade.query";
const FREEZE = "alipay.fund.auth.order.voucher.create";
const TRADE_PAY = "alipay.trade.pay";
const UNFREEZE = "alipay.fund.auth.order.unfreeze";
const AUTH_QUERY = "alipay.fund.auth.operation.detail.query";
const REFUND = "alipay.trade.refund";
const REFUND_QUERY = "alipay.trade.fastpay.refund.query";

/** The fund-authorization methods answer with their own codes (no ACQ. prefix). */
const FUND_AUTH_METHODS = new Set([UNFREEZE, AUTH_QUERY]);

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

function tradeStatus(charge: Pick<Charge, "status" | "capturedAmount" | "refundedAmount">): string {
  switch (charge.status) {
    case "succeeded":
      // Alipay closes a trade once it is refunded in full.
      return charge.capturedAmount > 0 && charge.refundedAmount >= charge.capturedAmount
        ? "TRADE_CLOSED"
        : "TRADE_SUCCESS";
    case "failed":
    case "closed":
    case "voided":
    case "canceled":
      return "TRADE_CLOSED";
    default:
      return "WAIT_BUYER_PAY";
  }
}

/** A manual charge is a fund authorization; it is a trade only once captured. */
const isTrade = (charge: Charge) => charge.captureMode !== "manual" || charge.status === "succeeded";

/** The freeze's own status, and the authorization order's. */
function freezeStatus(charge: Pick<Charge, "status">): [string, string] {
  switch (charge.status) {
    case "awaiting_payer":
    case "paying":
      return ["INIT", "INIT"];
    case "authorized":
      return ["SUCCESS", "AUTHORIZED"];
    case "succeeded":
      return ["SUCCESS", "FINISH"];
    case "voided":
      return ["SUCCESS", "CLOSED"];
    default:
      // The payer never froze it (gave up, or the voucher expired).
      return ["CLOSED", "CLOSED"];
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
  // Operations. Not signed up for a product is 40006; the ACQ.* codes are Alipay's where it has one
  // (退款金额超限, 交易已完结 past the refund period, 交易状态不合法), the simulator's otherwise.
  flow_not_supported: ["40006", "isv.insufficient-isv-permissions"],
  amount_exceeds_refundable: ["40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL"],
  refund_window_closed: ["40004", "ACQ.TRADE_HAS_FINISHED"],
  invalid_state: ["40004", "ACQ.TRADE_STATUS_ERROR"],
  amount_exceeds_authorized: ["40004", "ACQ.AUTH_AMOUNT_NOT_ENOUGH"],
  authorization_expired: ["40004", "ACQ.AUTH_ORDER_EXPIRED"],
  refund_limit_reached: ["40004", "ACQ.REFUND_TIMES_LIMIT"],
  not_settled: ["40004", "ACQ.TRADE_NOT_SETTLED"],
  cancel_window_closed: ["40004", "ACQ.TRADE_NOT_ALLOW_CANCEL"],
};

/** The fund-authorization methods' codes where they differ. */
const FUND_AUTH_SUB: Partial<Record<RejectionKind, [string, string]>> = {
  not_found: ["40004", "AUTH_ORDER_NOT_EXIST"],
  flow_not_supported: ["40004", "ACCESS_FORBIDDEN"],
  amount_exceeds_authorized: ["40004", "REQUEST_AMOUNT_EXCEED"],
  authorization_expired: ["40004", "AUTH_ORDER_EXPIRED"],
  invalid_state: ["40004", "ORDER_ALREADY_CLOSED"],
  order_conflict: ["40004", "DISCORDANT_REPEAT_REQUEST"],
};

/** A refusal's code for the method asked (and what was asked of it). */
function subOf(method: string | undefined, asked: string, kind: RejectionKind): [string, string] {
  if (method === AUTH_QUERY && kind === "not_found" && asked === "query_operation")
    return ["40004", "AUTH_OPERATION_NOT_EXIST"];
  if (method && FUND_AUTH_METHODS.has(method)) return FUND_AUTH_SUB[kind] ?? SUB[kind];
  if (method === REFUND && kind === "order_conflict") return ["40004", "ACQ.DISCORDANT_REPEAT_REQUEST"];
  return SUB[kind];
}

/** An operation the channel recorded as failed: a rule's refusal, or its own decline of that method. */
function operationFailure(method: string | undefined, op: SimOperation): [string, string] {
  if (op.failureReason && op.failureReason in SUB) return subOf(method, op.kind, op.failureReason as RejectionKind);
  switch (method) {
    case REFUND:
      return ["40004", "ACQ.SELLER_BALANCE_NOT_ENOUGH"];
    case UNFREEZE:
      return ["40004", "UNFREEZE_FAILED"];
    default:
      return ["40004", "ACQ.PAYMENT_FAIL"];
  }
}

const OP_STATUS: Record<string, string> = { processing: "INIT", succeeded: "SUCCESS", failed: "CLOSED" };

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
  const yuan = (amount: number, currency: string) => toDecimalString(money(amount, currency));
  const time = (d: Date | null) => (d ? wire.toChinaDateTime(d) : null);
  const tradeFields = (charge: Charge) => {
    const manual = charge.captureMode === "manual";
    const closed = charge.status === "failed" || charge.status === "closed";
    return {
      out_trade_no: charge.merchantRef,
      trade_no: charge.id,
      trade_status: tradeStatus(charge),
      // A capture's trade is for what was captured.
      total_amount: yuan(manual ? charge.capturedAmount : charge.amount, charge.currency),
      trans_currency: charge.currency,
      close_reason: closed ? closeReason(charge) : null,
      send_pay_date: time(manual ? charge.capturedAt : charge.paidAt),
    };
  };
  /** Why a freeze that had succeeded was released with nothing paid. */
  const releaseReason = (charge: Charge) => (charge.failureReason === "expired" ? "EXPIRED" : "UNFROZEN");
  const freezeFields = (charge: Charge) => {
    const [status, orderStatus] = freezeStatus(charge);
    const frozen = status === "SUCCESS";
    const released =
      charge.status === "voided" ? charge.authorizedAmount : charge.authorizedAmount - charge.capturedAmount;
    return {
      auth_no: charge.id,
      out_order_no: charge.merchantRef,
      operation_id: `${charge.id}01`,
      out_request_no: charge.merchantRef,
      operation_type: "FREEZE",
      amount: yuan(charge.amount, charge.currency),
      status,
      order_status: orderStatus,
      total_freeze_amount: frozen ? yuan(charge.authorizedAmount, charge.currency) : null,
      rest_amount: yuan(charge.status === "authorized" ? charge.authorizedAmount : 0, charge.currency),
      total_pay_amount: yuan(charge.capturedAmount, charge.currency),
      total_unfreeze_amount: frozen && charge.status !== "authorized" ? yuan(released, charge.currency) : null,
      trans_currency: charge.currency,
      gmt_create: time(charge.createdAt),
      gmt_trans: frozen ? time(charge.paidAt) : null,
      close_reason:
        status === "CLOSED" ? closeReason(charge) : charge.status === "voided" ? releaseReason(charge) : null,
    };
  };
  const notification = (params: Record<string, string | null | undefined>) => {
    const clean = Object.fromEntries(
      Object.entries(params).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
    );
    return {
      contentType: "application/x-www-form-urlencoded; charset=utf-8",
      headers: {},
      body: new URLSearchParams(wire.alipaySignParams(clean, keys.channelSigningKey)).toString(),
    };
  };
  const notifyHead = (notificationId: string, type: string, charge: Charge) => ({
    notify_time: wire.toChinaDateTime(new Date()),
    notify_type: type,
    notify_id: notificationId,
    app_id: charge.merchantId,
    charset: "utf-8",
    version: "1.0",
  });
  const tradeNotFound = (c: Context) =>
    answer(c, { code: "40004", msg: "Business Failed", sub_code: "ACQ.TRADE_NOT_EXIST", sub_msg: "no such trade" });
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
      const method = methodOf(c);
      const waiting = charge.status === "awaiting_payer";
      if (method === FREEZE || method === AUTH_QUERY) {
        if (charge.captureMode !== "manual")
          return answer(c, { code: "40004", msg: "Business Failed", sub_code: "AUTH_ORDER_NOT_EXIST" });
        const fields = freezeFields(charge);
        if (op === "pay" && charge.status === "failed")
          return answer(c, { code: "40004", msg: "Business Failed", sub_code: closeReason(charge), ...fields });
        return answer(c, {
          code: "10000",
          msg: "Success",
          ...fields,
          code_type: waiting && method === FREEZE ? "qrCode" : null,
          code_value: waiting && method === FREEZE ? `https://qr.alipay.com/fa${charge.id}` : null,
          sim_scan_url: waiting ? `${origin}/alipay/sim/scan/${charge.id}` : null,
        });
      }
      // A freeze not (yet) paid from is no trade.
      if (!isTrade(charge)) return tradeNotFound(c);
      const fields = tradeFields(charge);
      if (op === "pay" && charge.status === "failed") {
        return answer(c, {
          code: "40004",
          msg: "Business Failed",
          sub_code: closeReason(charge),
          sub_msg: "payment failed",
          ...fields,
        });
      }
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
    renderRejection({ c, op }, r) {
      const method = methodOf(c);
      // A refund query that finds no refund answers 10000 with none in it.
      if (method === REFUND_QUERY && op === "query_operation" && r.kind === "not_found")
        return answer(c, { code: "10000", msg: "Success" });
      const [code, sub] = subOf(method, op, r.kind);
      return answer(c, {
        code,
        msg: code === "40002" ? "Invalid Arguments" : code === "40006" ? "Insufficient Permissions" : "Business Failed",
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
      if (charge.captureMode === "manual") {
        return notification({
          ...notifyHead(notificationId, "fund_auth_freeze", charge),
          ...freezeFields(charge),
          gmt_trans: charge.paidAt ? wire.toChinaDateTime(charge.paidAt) : null,
        });
      }
      return notification({
        ...notifyHead(notificationId, "trade_status_sync", charge),
        ...tradeFields(charge),
        gmt_payment: charge.paidAt ? wire.toChinaDateTime(charge.paidAt) : null,
        gmt_close: charge.closedAt
          ? wire.toChinaDateTime(charge.closedAt)
          : charge.status === "succeeded"
            ? null
            : wire.toChinaDateTime(at),
        passback_params: charge.passthrough,
      });
    },
    ackAccepted: (status, body) => status >= 200 && status < 300 && body.trim() === "success",
    renderOperation({ c, created }, op, charge) {
      const method = methodOf(c);
      const opStatus = OP_STATUS[op.status] ?? "INIT";
      if (op.status === "failed" && method !== AUTH_QUERY && method !== REFUND_QUERY) {
        const [code, sub] = operationFailure(method, op);
        return answer(c, { code, msg: "Business Failed", sub_code: sub, sub_msg: op.failureReason ?? "failed" });
      }
      switch (method) {
        case TRADE_PAY:
          return answer(c, {
            code: "10000",
            msg: "Success",
            trade_no: charge.id,
            out_trade_no: charge.merchantRef,
            auth_no: charge.id,
            total_amount: yuan(op.amount, op.currency),
            trans_currency: op.currency,
            gmt_payment: time(op.completedAt),
          });
        case UNFREEZE:
        case AUTH_QUERY: {
          const freeze = freezeFields(charge);
          return answer(c, {
            code: "10000",
            msg: "Success",
            auth_no: charge.id,
            out_order_no: charge.merchantRef,
            ...(method === AUTH_QUERY
              ? {
                  order_status: freeze.order_status,
                  total_freeze_amount: freeze.total_freeze_amount,
                  rest_amount: freeze.rest_amount,
                  total_pay_amount: freeze.total_pay_amount,
                  operation_type: "UNFREEZE",
                  gmt_create: time(op.createdAt),
                }
              : {}),
            operation_id: op.id,
            out_request_no: op.merchantRef,
            amount: yuan(op.amount, op.currency),
            status: opStatus,
            trans_currency: op.currency,
            gmt_trans: time(op.completedAt),
          });
        }
        case REFUND:
          return answer(c, {
            code: "10000",
            msg: "Success",
            trade_no: charge.id,
            out_trade_no: charge.merchantRef,
            buyer_logon_id: "sim***@alipay.test",
            // Y: this request moved the money; a repeat of a done refund moves nothing.
            fund_change: created && op.status === "succeeded" ? "Y" : "N",
            refund_fee: yuan(charge.refundedAmount, charge.currency),
            send_back_fee: yuan(op.amount, op.currency),
            trans_currency: op.currency,
            gmt_refund_pay: time(op.completedAt),
          });
        case REFUND_QUERY:
          return answer(c, {
            code: "10000",
            msg: "Success",
            trade_no: charge.id,
            out_trade_no: charge.merchantRef,
            out_request_no: op.merchantRef,
            total_amount: yuan(charge.capturedAmount, charge.currency),
            trans_currency: op.currency,
            // No refund_status: Alipay's word for "no refund done under this number".
            ...(op.status === "failed"
              ? {}
              : {
                  refund_amount: yuan(op.amount, op.currency),
                  refund_status: op.status === "succeeded" ? "REFUND_SUCCESS" : "REFUND_PROCESSING",
                  gmt_refund_pay: time(op.completedAt),
                }),
          });
        default:
          return answer(c, { code: "40002", msg: "Invalid Arguments", sub_code: "isv.invalid-method" });
      }
    },
    renderOperationCallback(op, charge, notificationId, at) {
      // Alipay answers operations at once; these notices repeat the result where the merchant gave a notify_url.
      if (op.kind === "void") {
        return notification({
          ...notifyHead(notificationId, "fund_auth_unfreeze", charge),
          auth_no: charge.id,
          out_order_no: charge.merchantRef,
          operation_id: op.id,
          out_request_no: op.merchantRef,
          operation_type: "UNFREEZE",
          amount: yuan(op.amount, op.currency),
          status: OP_STATUS[op.status] ?? "INIT",
          trans_currency: op.currency,
          gmt_create: time(op.createdAt),
          gmt_trans: time(op.completedAt ?? at),
        });
      }
      return notification({
        ...notifyHead(notificationId, "trade_status_sync", charge),
        ...tradeFields(charge),
        gmt_payment: time(charge.paidAt),
        // After a refund: its request number, the trade's refunded total, this refund's amount.
        ...(op.kind === "refund" && op.status === "succeeded"
          ? {
              out_biz_no: op.merchantRef,
              refund_fee: yuan(charge.refundedAmount, charge.currency),
              send_back_fee: yuan(op.amount, op.currency),
              gmt_refund: time(op.completedAt ?? at),
            }
          : {}),
      });
    },
  };
}

type Biz = Record<string, unknown>;
const str = (biz: Biz, k: string) => (typeof biz[k] === "string" && biz[k] !== "" ? (biz[k] as string) : null);
const invalid = (message: string) => ({ ok: false as const, rejection: { kind: "invalid_request" as const, message } });

/** Yuan as Alipay writes them, to minor units; null when it is not an amount of the currency. */
function minorUnits(value: string | null, currency: string): number | null {
  if (!value) return null;
  try {
    return fromDecimalString(value, currency).amount;
  } catch {
    return null;
  }
}

function parsePrecreate(f: Record<string, string>, biz: Biz): Parsed<SimPayRequest> {
  const outTradeNo = str(biz, "out_trade_no");
  const total = str(biz, "total_amount");
  if (!outTradeNo || !total || !f["notify_url"])
    return invalid("out_trade_no, total_amount and notify_url are required");
  const currency = str(biz, "trans_currency") ?? "CNY";
  const amount = minorUnits(total, currency);
  if (amount === null)
    return {
      ok: false,
      rejection: {
        kind: currency === "CNY" ? "invalid_request" : "currency_not_supported",
        message: "bad total_amount or trans_currency",
      },
    };
  const expire = str(biz, "time_expire");
  return {
    ok: true,
    value: {
      merchantId: f["app_id"]!,
      merchantRef: outTradeNo,
      product: "platform_pay",
      amount,
      currency,
      subject: str(biz, "subject") ?? "",
      bankCode: null,
      flow: str(biz, "product_code") === "QUICK_MSECURITY_PAY" ? "deeplink" : "qr_code",
      payerPhone: null,
      callbackUrl: f["notify_url"]!,
      returnUrl: f["return_url"] ?? null,
      passthrough: str(biz, "passback_params"),
      expiresAt: (expire && wire.fromChinaTime(expire)) || new Date(Date.now() + 2 * 3_600_000),
      extra: { product_code: str(biz, "product_code") ?? "" },
      captureMode: "auto",
    },
  };
}

const TIMEOUT_UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A fund-authorization voucher: the payer scans it to freeze the amount (a manual-capture payment). */
function parseFreeze(f: Record<string, string>, biz: Biz): Parsed<SimPayRequest> {
  const outOrderNo = str(biz, "out_order_no");
  const total = str(biz, "amount");
  if (!outOrderNo || !str(biz, "out_request_no") || !total || !f["notify_url"])
    return invalid("out_order_no, out_request_no, amount and notify_url are required");
  const currency = str(biz, "trans_currency") ?? "CNY";
  const amount = minorUnits(total, currency);
  if (amount === null)
    return {
      ok: false,
      rejection: {
        kind: currency === "CNY" ? "invalid_request" : "currency_not_supported",
        message: "bad amount or trans_currency",
      },
    };
  const timeout = /^(\d+)([mhd])$/.exec(str(biz, "timeout_express") ?? "");
  let passthrough: string | null = null;
  try {
    const extra: unknown = JSON.parse(str(biz, "extra_param") ?? "{}");
    if (typeof extra === "object" && extra !== null) passthrough = str(extra as Biz, "passback_params");
  } catch {
    return invalid("extra_param must be JSON");
  }
  return {
    ok: true,
    value: {
      merchantId: f["app_id"]!,
      merchantRef: outOrderNo,
      product: "platform_pay",
      amount,
      currency,
      subject: str(biz, "order_title") ?? "",
      bankCode: null,
      flow: "qr_code",
      payerPhone: null,
      callbackUrl: f["notify_url"]!,
      returnUrl: null,
      passthrough,
      expiresAt: new Date(Date.now() + (timeout ? Number(timeout[1]) * TIMEOUT_UNIT_MS[timeout[2]!]! : 2 * 3_600_000)),
      extra: { product_code: str(biz, "product_code") ?? "PRE_AUTH" },
      captureMode: "manual",
    },
  };
}

/** 解冻转支付: a trade paid from the freeze named by auth_no, the rest unfrozen (COMPLETE). */
function parseCapture(f: Record<string, string>, biz: Biz): Parsed<SimOperationRequest> {
  const outTradeNo = str(biz, "out_trade_no");
  const authNo = str(biz, "auth_no");
  const total = str(biz, "total_amount");
  if (!outTradeNo || !authNo || !total) return invalid("out_trade_no, auth_no and total_amount are required");
  // The simulator takes no barcode payments: alipay.trade.pay here pays from a freeze only.
  if (str(biz, "product_code") !== "PREAUTH_PAY") return invalid("product_code must be PREAUTH_PAY");
  if ((str(biz, "auth_confirm_mode") ?? "COMPLETE") !== "COMPLETE")
    return invalid("auth_confirm_mode COMPLETE only: the rest is unfrozen");
  const currency = str(biz, "trans_currency") ?? "CNY";
  const amount = minorUnits(total, currency);
  if (amount === null) return invalid("bad total_amount or trans_currency");
  return {
    ok: true,
    value: {
      kind: "capture",
      merchantId: f["app_id"]!,
      charge: { txnId: authNo, merchantRef: null },
      merchantRef: outTradeNo,
      amount,
      currency,
      callbackUrl: f["notify_url"] || null,
      reason: str(biz, "subject"),
    },
  };
}

function parseUnfreeze(f: Record<string, string>, biz: Biz): Parsed<SimOperationRequest> {
  const authNo = str(biz, "auth_no");
  const requestNo = str(biz, "out_request_no");
  const total = str(biz, "amount");
  if (!authNo || !requestNo || !total) return invalid("auth_no, out_request_no and amount are required");
  const amount = minorUnits(total, "CNY");
  if (amount === null) return invalid("bad amount");
  return {
    ok: true,
    value: {
      kind: "void",
      merchantId: f["app_id"]!,
      charge: { txnId: authNo, merchantRef: null },
      merchantRef: requestNo,
      amount,
      currency: null,
      callbackUrl: f["notify_url"] || null,
      reason: str(biz, "remark"),
    },
  };
}

function parseRefund(f: Record<string, string>, biz: Biz): Parsed<SimOperationRequest> {
  const outTradeNo = str(biz, "out_trade_no");
  const tradeNo = str(biz, "trade_no");
  const total = str(biz, "refund_amount");
  if ((!outTradeNo && !tradeNo) || !total) return invalid("out_trade_no or trade_no, and refund_amount are required");
  const amount = minorUnits(total, "CNY");
  if (amount === null) return invalid("bad refund_amount");
  return {
    ok: true,
    value: {
      kind: "refund",
      merchantId: f["app_id"]!,
      charge: { merchantRef: outTradeNo, txnId: tradeNo },
      // Without out_request_no Alipay takes the refund as the trade's one, full-number refund.
      merchantRef: str(biz, "out_request_no") ?? (outTradeNo || tradeNo)!,
      amount,
      currency: null,
      callbackUrl: f["notify_url"] || null,
      reason: str(biz, "refund_reason"),
    },
  };
}

function parseRefundQuery(f: Record<string, string>, biz: Biz): Parsed<OperationQuery> {
  const requestNo = str(biz, "out_request_no");
  if (!requestNo) return invalid("out_request_no is required");
  return { ok: true, value: { merchantId: f["app_id"]!, kind: "refund", merchantRef: requestNo } };
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
    let biz: Biz = {};
    try {
      const parsed: unknown = JSON.parse(f["biz_content"] ?? "{}");
      if (typeof parsed === "object" && parsed !== null) biz = parsed as Biz;
    } catch {
      // Left empty: the required-field checks below reject it.
    }
    switch (method) {
      case PRECREATE:
        return handlePay(c, deps, proto, check ? reject(check) : parsePrecreate(f, biz));
      case FREEZE:
        return handlePay(c, deps, proto, check ? reject(check) : parseFreeze(f, biz));
      case QUERY: {
        const ref = { merchantRef: str(biz, "out_trade_no"), txnId: str(biz, "trade_no") };
        return handleQuery(
          c,
          deps,
          proto,
          check ? reject(check) : { ok: true, value: { merchantId: f["app_id"]!, ref } },
        );
      }
      case TRADE_PAY:
        return handleOperation(c, deps, proto, check ? reject(check) : parseCapture(f, biz), "capture");
      case UNFREEZE:
        return handleOperation(c, deps, proto, check ? reject(check) : parseUnfreeze(f, biz), "void");
      case REFUND:
        return handleOperation(c, deps, proto, check ? reject(check) : parseRefund(f, biz), "refund");
      case REFUND_QUERY:
        return handleOperationQuery(c, deps, proto, check ? reject(check) : parseRefundQuery(f, biz));
      case AUTH_QUERY: {
        // The freeze itself is the payment (its query); an unfreeze is a void.
        const type = str(biz, "operation_type") ?? "FREEZE";
        if (type === "UNFREEZE") {
          const requestNo = str(biz, "out_request_no");
          const opId = str(biz, "operation_id");
          return handleOperationQuery(
            c,
            deps,
            proto,
            check
              ? reject(check)
              : !requestNo && !opId
                ? invalid("out_request_no or operation_id is required")
                : { ok: true, value: { merchantId: f["app_id"]!, kind: "void", merchantRef: requestNo, opId } },
          );
        }
        const ref = { merchantRef: str(biz, "out_order_no"), txnId: str(biz, "auth_no") };
        return handleQuery(
          c,
          deps,
          proto,
          check
            ? reject(check)
            : type !== "FREEZE"
              ? invalid(`operation_type ${type} is not queried here`)
              : { ok: true, value: { merchantId: f["app_id"]!, ref } },
        );
      }
      default:
        return handleQuery(
          c,
          deps,
          proto,
          reject({ kind: "invalid_request", message: `unknown method ${method ?? "(none)"}` }),
        );
    }
  });
  mountScan(app, deps, proto);
  return app;
}
