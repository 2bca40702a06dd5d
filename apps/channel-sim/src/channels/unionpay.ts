import { Hono, type Context } from "hono";
import { UNIONPAY_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import type { AppEnv } from "@pps/runtime";
import type { SimDeps } from "../sim/deps.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountPayerPages } from "../sim/payer-pages.ts";
import { randomDigits } from "./ids.ts";
import type { Charge, ChannelProtocol, Rejection, RejectionKind, SimPayRequest } from "./protocol.ts";

/**
 * unionpay: a card scheme. JSON both ways, RSA-SHA256 `signature` over the sorted fields: requests signed
 * with the merchant's key, answers and notifications with UnionPay's. Online banking at any bank, CNY.
 */
const NUMERIC_TO_ALPHA: Record<string, string> = { "156": "CNY" };

function txnCode(charge: Pick<Charge, "status" | "failureReason">): [string, string] {
  switch (charge.status) {
    case "awaiting_payer":
      return ["04", "awaiting payer authentication"];
    case "paying":
      return ["03", "transaction processing"];
    case "succeeded":
      return ["00", "success"];
    case "closed":
      return charge.failureReason === "payer_canceled" ? ["31", "canceled by payer"] : ["32", "order timed out"];
    default:
      return charge.failureReason === "insufficient_funds" ? ["51", "insufficient funds"] : ["05", "do not honour"];
  }
}

const RESP: Record<RejectionKind, string> = {
  invalid_request: "01",
  amount_limit_exceeded: "01",
  invalid_phone: "01",
  signature_invalid: "11",
  unknown_merchant: "12",
  currency_not_supported: "13",
  bank_not_supported: "14",
  not_found: "34",
  order_conflict: "94",
};

export function createUnionPayProtocol(keys: DevChannelKeys): ChannelProtocol {
  const signed = (fields: Record<string, string | null | undefined>) => {
    const clean = Object.fromEntries(
      Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
    );
    return wire.signUnionPay({ version: "5.1.0", ...clean }, keys.channelSigningKey);
  };
  return {
    id: "unionpay",
    capabilities: UNIONPAY_CAPABILITIES,
    staleStatus: "awaiting_payer",
    newTxnId: () => `${wire.toChinaCompact(new Date()).slice(2)}${randomDigits(9)}`,
    validate(req) {
      if (req.product !== "online_banking")
        return { kind: "invalid_request", message: `bizType for ${req.product} is not offered` };
      if (!req.bankCode) return { kind: "bank_not_supported", message: "issInsCode is required" };
      return null;
    },
    renderCharge({ c, origin }, charge) {
      const [code, msg] = txnCode(charge);
      return c.json(
        signed({
          respCode: "00",
          respMsg: "success",
          merId: charge.merchantId,
          orderId: charge.merchantRef,
          queryId: charge.id,
          txnAmt: String(charge.amount),
          currencyCode: "156",
          origRespCode: code,
          origRespMsg: msg,
          payUrl: charge.status === "awaiting_payer" ? `${origin}/unionpay/pages/${charge.id}` : null,
          traceTime: wire.toChinaCompact(charge.paidAt ?? charge.closedAt ?? charge.createdAt),
        }),
      );
    },
    renderRejection({ c }, r) {
      return c.json(signed({ respCode: RESP[r.kind], respMsg: r.message }));
    },
    renderBusy({ c }) {
      return c.json(signed({ respCode: "96", respMsg: "system busy" }), 503);
    },
    renderCallback(charge, notificationId, at) {
      const [code, msg] = txnCode(charge);
      const body = signed({
        merId: charge.merchantId,
        orderId: charge.merchantRef,
        queryId: charge.id,
        txnAmt: String(charge.amount),
        currencyCode: "156",
        respCode: code,
        respMsg: msg,
        traceNo: notificationId,
        traceTime: wire.toChinaCompact(at),
        reqReserved: charge.passthrough,
      });
      return { contentType: "application/json", headers: {}, body: JSON.stringify(body) };
    },
    ackAccepted: (status, body) => status >= 200 && status < 300 && body.trim().toLowerCase() === "ok",
  };
}

async function readSigned(
  c: Context,
  keys: DevChannelKeys,
): Promise<{ ok: true; fields: Record<string, string> } | { ok: false; rejection: Rejection }> {
  let json: unknown;
  try {
    json = JSON.parse(await c.req.text());
  } catch {
    return { ok: false, rejection: { kind: "invalid_request", message: "body is not JSON" } };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json))
    return { ok: false, rejection: { kind: "invalid_request", message: "body is not a JSON object" } };
  const fields = Object.fromEntries(Object.entries(json).map(([k, v]) => [k, String(v)]));
  if (!wire.verifyUnionPay(json as Record<string, unknown>, keys.merchantVerifyKey))
    return { ok: false, rejection: { kind: "signature_invalid", message: "signature verification failed" } };
  if (fields["merId"] !== keys.merchantId)
    return { ok: false, rejection: { kind: "unknown_merchant", message: "unknown merId" } };
  return { ok: true, fields };
}

function parsePay(f: Record<string, string>): Parsed<SimPayRequest> {
  const required = ["orderId", "txnAmt", "currencyCode", "backUrl"].find((k) => !f[k]);
  if (required) return { ok: false, rejection: { kind: "invalid_request", message: `${required} is required` } };
  if (!/^\d+$/.test(f["txnAmt"]!))
    return { ok: false, rejection: { kind: "invalid_request", message: "txnAmt must be integer fen" } };
  return {
    ok: true,
    value: {
      merchantId: f["merId"]!,
      merchantRef: f["orderId"]!,
      product: f["bizType"] === "000201" ? "online_banking" : (f["bizType"] ?? "unknown"),
      amount: Number(f["txnAmt"]),
      currency: NUMERIC_TO_ALPHA[f["currencyCode"]!] ?? f["currencyCode"]!,
      subject: f["orderDesc"] ?? "",
      bankCode: f["issInsCode"] || null,
      flow: null,
      payerPhone: null,
      callbackUrl: f["backUrl"]!,
      returnUrl: f["frontUrl"] || null,
      passthrough: f["reqReserved"] || null,
      expiresAt: (f["payTimeout"] && wire.fromChinaTime(f["payTimeout"])) || new Date(Date.now() + 2 * 3_600_000),
      extra: {},
    },
  };
}

export function unionpayRoutes(deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) {
  const app = new Hono<AppEnv>();
  app.post("/gateway/api/pay", async (c) => {
    const r = await readSigned(c, keys);
    return handlePay(c, deps, proto, r.ok ? parsePay(r.fields) : r);
  });
  app.post("/gateway/api/query", async (c) => {
    const r = await readSigned(c, keys);
    return handleQuery(
      c,
      deps,
      proto,
      r.ok
        ? {
            ok: true,
            value: {
              merchantId: r.fields["merId"]!,
              ref: { merchantRef: r.fields["orderId"], txnId: r.fields["queryId"] },
            },
          }
        : r,
    );
  });
  mountPayerPages(app, deps, proto, {
    path: "/pages/:txnId",
    brand: "UnionPay · Online Payment",
    color: "#0f4a8a",
    confirm: { value: "confirm", label: "Pay now" },
    cancel: { value: "cancel", label: "Cancel" },
    returnTo: (charge) => charge.returnUrl,
  });
  return app;
}
