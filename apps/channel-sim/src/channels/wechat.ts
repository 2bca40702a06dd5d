import { randomUUID } from "node:crypto";
import { Hono, type Context } from "hono";
import { WECHAT_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import type { AppEnv } from "@pps/runtime";
import type { SimDeps } from "../sim/deps.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountScan } from "../sim/payer-scan.ts";
import { randomDigits } from "./ids.ts";
import type { Charge, ChannelProtocol, Rejection, RejectionKind, SimPayRequest } from "./protocol.ts";

/**
 * wechat: a WeChat Pay v2-like platform. Flat XML both ways, `sign` = uppercase HMAC-SHA256 over the sorted
 * fields plus `&key=`. Platform pay by QR code (NATIVE) or app hand-off (APP); the result comes only by
 * notification after the payer acts in the wallet (POST /wechat/sim/scan/{txnId}).
 */
function tradeState(charge: Pick<Charge, "status" | "failureReason">): [string, string, string | null] {
  switch (charge.status) {
    case "awaiting_payer":
      return ["NOTPAY", "not paid", null];
    case "paying":
      return ["USERPAYING", "payer is paying", null];
    case "succeeded":
      return ["SUCCESS", "paid", null];
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
    renderRejection({ c }, r) {
      if (r.kind === "signature_invalid")
        return xml(c, { return_code: "FAIL", return_msg: r.message, err_code: ERR[r.kind] });
      return xml(c, {
        return_code: "SUCCESS",
        return_msg: "OK",
        mch_id: keys.merchantId,
        result_code: "FAIL",
        err_code: ERR[r.kind],
        err_code_des: r.message,
      });
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
  mountScan(app, deps, proto);
  return app;
}
