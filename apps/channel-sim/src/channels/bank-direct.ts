import { Hono, type Context } from "hono";
import { BANK_DIRECT_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import { fromDecimalString, toDecimalString, money } from "@pps/money";
import type { AppEnv } from "@pps/runtime";
import type { SimDeps } from "../sim/deps.ts";
import { handleOperation, handleOperationQuery } from "../sim/operations.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountPayerPages } from "../sim/payer-pages.ts";
import { randomDigits } from "./ids.ts";
import type {
  Charge,
  ChannelProtocol,
  ChargeStatus,
  Rejection,
  RejectionKind,
  SimOperation,
  SimOperationKind,
  SimOperationRequest,
  SimPayRequest,
} from "./protocol.ts";

/**
 * bank_direct: a CMB-like bank gateway. Form-encoded requests, JSON answers, form-encoded notifications,
 * all signed with MD5 over the sorted parameters plus the shared key. Online banking only, sync answers.
 * A payment is a SALE or a PREAUTH (held 7 days); pre-authorization capture and void, the same-day cancel
 * and refunds each have a gateway path, take our request number (`request_no`) and answer one operation
 * record (`op_*`) beside the order's state after it, at once.
 */
const TRADE_STATE: Record<ChargeStatus, string> = {
  awaiting_payer: "PROCESSING",
  paying: "PAYING",
  authorized: "AUTHORIZED",
  succeeded: "SUCCESS",
  failed: "FAILED",
  closed: "CLOSED",
  voided: "VOIDED",
  canceled: "CANCELED",
};

const ERR: Record<string, [string, string]> = {
  declined: ["E1001", "card declined by issuer"],
  insufficient_funds: ["E1002", "insufficient funds"],
  verification_failed: ["E1003", "payer verification failed"],
  payer_canceled: ["E2001", "payer canceled"],
  expired: ["E2002", "order expired"],
};

/** Why an order that had been paid ended with nothing kept, when the book records no reason. */
const ENDED: Partial<Record<ChargeStatus, [string, string]>> = {
  voided: ["E3001", "pre-authorization voided"],
  canceled: ["E3002", "order canceled on the day of payment"],
};

const RSP: Record<RejectionKind, string> = {
  invalid_request: "2001",
  amount_limit_exceeded: "2001",
  invalid_phone: "2001",
  signature_invalid: "2002",
  bank_not_supported: "2003",
  currency_not_supported: "2004",
  unknown_merchant: "2005",
  order_conflict: "3001",
  not_found: "3004",
  flow_not_supported: "4001",
  invalid_state: "4002",
  cancel_window_closed: "4003",
  not_settled: "4004",
  refund_window_closed: "4005",
  refund_limit_reached: "4006",
  amount_exceeds_refundable: "4007",
  amount_exceeds_authorized: "4008",
  authorization_expired: "4009",
};

const OP_TYPE: Record<SimOperationKind, string> = {
  capture: "CAPTURE",
  void: "VOID",
  cancel: "CANCEL",
  refund: "REFUND",
};
const KIND_OF_OP_TYPE: Record<string, SimOperationKind> = {
  CAPTURE: "capture",
  VOID: "void",
  CANCEL: "cancel",
  REFUND: "refund",
};
const OP_STATE: Record<string, string> = { processing: "PROCESSING", succeeded: "SUCCESS", failed: "FAILED" };

const yuan = (amount: number, currency: string) => toDecimalString(money(amount, currency));

/** A failed operation's reason (a rejection kind, or the bank's own decline) → the bank's code. */
function opError(reason: string | null): [string, string] {
  if (!reason) return ["E9000", "operation failed"];
  if (reason in RSP) return [RSP[reason as RejectionKind], reason];
  return ERR[reason] ?? ["E9000", reason];
}

export function createBankDirectProtocol(keys: DevChannelKeys): ChannelProtocol {
  const signed = (fields: Record<string, string | null | undefined>) => {
    const clean = Object.fromEntries(
      Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
    );
    return wire.signBankParams(clean, keys.channelSigningKey);
  };
  const stateFields = (charge: Charge, origin: string) => {
    const status = charge.status as ChargeStatus;
    const [errCode, errMsg] = charge.failureReason
      ? (ERR[charge.failureReason] ?? ["E9000", charge.failureReason])
      : (ENDED[status] ?? [null, null]);
    const preauth = charge.captureMode === "manual";
    return {
      merchant_no: charge.merchantId,
      order_no: charge.merchantRef,
      bank_txn_no: charge.id,
      trade_type: preauth ? "PREAUTH" : "SALE",
      trade_state: TRADE_STATE[status] ?? "PROCESSING",
      pay_url: status === "awaiting_payer" ? `${origin}/bank/pages/${charge.id}` : null,
      amount: yuan(charge.amount, charge.currency),
      currency: charge.currency,
      auth_amount: preauth && charge.authorizedAmount > 0 ? yuan(charge.authorizedAmount, charge.currency) : null,
      auth_expire_time: preauth && charge.authExpiresAt ? wire.toChinaCompact(charge.authExpiresAt) : null,
      capture_amount: charge.capturedAmount > 0 ? yuan(charge.capturedAmount, charge.currency) : null,
      refund_amount: charge.refundedAmount > 0 ? yuan(charge.refundedAmount, charge.currency) : null,
      pay_time: charge.paidAt ? wire.toChinaCompact(charge.paidAt) : null,
      err_code: errCode,
      err_msg: errMsg,
    };
  };
  const opFields = (op: SimOperation) => {
    const [errCode, errMsg] = op.status === "failed" ? opError(op.failureReason) : [null, null];
    return {
      op_type: OP_TYPE[op.kind as SimOperationKind],
      request_no: op.merchantRef,
      op_txn_no: op.id,
      op_state: OP_STATE[op.status] ?? "PROCESSING",
      op_amount: yuan(op.amount, op.currency),
      op_currency: op.currency,
      op_time: wire.toChinaCompact(op.completedAt ?? op.createdAt),
      op_err_code: errCode,
      op_err_msg: errMsg,
    };
  };
  return {
    id: "bank_direct",
    capabilities: BANK_DIRECT_CAPABILITIES,
    staleStatus: "awaiting_payer",
    newTxnId: () => `B${wire.toChinaCompact(new Date())}${randomDigits(8)}`,
    validate(req) {
      if (req.product !== "online_banking")
        return { kind: "invalid_request", message: `product ${req.product} is not offered` };
      if (!req.bankCode || !BANK_DIRECT_CAPABILITIES.banks!.includes(req.bankCode))
        return { kind: "bank_not_supported", message: `bank ${req.bankCode ?? "(none)"} is not reachable` };
      return null;
    },
    renderCharge({ c, origin }, charge) {
      return c.json(signed({ rsp_code: "0000", rsp_msg: "OK", ...stateFields(charge, origin) }));
    },
    renderRejection({ c }, r) {
      return c.json(signed({ rsp_code: RSP[r.kind], rsp_msg: r.message }));
    },
    renderBusy({ c }) {
      return c.json(signed({ rsp_code: "9999", rsp_msg: "system busy, please retry later" }), 503);
    },
    renderCallback(charge, notificationId, at) {
      const fields = signed({
        ...stateFields(charge, ""),
        pay_url: null,
        attach: charge.passthrough,
        notify_id: notificationId,
        notify_time: wire.toChinaCompact(at),
      });
      return {
        contentType: "application/x-www-form-urlencoded; charset=utf-8",
        headers: {},
        body: new URLSearchParams(fields).toString(),
      };
    },
    ackAccepted: (status, body) => status >= 200 && status < 300 && body.trim() === "SUCCESS",
    renderOperation({ c, origin }, op, charge) {
      return c.json(signed({ rsp_code: "0000", rsp_msg: "OK", ...stateFields(charge, origin), ...opFields(op) }));
    },
    renderOperationCallback(op, charge, notificationId, at) {
      // The bank answers every operation at once; this notice repeats the result for a merchant that asked.
      const fields = signed({
        notify_type: "OPERATION",
        merchant_no: charge.merchantId,
        order_no: charge.merchantRef,
        bank_txn_no: charge.id,
        ...opFields(op),
        notify_id: notificationId,
        notify_time: wire.toChinaCompact(at),
      });
      return {
        contentType: "application/x-www-form-urlencoded; charset=utf-8",
        headers: {},
        body: new URLSearchParams(fields).toString(),
      };
    },
  };
}

type Form = Record<string, string>;

function verifyRequest(form: Form, keys: DevChannelKeys): Rejection | null {
  if (!wire.verifyBankParams(form, keys.merchantVerifyKey))
    return { kind: "signature_invalid", message: "sign verification failed" };
  if (form["merchant_no"] !== keys.merchantId) return { kind: "unknown_merchant", message: "unknown merchant_no" };
  return null;
}

const invalid = (message: string) => ({ ok: false as const, rejection: { kind: "invalid_request" as const, message } });

function parsePay(form: Form, keys: DevChannelKeys): Parsed<SimPayRequest> {
  const bad = verifyRequest(form, keys);
  if (bad) return { ok: false, rejection: bad };
  const required = ["order_no", "amount", "currency", "notify_url"].find((k) => !form[k]);
  if (required) return invalid(`${required} is required`);
  const tradeType = form["trade_type"] || "SALE";
  if (tradeType !== "SALE" && tradeType !== "PREAUTH") return invalid(`trade_type ${tradeType} is not offered`);
  let amount: number;
  try {
    amount = fromDecimalString(form["amount"]!, form["currency"]!).amount;
  } catch {
    return {
      ok: false,
      rejection: {
        kind: form["currency"] === "CNY" ? "invalid_request" : "currency_not_supported",
        message: "bad amount or currency",
      },
    };
  }
  return {
    ok: true,
    value: {
      merchantId: form["merchant_no"]!,
      merchantRef: form["order_no"]!,
      product: form["product"] ?? "online_banking",
      amount,
      currency: form["currency"]!,
      subject: form["subject"] ?? "",
      bankCode: form["bank_code"] || null,
      flow: null,
      payerPhone: null,
      callbackUrl: form["notify_url"]!,
      returnUrl: form["return_url"] || null,
      passthrough: form["attach"] || null,
      expiresAt:
        (form["expire_time"] && wire.fromChinaTime(form["expire_time"])) || new Date(Date.now() + 2 * 3_600_000),
      extra: form["card_type"] ? { card_type: form["card_type"] } : {},
      captureMode: tradeType === "PREAUTH" ? "manual" : "auto",
    },
  };
}

/** An operation request on the gateway path of `kind`: the order by order_no / bank_txn_no, our request_no. */
function parseOperation(form: Form, keys: DevChannelKeys, kind: SimOperationKind): Parsed<SimOperationRequest> {
  const bad = verifyRequest(form, keys);
  if (bad) return { ok: false, rejection: bad };
  if (form["op_type"] && form["op_type"] !== OP_TYPE[kind])
    return invalid(`op_type ${form["op_type"]} does not belong on this path`);
  if (!form["request_no"]) return invalid("request_no is required");
  if (!form["order_no"] && !form["bank_txn_no"]) return invalid("order_no or bank_txn_no is required");
  let amount: number | null = null;
  if (form["op_amount"]) {
    if (!form["currency"]) return invalid("currency is required with op_amount");
    try {
      amount = fromDecimalString(form["op_amount"], form["currency"]).amount;
    } catch {
      return invalid("bad op_amount or currency");
    }
  }
  return {
    ok: true,
    value: {
      kind,
      merchantId: form["merchant_no"]!,
      charge: { merchantRef: form["order_no"] || null, txnId: form["bank_txn_no"] || null },
      merchantRef: form["request_no"],
      amount,
      currency: form["currency"] || null,
      callbackUrl: form["notify_url"] || null,
      reason: form["reason"] || null,
    },
  };
}

export function bankDirectRoutes(deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) {
  const app = new Hono<AppEnv>();
  const form = async (c: { req: { text: () => Promise<string> } }): Promise<Form> =>
    Object.fromEntries(new URLSearchParams(await c.req.text()));
  app.post("/gateway/pay", async (c) =>
    handlePay(c, deps, proto, parsePay(await form(c), keys), { payerActsSynchronously: true }),
  );
  app.post("/gateway/query", async (c) => {
    const f = await form(c);
    const bad = verifyRequest(f, keys);
    return handleQuery(
      c,
      deps,
      proto,
      bad
        ? { ok: false, rejection: bad }
        : {
            ok: true,
            value: { merchantId: f["merchant_no"]!, ref: { merchantRef: f["order_no"], txnId: f["bank_txn_no"] } },
          },
    );
  });
  const operation = (kind: SimOperationKind) => async (c: Context) =>
    handleOperation(c, deps, proto, parseOperation(await form(c), keys, kind), kind);
  app.post("/gateway/preauth/capture", operation("capture"));
  app.post("/gateway/preauth/void", operation("void"));
  app.post("/gateway/cancel", operation("cancel"));
  app.post("/gateway/refund", operation("refund"));
  // One query for every operation (the refund query included): by op_type and our request_no, or op_txn_no.
  app.post("/gateway/operation/query", async (c) => {
    const f = await form(c);
    const bad = verifyRequest(f, keys);
    const kind = KIND_OF_OP_TYPE[f["op_type"] ?? ""];
    return handleOperationQuery(
      c,
      deps,
      proto,
      bad
        ? { ok: false, rejection: bad }
        : !kind
          ? invalid(`op_type ${f["op_type"] ?? "(none)"} is not an operation`)
          : !f["request_no"] && !f["op_txn_no"]
            ? invalid("request_no or op_txn_no is required")
            : {
                ok: true,
                value: {
                  merchantId: f["merchant_no"]!,
                  kind,
                  merchantRef: f["request_no"] || null,
                  opId: f["op_txn_no"] || null,
                },
              },
    );
  });
  mountPayerPages(app, deps, proto, {
    path: "/pages/:txnId",
    brand: "Direct Bank · Online Banking",
    color: "#b3122e",
    confirm: { value: "confirm", label: "Confirm payment" },
    cancel: { value: "cancel", label: "Cancel" },
    returnTo: (charge) => charge.returnUrl,
  });
  return app;
}
