import { z } from "zod";
import { canonicalParams, sign, verify } from "@pps/signing";
import type { OperationKind } from "@pps/domain";
import { classifyAnswer, parseJson, type ClientAnswer, type ResolvedOptions } from "../shared/adapter.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * bank_direct: a direct bank gateway (CMB-like). Requests are form-encoded; answers are JSON; callbacks are
 * form-encoded. Every message carries `sign` = uppercase hex MD5 of `canonicalParams(fields) + "&key=" + key`
 * (sorted k=v pairs, empty values, `sign` and `sign_type` left out), one shared key for both directions.
 *
 * A payment is a SALE or a PREAUTH (held until captured or voided, at most 7 days). Operations on it
 * (pre-authorization capture and void, same-day cancel, refund) each carry our request number
 * (`request_no`) and answer one operation record (`op_*` fields) beside the order's state after it.
 */
export const BANK_TRADE_STATES = [
  "PROCESSING",
  "PAYING",
  "AUTHORIZED",
  "SUCCESS",
  "FAILED",
  "CLOSED",
  "VOIDED",
  "CANCELED",
] as const;
export type BankTradeState = (typeof BANK_TRADE_STATES)[number];

export const BANK_TRADE_TYPES = ["SALE", "PREAUTH"] as const;

export const BANK_OP_TYPES = ["CAPTURE", "VOID", "CANCEL", "REFUND"] as const;
export type BankOpType = (typeof BANK_OP_TYPES)[number];
export const BANK_OP_STATES = ["PROCESSING", "SUCCESS", "FAILED"] as const;

/** Our operation kind → the bank's op_type, and the gateway path that runs it. */
export const BANK_OPERATIONS: Record<OperationKind, { opType: BankOpType; path: string }> = {
  capture: { opType: "CAPTURE", path: "/bank/gateway/preauth/capture" },
  void: { opType: "VOID", path: "/bank/gateway/preauth/void" },
  cancel: { opType: "CANCEL", path: "/bank/gateway/cancel" },
  refund: { opType: "REFUND", path: "/bank/gateway/refund" },
};
export const BANK_OPERATION_QUERY_PATH = "/bank/gateway/operation/query";

/** rsp_code "9999": the bank is busy and took nothing. */
export const BANK_BUSY_CODE = "9999";

const opt = z.string().optional();

/** The order fields every answer and notification about a payment carries. */
const orderFields = {
  merchant_no: opt,
  order_no: opt,
  bank_txn_no: opt,
  trade_type: z.enum(BANK_TRADE_TYPES).optional(),
  trade_state: z.enum(BANK_TRADE_STATES).optional(),
  amount: opt,
  currency: opt,
  /** PREAUTH: the amount held, until when, and what was captured of it. */
  auth_amount: opt,
  auth_expire_time: opt,
  capture_amount: opt,
  /** What refunds and cancels returned so far. */
  refund_amount: opt,
  pay_time: opt,
  err_code: opt,
  err_msg: opt,
};

export const bankAnswerSchema = z.object({
  rsp_code: z.string(),
  rsp_msg: opt,
  ...orderFields,
  pay_url: opt,
  sign: z.string(),
});
export type BankAnswer = z.infer<typeof bankAnswerSchema>;

/** The answer of an operation request or of the operation query. */
export const bankOperationAnswerSchema = bankAnswerSchema.extend({
  op_type: z.enum(BANK_OP_TYPES).optional(),
  request_no: opt,
  op_txn_no: opt,
  op_state: z.enum(BANK_OP_STATES).optional(),
  op_amount: opt,
  op_currency: opt,
  op_time: opt,
  op_err_code: opt,
  op_err_msg: opt,
});
export type BankOperationAnswer = z.infer<typeof bankOperationAnswerSchema>;

export const bankNotificationSchema = z.object({
  merchant_no: z.string(),
  order_no: z.string(),
  bank_txn_no: z.string(),
  trade_type: z.enum(BANK_TRADE_TYPES).optional(),
  amount: z.string(),
  currency: z.string(),
  trade_state: z.enum(BANK_TRADE_STATES),
  auth_amount: opt,
  auth_expire_time: opt,
  capture_amount: opt,
  pay_time: opt,
  err_code: opt,
  err_msg: opt,
  attach: opt,
  notify_id: z.string(),
  notify_time: z.string(),
  sign: z.string(),
});
export type BankNotification = z.infer<typeof bankNotificationSchema>;

/** notify_type OPERATION: the result of an operation (the bank answers them at once; a notice may follow). */
export const bankOperationNotificationSchema = z.object({
  notify_type: z.literal("OPERATION"),
  merchant_no: z.string(),
  order_no: z.string(),
  bank_txn_no: z.string(),
  op_type: z.enum(BANK_OP_TYPES),
  request_no: z.string(),
  op_txn_no: z.string(),
  op_state: z.enum(BANK_OP_STATES),
  op_amount: z.string(),
  op_currency: z.string(),
  op_time: opt,
  op_err_code: opt,
  op_err_msg: opt,
  notify_id: z.string(),
  notify_time: z.string(),
  sign: z.string(),
});
export type BankOperationNotification = z.infer<typeof bankOperationNotificationSchema>;

export function signBankParams(params: Record<string, string>, key: string): Record<string, string> {
  return { ...params, sign_type: "MD5", sign: sign("MD5", canonicalParams(params), key) };
}

export function verifyBankParams(params: Record<string, unknown>, key: string): boolean {
  const signature = params["sign"];
  return typeof signature === "string" && verify("MD5", canonicalParams(params), signature, key);
}

type VerifiedNotification =
  | { ok: true; kind: "payment"; data: BankNotification }
  | { ok: true; kind: "operation"; data: BankOperationNotification }
  | { ok: false; reason: "signature_invalid" | "malformed"; detail: string };

export function createBankClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function post<T extends { rsp_code: string }>(
    path: string,
    params: Record<string, string>,
    timeoutMs: number,
    schema: z.ZodType<T>,
  ): Promise<ClientAnswer<T>> {
    const body = new URLSearchParams(signBankParams(params, endpoint.signingKey)).toString();
    const res = await opts.call(
      {
        url: `${endpoint.baseUrl}${path}`,
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
        body,
      },
      timeoutMs,
    );
    return classifyAnswer(res, (a) => {
      const parsedJson = parseJson(a.body);
      if (!parsedJson.ok) return { ok: false, detail: "not JSON" };
      const json = parsedJson.value;
      // The signature covers every field the bank sent, so verify the raw object, before any parsing.
      if (
        typeof json !== "object" ||
        json === null ||
        !verifyBankParams(json as Record<string, unknown>, endpoint.verifyKey)
      )
        return { ok: false, detail: "bad signature" };
      const parsed = schema.safeParse(json);
      if (!parsed.success) return { ok: false, detail: "unexpected answer shape" };
      return { ok: true, data: parsed.data, busy: parsed.data.rsp_code === BANK_BUSY_CODE };
    });
  }

  return {
    pay: (params: Record<string, string>, timeoutMs: number) =>
      post("/bank/gateway/pay", params, timeoutMs, bankAnswerSchema),
    query: (params: Record<string, string>, timeoutMs: number) =>
      post("/bank/gateway/query", params, timeoutMs, bankAnswerSchema),
    operate: (kind: OperationKind, params: Record<string, string>, timeoutMs: number) =>
      post(BANK_OPERATIONS[kind].path, params, timeoutMs, bankOperationAnswerSchema),
    queryOperation: (params: Record<string, string>, timeoutMs: number) =>
      post(BANK_OPERATION_QUERY_PATH, params, timeoutMs, bankOperationAnswerSchema),
    /** Verifies a form-encoded notification (about the payment, or about an operation); the signature covers every field. */
    verifyNotification(rawBody: string): VerifiedNotification {
      const fields = Object.fromEntries(new URLSearchParams(rawBody));
      if (typeof fields["sign"] !== "string")
        return { ok: false, reason: "signature_invalid", detail: "no sign field" };
      if (!verifyBankParams(fields, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "MD5 sign does not match" };
      if (fields["merchant_no"] !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another merchant" };
      if (fields["notify_type"] === "OPERATION") {
        const op = bankOperationNotificationSchema.safeParse(fields);
        return op.success
          ? { ok: true, kind: "operation", data: op.data }
          : { ok: false, reason: "malformed", detail: "missing or unknown operation notification fields" };
      }
      const parsed = bankNotificationSchema.safeParse(fields);
      if (!parsed.success) return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      return { ok: true, kind: "payment", data: parsed.data };
    },
  };
}
