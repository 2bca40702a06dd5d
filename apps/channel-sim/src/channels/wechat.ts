import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { WECHAT_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import type { AppEnv } from "@pps/runtime";
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
  SimOperationRequest,
  SimOperationStatus,
  SimPayRequest,
} from "./protocol.ts";

/**
 * wechat: a WeChat Pay v2-like platform. Flat XML both ways, `sign` = uppercase HMAC-SHA256 over the sorted
 * fields plus `&key=`. Platform pay by QR code (NATIVE) or app hand-off (APP); the result comes only by
 * notification after the payer acts in the wallet (POST /wechat/sim/scan/{txnId}). No pre-authorization and
 * no cancel: refunds (/secapi/pay/refund) are accepted, then complete by themselves and are told by refund
 * notification and /pay/refundquery.
 */
function tradeState(
  charge: Pick<Charge, "status" | "failureReason" | "refundedAmount">,
): [string, string, string | null] {
  switch (charge.status) {
    case "awaiting_payer":
    case "authorized": // never on this channel: it takes no pre-authorization
      return ["NOTPAY", "not paid", null];
    case "paying":
      return ["USERPAYING", "payer is paying", null];
    case "succeeded":
      // WeChat shows an order with a refund as 转入退款: it was paid all the same.
      return charge.refundedAmount > 0 ? ["REFUND", "refund requested", null] : ["SUCCESS", "paid", null];
    case "voided":
    case "canceled": // never on this channel (no void, no cancel); 已撤销 is the nearest state
      return ["REVOKED", "order revoked", null];
    case "closed":
      return charge.failureReason === "payer_canceled"
        ? ["REVOKED", "payer canceled", "USER_CANCELED"]
        : ["CLOSED", "order closed", "ORDERCLOSED"];
    default:
      return charge.failureReason === "insufficient_funds"
        ? ["PAYERROR", "balance not enough", "NOTENOUGH"]
        : ["PAYERROR", "payment declined", "PAYERROR"];
  }
}

const ERR: Record<RejectionKind, string> = {
  invalid_request: "PARAM_ERROR",
  amount_limit_exceeded: "PARAM_ERROR",
  invalid_phone: "PARAM_ERROR",
  bank_not_supported: "PARAM_ERROR",
  signature_invalid: "SIGNERROR",
  unknown_merchant: "MCHID_NOT_EXIST",
  currency_not_supported: "FEE_TYPE_NOT_SUPPORTED",
  order_conflict: "OUT_TRADE_NO_USED",
  not_found: "ORDERNOTEXIST",
  // Refunds. Real WeChat reports several of these as ERROR with a message; the simulator names the 50-refund
  // limit (REFUND_COUNT_EXCEEDED) so it can be told apart.
  flow_not_supported: "NO_AUTH",
  refund_window_closed: "TRADE_OVERDUE",
  refund_limit_reached: "REFUND_COUNT_EXCEEDED",
  amount_exceeds_refundable: "INVALID_REQUEST",
  invalid_state: "ERROR",
  // The flows WeChat does not offer; the engine refuses them as flow_not_supported before these arise.
  cancel_window_closed: "ERROR",
  not_settled: "ERROR",
  amount_exceeds_authorized: "ERROR",
  authorization_expired: "ERROR",
};

/** Where refunds say it otherwise: a refund for an unknown order, or a refund number reused with other amounts. */
const REFUND_ERR: Partial<Record<RejectionKind, string>> = {
  not_found: "INVALID_TRANSACTIONID",
  order_conflict: "REFUND_FEE_MISMATCH",
};

/** A refund recorded as failed: a rule's refusal by its code, or the channel's own decline (merchant balance). */
function refundFailure(reason: string | null): [string, string] {
  if (reason && reason in ERR) return [REFUND_ERR[reason as RejectionKind] ?? ERR[reason as RejectionKind], reason];
  return ["NOTENOUGH", "refundable balance not enough"];
}

const REFUND_STATUS: Record<SimOperationStatus, string> = {
  processing: "PROCESSING",
  succeeded: "SUCCESS",
  failed: "REFUNDCLOSE",
};

export function createWechatProtocol(keys: DevChannelKeys): ChannelProtocol {
  const xml = (c: Context, fields: Record<string, string | null | undefined>, status: 200 | 503 = 200) => {
    const clean = Object.fromEntries(
      Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
    );
    const withNonce = { ...clean, nonce_str: randomUUID().replaceAll("-", "") };
    const body = wire.toFlatXml({ ...withNonce, sign: wire.wechatSign(withNonce, keys.channelSigningKey) });
    return c.body(body, status, { "content-type": "text/xml; charset=utf-8" });
  };
  const stateFields = (charge: Charge, origin: string) => {
    const [state, desc, errCode] = tradeState(charge);
    return {
      appid: charge.extra["appid"],
      mch_id: charge.merchantId,
      out_trade_no: charge.merchantRef,
      transaction_id: charge.id,
      prepay_id: `wx${charge.id}`,
      trade_type: charge.flow === "deeplink" ? "APP" : "NATIVE",
      trade_state: state,
      trade_state_desc: desc,
      err_code: errCode,
      total_fee: String(charge.amount),
      fee_type: charge.currency,
      time_end: charge.paidAt ? wire.toChinaCompact(charge.paidAt) : null,
      code_url: charge.status === "awaiting_payer" ? `weixin://wxpay/bizpayurl?pr=${charge.id}` : null,
      deeplink:
        charge.status === "awaiting_payer" && charge.flow === "deeplink"
          ? `weixin://app/pay?prepayid=wx${charge.id}`
          : null,
      // Not part of the wire: lets a tester reach the wallet stand-in.
      sim_scan_url: charge.status === "awaiting_payer" ? `${origin}/wechat/sim/scan/${charge.id}` : null,
    };
  };
  return {
    id: "wechat",
    capabilities: WECHAT_CAPABILITIES,
    staleStatus: "awaiting_payer",
    newTxnId: () => `4200${wire.toChinaCompact(new Date()).slice(0, 8)}${randomDigits(16)}`,
    validate(req) {
      if (req.product !== "platform_pay")
        return { kind: "invalid_request", message: `trade for ${req.product} is not offered` };
      return null;
    },
    renderCharge({ c, origin, op }, charge) {
      const fields = stateFields(charge, origin);
      // A failed order answers FAIL with its error code on unifiedorder; a query reports the state.
      const failed = op === "pay" && charge.status === "failed";
      return xml(c, {
        return_code: "SUCCESS",
        return_msg: "OK",
        result_code: failed ? "FAIL" : "SUCCESS",
        ...fields,
        err_code_des: failed ? fields.trade_state_desc : null,
      });
    },
    renderRejection({ c, op }, r) {
      if (r.kind === "signature_invalid")
        return xml(c, { return_code: "FAIL", return_msg: r.message, err_code: ERR[r.kind] });
      const errCode =
        op === "query_operation" && r.kind === "not_found"
          ? "REFUNDNOTEXIST"
          : op === "refund"
            ? (REFUND_ERR[r.kind] ?? ERR[r.kind])
            : ERR[r.kind];
      return xml(c, {
        return_code: "SUCCESS",
        return_msg: "OK",
        mch_id: keys.merchantId,
        result_code: "FAIL",
        err_code: errCode,
        err_code_des: r.message,
      });
    },
    renderOperation({ c, op: asked }, op, charge) {
      const order = {
        return_code: "SUCCESS",
        return_msg: "OK",
        appid: charge.extra["appid"],
        mch_id: charge.merchantId,
        transaction_id: charge.id,
        out_trade_no: charge.merchantRef,
        total_fee: String(charge.amount),
        fee_type: op.currency,
        cash_fee: String(charge.amount),
      };
      if (asked === "query_operation") {
        // One refund, at index 0: a query by out_refund_no or refund_id lists only that one.
        return xml(c, {
          ...order,
          result_code: "SUCCESS",
          refund_count: "1",
          out_refund_no_0: op.merchantRef,
          refund_id_0: op.id,
          refund_channel_0: "ORIGINAL",
          refund_fee_0: String(op.amount),
          settlement_refund_fee_0: String(op.amount),
          refund_status_0: REFUND_STATUS[op.status as SimOperationStatus],
          refund_account_0: "REFUND_SOURCE_UNSETTLED_FUNDS",
          refund_recv_accout_0: "支付用户零钱",
          refund_success_time_0:
            op.status === "succeeded" && op.completedAt ? wire.toChinaDateTime(op.completedAt) : null,
        });
      }
      if (op.status === "failed") {
        const [errCode, desc] = refundFailure(op.failureReason);
        return xml(c, { ...order, result_code: "FAIL", err_code: errCode, err_code_des: desc });
      }
      // Accepted (or accepted before, for a repeat): the result comes by notification or refundquery.
      return xml(c, {
        ...order,
        result_code: "SUCCESS",
        out_refund_no: op.merchantRef,
        refund_id: op.id,
        refund_fee: String(op.amount),
        settlement_refund_fee: String(op.amount),
        cash_refund_fee: String(op.amount),
      });
    },
    renderOperationCallback(op, charge, notificationId, at) {
      // Real WeChat Pay encrypts these fields into req_info (AES-256-ECB, keyed with md5 of the API key) and
      // signs nothing; the simulator sends them in the clear, signed like the pay notification.
      const clean = Object.fromEntries(
        Object.entries({
          return_code: "SUCCESS",
          appid: charge.extra["appid"],
          mch_id: charge.merchantId,
          nonce_str: randomUUID().replaceAll("-", ""),
          transaction_id: charge.id,
          out_trade_no: charge.merchantRef,
          refund_id: op.id,
          out_refund_no: op.merchantRef,
          total_fee: String(charge.amount),
          settlement_total_fee: String(charge.amount),
          refund_fee: String(op.amount),
          settlement_refund_fee: String(op.amount),
          fee_type: op.currency,
          refund_status: REFUND_STATUS[op.status as SimOperationStatus],
          success_time: op.status === "succeeded" ? wire.toChinaDateTime(op.completedAt ?? at) : null,
          refund_recv_accout: "支付用户零钱",
          refund_account: "REFUND_SOURCE_UNSETTLED_FUNDS",
          refund_request_source: "API",
          notify_id: notificationId,
        }).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
      );
      return {
        contentType: "text/xml; charset=utf-8",
        headers: {},
        body: wire.toFlatXml({ ...clean, sign: wire.wechatSign(clean, keys.channelSigningKey) }),
      };
    },
    renderBusy({ c }) {
      return xml(
        c,
        {
          return_code: "FAIL",
          return_msg: "system busy",
          err_code: "SYSTEMBUSY",
          err_code_des: "system busy, please retry",
        },
        503,
      );
    },
    renderCallback(charge, notificationId, at) {
      const fields = stateFields(charge, "");
      const ok = charge.status === "succeeded";
      const clean = Object.fromEntries(
        Object.entries({
          return_code: "SUCCESS",
          result_code: ok || charge.status === "awaiting_payer" || charge.status === "paying" ? "SUCCESS" : "FAIL",
          ...fields,
          code_url: null,
          deeplink: null,
          sim_scan_url: null,
          err_code_des: ok ? null : fields.trade_state_desc,
          time_end: fields.time_end ?? wire.toChinaCompact(at),
          attach: charge.passthrough,
          notify_id: notificationId,
          nonce_str: randomUUID().replaceAll("-", ""),
        }).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
      );
      return {
        contentType: "text/xml; charset=utf-8",
        headers: {},
        body: wire.toFlatXml({ ...clean, sign: wire.wechatSign(clean, keys.channelSigningKey) }),
      };
    },
    ackAccepted: (status, body) =>
      status >= 200 && status < 300 && wire.parseFlatXml(body)?.["return_code"] === "SUCCESS",
  };
}

async function readSigned(
  c: Context,
  keys: DevChannelKeys,
): Promise<{ ok: true; fields: Record<string, string> } | { ok: false; rejection: Rejection }> {
  const fields = wire.parseFlatXml(await c.req.text());
  if (!fields) return { ok: false, rejection: { kind: "invalid_request", message: "XML_FORMAT_ERROR" } };
  if (!wire.wechatVerify(fields, keys.merchantVerifyKey))
    return { ok: false, rejection: { kind: "signature_invalid", message: "sign verification failed" } };
  if (fields["mch_id"] !== keys.merchantId)
    return { ok: false, rejection: { kind: "unknown_merchant", message: "mch_id does not exist" } };
  return { ok: true, fields };
}

function parseOrder(f: Record<string, string>): Parsed<SimPayRequest> {
  const required = ["out_trade_no", "total_fee", "notify_url", "trade_type"].find((k) => !f[k]);
  if (required) return { ok: false, rejection: { kind: "invalid_request", message: `${required} is required` } };
  if (!/^\d+$/.test(f["total_fee"]!))
    return { ok: false, rejection: { kind: "invalid_request", message: "total_fee must be integer fen" } };
  return {
    ok: true,
    value: {
      merchantId: f["mch_id"]!,
      merchantRef: f["out_trade_no"]!,
      product: "platform_pay",
      amount: Number(f["total_fee"]),
      currency: f["fee_type"] || "CNY",
      subject: f["body"] ?? "",
      bankCode: null,
      flow: f["trade_type"] === "NATIVE" ? "qr_code" : "deeplink",
      payerPhone: null,
      callbackUrl: f["notify_url"]!,
      returnUrl: null,
      passthrough: f["attach"] || null,
      expiresAt: (f["time_expire"] && wire.fromChinaTime(f["time_expire"])) || new Date(Date.now() + 2 * 3_600_000),
      extra: { appid: f["appid"] ?? "" },
      // unifiedorder has no pre-authorization: every order is a sale.
      captureMode: "auto",
    },
  };
}

/** A refund of an order named by transaction_id or out_trade_no; total_fee is the order's, refund_fee this refund's. */
function parseRefund(f: Record<string, string>): Parsed<SimOperationRequest> {
  const required = ["out_refund_no", "total_fee", "refund_fee"].find((k) => !f[k]);
  if (required) return { ok: false, rejection: { kind: "invalid_request", message: `${required} is required` } };
  if (!f["transaction_id"] && !f["out_trade_no"])
    return { ok: false, rejection: { kind: "invalid_request", message: "transaction_id or out_trade_no is required" } };
  if (!/^\d+$/.test(f["total_fee"]!) || !/^\d+$/.test(f["refund_fee"]!))
    return {
      ok: false,
      rejection: { kind: "invalid_request", message: "total_fee and refund_fee must be integer fen" },
    };
  if (Number(f["refund_fee"]) > Number(f["total_fee"]))
    return { ok: false, rejection: { kind: "invalid_request", message: "invalid refund_fee" } };
  return {
    ok: true,
    value: {
      kind: "refund",
      merchantId: f["mch_id"]!,
      charge: { merchantRef: f["out_trade_no"] || null, txnId: f["transaction_id"] || null },
      merchantRef: f["out_refund_no"]!,
      amount: Number(f["refund_fee"]),
      currency: f["refund_fee_type"] || null,
      callbackUrl: f["notify_url"] || null,
      reason: f["refund_desc"] || null,
    },
  };
}

/**
 * The refund query by out_refund_no or refund_id. (Real WeChat also lists every refund of an order by
 * transaction_id or out_trade_no; the simulator answers about one refund.)
 */
function parseRefundQuery(f: Record<string, string>): Parsed<OperationQuery> {
  if (!f["out_refund_no"] && !f["refund_id"])
    return { ok: false, rejection: { kind: "invalid_request", message: "out_refund_no or refund_id is required" } };
  return {
    ok: true,
    value: {
      merchantId: f["mch_id"]!,
      kind: "refund",
      merchantRef: f["out_refund_no"] || null,
      opId: f["refund_id"] || null,
    },
  };
}

export function wechatRoutes(deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) {
  const app = new Hono<AppEnv>();
  app.post("/pay/unifiedorder", async (c) => {
    const r = await readSigned(c, keys);
    return handlePay(c, deps, proto, r.ok ? parseOrder(r.fields) : r);
  });
  app.post("/pay/orderquery", async (c) => {
    const r = await readSigned(c, keys);
    return handleQuery(
      c,
      deps,
      proto,
      r.ok
        ? {
            ok: true,
            value: {
              merchantId: r.fields["mch_id"]!,
              ref: { merchantRef: r.fields["out_trade_no"], txnId: r.fields["transaction_id"] },
            },
          }
        : r,
    );
  });
  app.post("/secapi/pay/refund", async (c) => {
    const r = await readSigned(c, keys);
    return handleOperation(c, deps, proto, r.ok ? parseRefund(r.fields) : r, "refund");
  });
  app.post("/pay/refundquery", async (c) => {
    const r = await readSigned(c, keys);
    return handleOperationQuery(c, deps, proto, r.ok ? parseRefundQuery(r.fields) : r);
  });
  mountScan(app, deps, proto);
  return app;
}
