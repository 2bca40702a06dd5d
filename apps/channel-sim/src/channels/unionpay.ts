import { Hono, type Context } from "hono";
import { UNIONPAY_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import type { AppEnv } from "@pps/runtime";
import type { SimDeps } from "../sim/deps.ts";
import { handleOperation, handleOperationQuery } from "../sim/operations.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountPayerPages } from "../sim/payer-pages.ts";
import { randomDigits } from "./ids.ts";
import type {
  Charge,
  ChannelProtocol,
  Rejection,
  RejectionKind,
  SimOperation,
  SimOperationKind,
  SimOperationRequest,
  SimPayRequest,
} from "./protocol.ts";

/**
 * unionpay: a card scheme. JSON both ways, RSA-SHA256 `signature` over the sorted fields: requests signed
 * with the merchant's key, answers and notifications with UnionPay's. Online banking at any bank, CNY.
 * Transactions by txnType: 01 consume, 02 pre-authorization (held 30 days), and on an earlier one named
 * by origQryId (backTransReq): 03 pre-authorization completion, 32 pre-authorization cancel, 31 consume
 * cancel (same day), 04 refund (once settled; accepted, then its result by notification to backUrl).
 * A query names a payment by orderId / queryId, or a back transaction by its orderId and origTxnType.
 */
const NUMERIC_TO_ALPHA: Record<string, string> = { "156": "CNY" };

const OP_TXN_TYPE: Record<SimOperationKind, string> = { capture: "03", void: "32", cancel: "31", refund: "04" };
const KIND_OF_TXN_TYPE: Record<string, SimOperationKind> = {
  "03": "capture",
  "32": "void",
  "31": "cancel",
  "04": "refund",
};

/**
 * The order's state as the scheme tells it: the transaction that set it (txnType), how it went
 * (origRespCode) and its amount. A pre-authorization that was completed is its 03; one released (cancelled
 * or lapsed) its 32; a consume cancelled the same day its 31.
 */
function orderState(charge: Charge): { txnType: string; code: string; msg: string; amount: number } {
  const base = charge.captureMode === "manual" ? "02" : "01";
  switch (charge.status) {
    case "awaiting_payer":
      return { txnType: base, code: "04", msg: "awaiting payer authentication", amount: charge.amount };
    case "paying":
      return { txnType: base, code: "03", msg: "transaction processing", amount: charge.amount };
    case "authorized":
      return { txnType: "02", code: "00", msg: "pre-authorization success", amount: charge.authorizedAmount };
    case "succeeded":
      return {
        txnType: charge.captureMode === "manual" ? "03" : "01",
        code: "00",
        msg: "success",
        amount: charge.capturedAmount || charge.amount,
      };
    case "voided":
      return {
        txnType: "32",
        code: "00",
        msg: charge.failureReason === "expired" ? "pre-authorization expired" : "pre-authorization cancelled",
        amount: charge.authorizedAmount || charge.amount,
      };
    case "canceled":
      return { txnType: "31", code: "00", msg: "consume cancelled", amount: charge.capturedAmount || charge.amount };
    case "closed":
      return charge.failureReason === "payer_canceled"
        ? { txnType: base, code: "31", msg: "canceled by payer", amount: charge.amount }
        : { txnType: base, code: "32", msg: "order timed out", amount: charge.amount };
    default:
      return charge.failureReason === "insufficient_funds"
        ? { txnType: base, code: "51", msg: "insufficient funds", amount: charge.amount }
        : { txnType: base, code: "05", msg: "do not honour", amount: charge.amount };
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
  // Back transactions the scheme's rules refuse. 36 / 37 / 39 read by the transaction type.
  flow_not_supported: "30",
  invalid_state: "35",
  amount_exceeds_authorized: "36",
  amount_exceeds_refundable: "36",
  authorization_expired: "37",
  refund_window_closed: "37",
  refund_limit_reached: "38",
  cancel_window_closed: "39",
  not_settled: "39",
};

/** A back transaction's result code: 00 done, 03 in progress, or what it failed with. */
function operationCode(op: SimOperation): [string, string] {
  if (op.status === "succeeded") return ["00", "success"];
  if (op.status !== "failed") return ["03", "transaction processing"];
  const reason = op.failureReason ?? "declined";
  if (reason in RESP) return [RESP[reason as RejectionKind], reason];
  return ["05", reason === "declined" ? "declined by issuer" : reason];
}

export function createUnionPayProtocol(keys: DevChannelKeys): ChannelProtocol {
  const signed = (fields: Record<string, string | null | undefined>) => {
    const clean = Object.fromEntries(
      Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
    );
    return wire.signUnionPay({ version: "5.1.0", ...clean }, keys.channelSigningKey);
  };
  const authExpireTime = (charge: Charge) =>
    charge.status === "authorized" && charge.authExpiresAt ? wire.toChinaCompact(charge.authExpiresAt) : null;
  const operationFields = (op: SimOperation, charge: Charge) => ({
    merId: charge.merchantId,
    txnType: OP_TXN_TYPE[op.kind as SimOperationKind],
    orderId: op.merchantRef,
    queryId: op.id,
    origQryId: charge.id,
    txnAmt: String(op.amount),
    currencyCode: "156",
  });
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
      const s = orderState(charge);
      return c.json(
        signed({
          respCode: "00",
          respMsg: "success",
          merId: charge.merchantId,
          orderId: charge.merchantRef,
          queryId: charge.id,
          txnType: s.txnType,
          txnAmt: String(s.amount),
          currencyCode: "156",
          origRespCode: s.code,
          origRespMsg: s.msg,
          authExpireTime: authExpireTime(charge),
          payUrl: charge.status === "awaiting_payer" ? `${origin}/unionpay/pages/${charge.id}` : null,
          traceTime: wire.toChinaCompact(charge.capturedAt ?? charge.paidAt ?? charge.closedAt ?? charge.createdAt),
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
      const s = orderState(charge);
      const body = signed({
        merId: charge.merchantId,
        orderId: charge.merchantRef,
        queryId: charge.id,
        txnType: s.txnType,
        txnAmt: String(s.amount),
        currencyCode: "156",
        respCode: s.code,
        respMsg: s.msg,
        authExpireTime: authExpireTime(charge),
        traceNo: notificationId,
        traceTime: wire.toChinaCompact(at),
        reqReserved: charge.passthrough,
      });
      return { contentType: "application/json", headers: {}, body: JSON.stringify(body) };
    },
    ackAccepted: (status, body) => status >= 200 && status < 300 && body.trim().toLowerCase() === "ok",
    renderOperation({ c }, op, charge) {
      const [code, msg] = operationCode(op);
      return c.json(
        signed({
          respCode: "00",
          respMsg: "success",
          ...operationFields(op, charge),
          origRespCode: code,
          origRespMsg: msg,
          traceTime: wire.toChinaCompact(op.completedAt ?? op.createdAt),
        }),
      );
    },
    renderOperationCallback(op, charge, notificationId, at) {
      const [code, msg] = operationCode(op);
      const body = signed({
        ...operationFields(op, charge),
        respCode: code,
        respMsg: msg,
        traceNo: notificationId,
        traceTime: wire.toChinaCompact(at),
      });
      return { contentType: "application/json", headers: {}, body: JSON.stringify(body) };
    },
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

const invalid = (message: string) => ({ ok: false as const, rejection: { kind: "invalid_request" as const, message } });

function parsePay(f: Record<string, string>): Parsed<SimPayRequest> {
  const required = ["orderId", "txnAmt", "currencyCode", "backUrl"].find((k) => !f[k]);
  if (required) return invalid(`${required} is required`);
  if (!/^\d+$/.test(f["txnAmt"]!)) return invalid("txnAmt must be integer fen");
  const txnType = f["txnType"] || "01";
  if (txnType !== "01" && txnType !== "02") return invalid(`txnType ${txnType} is not a payment`);
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
      captureMode: txnType === "02" ? "manual" : "auto",
    },
  };
}

/** A back transaction: its type, our orderId for it, and the original by origQryId (or our origOrderId). */
function parseOperation(f: Record<string, string>, kind: SimOperationKind): Parsed<SimOperationRequest> {
  if (!f["orderId"]) return invalid("orderId is required");
  if (!f["origQryId"] && !f["origOrderId"]) return invalid("origQryId is required");
  if (f["txnAmt"] && !/^\d+$/.test(f["txnAmt"])) return invalid("txnAmt must be integer fen");
  const currency = f["currencyCode"] ? (NUMERIC_TO_ALPHA[f["currencyCode"]] ?? f["currencyCode"]) : null;
  return {
    ok: true,
    value: {
      kind,
      merchantId: f["merId"]!,
      charge: { merchantRef: f["origOrderId"] || null, txnId: f["origQryId"] || null },
      merchantRef: f["orderId"],
      amount: f["txnAmt"] ? Number(f["txnAmt"]) : null,
      currency,
      callbackUrl: f["backUrl"] || null,
      reason: f["orderDesc"] || null,
    },
  };
}

export function unionpayRoutes(deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) {
  const app = new Hono<AppEnv>();
  app.post("/gateway/api/pay", async (c) => {
    const r = await readSigned(c, keys);
    return handlePay(c, deps, proto, r.ok ? parsePay(r.fields) : r);
  });
  app.post("/gateway/api/backTransReq", async (c) => {
    const r = await readSigned(c, keys);
    const kind = r.ok ? KIND_OF_TXN_TYPE[r.fields["txnType"] ?? ""] : undefined;
    const parsed: Parsed<SimOperationRequest> = !r.ok
      ? r
      : !kind
        ? invalid(`txnType ${r.fields["txnType"] ?? "(none)"} is not a back transaction`)
        : parseOperation(r.fields, kind);
    return handleOperation(c, deps, proto, parsed, kind);
  });
  app.post("/gateway/api/query", async (c) => {
    const r = await readSigned(c, keys);
    if (r.ok && r.fields["origTxnType"] !== undefined) {
      const kind = KIND_OF_TXN_TYPE[r.fields["origTxnType"]];
      return handleOperationQuery(
        c,
        deps,
        proto,
        !kind
          ? invalid(`origTxnType ${r.fields["origTxnType"]} is not a back transaction`)
          : !r.fields["orderId"] && !r.fields["queryId"]
            ? invalid("orderId or queryId is required")
            : {
                ok: true,
                value: {
                  merchantId: r.fields["merId"]!,
                  kind,
                  merchantRef: r.fields["orderId"] || null,
                  opId: r.fields["queryId"] || null,
                },
              },
      );
    }
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
