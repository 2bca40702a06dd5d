import { Hono } from "hono";
import { BANK_DIRECT_CAPABILITIES, wire, type DevChannelKeys } from "@pps/channels";
import { fromDecimalString, toDecimalString, money } from "@pps/money";
import type { AppEnv } from "@pps/runtime";
import type { SimDeps } from "../sim/deps.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { mountPayerPages } from "../sim/payer-pages.ts";
import { randomDigits } from "./ids.ts";
import type { Charge, ChannelProtocol, Rejection, RejectionKind, SimPayRequest } from "./protocol.ts";

/**
 * bank_direct: a CMB-like bank gateway. Form-encoded requests, JSON answers, form-encoded notifications,
 * all signed with MD5 over the sorted parameters plus the shared key. Online banking only, sync answers.
 */
const TRADE_STATE: Record<Charge["status"], string> = {
  awaiting_payer: "PROCESSING",
  paying: "PAYING",
  succeeded: "SUCCESS",
  failed: "FAILED",
  closed: "CLOSED",
};

const ERR: Record<string, [string, string]> = {
  declined: ["E1001", "card declined by issuer"],
  insufficient_funds: ["E1002", "insufficient funds"],
  verification_failed: ["E1003", "payer verification failed"],
  payer_canceled: ["E2001", "payer canceled"],
  expired: ["E2002", "order expired"],
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
};

export function createBankDirectProtocol(keys: DevChannelKeys): ChannelProtocol {
  const signed = (fields: Record<string, string | null | undefined>) => {
    const clean = Object.fromEntries(
      Object.entries(fields).filter((e): e is [string, string] => typeof e[1] === "string" && e[1] !== ""),
    );
    return wire.signBankParams(clean, keys.channelSigningKey);
  };
  const stateFields = (charge: Charge, origin: string) => {
    const [errCode, errMsg] = charge.failureReason
      ? (ERR[charge.failureReason] ?? ["E9000", charge.failureReason])
      : [null, null];
    return {
      merchant_no: charge.merchantId,
      order_no: charge.merchantRef,
      bank_txn_no: charge.id,
      trade_state: TRADE_STATE[charge.status as Charge["status"]] ?? "PROCESSING",
      pay_url: charge.status === "awaiting_payer" ? `${origin}/bank/pages/${charge.id}` : null,
      amount: toDecimalString(money(charge.amount, charge.currency)),
      currency: charge.currency,
      pay_time: charge.paidAt ? wire.toChinaCompact(charge.paidAt) : null,
      err_code: errCode,
      err_msg: errMsg,
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
  };
}

type Form = Record<string, string>;

function verifyRequest(form: Form, keys: DevChannelKeys): Rejection | null {
  if (!wire.verifyBankParams(form, keys.merchantVerifyKey))
    return { kind: "signature_invalid", message: "sign verification failed" };
  if (form["merchant_no"] !== keys.merchantId) return { kind: "unknown_merchant", message: "unknown merchant_no" };
  return null;
}

function parsePay(form: Form, keys: DevChannelKeys): Parsed<SimPayRequest> {
  const bad = verifyRequest(form, keys);
  if (bad) return { ok: false, rejection: bad };
  const required = ["order_no", "amount", "currency", "notify_url"].find((k) => !form[k]);
  if (required) return { ok: false, rejection: { kind: "invalid_request", message: `${required} is required` } };
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
