import { z } from "zod";
import { canonicalParams, sign, verify } from "@pps/signing";
import { classifyAnswer, parseJson, type ClientAnswer, type ResolvedOptions } from "../shared/adapter.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * bank_direct: a direct bank gateway (CMB-like). Requests are form-encoded; answers are JSON; callbacks are
 * form-encoded. Every message carries `sign` = uppercase hex MD5 of `canonicalParams(fields) + "&key=" + key`
 * (sorted k=v pairs, empty values, `sign` and `sign_type` left out), one shared key for both directions.
 */
export const BANK_TRADE_STATES = ["PROCESSING", "PAYING", "SUCCESS", "FAILED", "CLOSED"] as const;
export type BankTradeState = (typeof BANK_TRADE_STATES)[number];

/** rsp_code "9999": the bank is busy and took nothing. */
export const BANK_BUSY_CODE = "9999";

const opt = z.string().optional();

export const bankAnswerSchema = z.object({
  rsp_code: z.string(),
  rsp_msg: opt,
  merchant_no: opt,
  order_no: opt,
  bank_txn_no: opt,
  trade_state: z.enum(BANK_TRADE_STATES).optional(),
  pay_url: opt,
  amount: opt,
  currency: opt,
  pay_time: opt,
  err_code: opt,
  err_msg: opt,
  sign: z.string(),
});
export type BankAnswer = z.infer<typeof bankAnswerSchema>;

export const bankNotificationSchema = z.object({
  merchant_no: z.string(),
  order_no: z.string(),
  bank_txn_no: z.string(),
  amount: z.string(),
  currency: z.string(),
  trade_state: z.enum(BANK_TRADE_STATES),
  pay_time: opt,
  err_code: opt,
  err_msg: opt,
  attach: opt,
  notify_id: z.string(),
  notify_time: z.string(),
  sign: z.string(),
});
export type BankNotification = z.infer<typeof bankNotificationSchema>;

export function signBankParams(params: Record<string, string>, key: string): Record<string, string> {
  return { ...params, sign_type: "MD5", sign: sign("MD5", canonicalParams(params), key) };
}

export function verifyBankParams(params: Record<string, unknown>, key: string): boolean {
  const signature = params["sign"];
  return typeof signature === "string" && verify("MD5", canonicalParams(params), signature, key);
}

export function createBankClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function post(
    path: string,
    params: Record<string, string>,
    timeoutMs: number,
  ): Promise<ClientAnswer<BankAnswer>> {
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
      const parsed = bankAnswerSchema.safeParse(json);
      if (!parsed.success) return { ok: false, detail: "unexpected answer shape" };
      return { ok: true, data: parsed.data, busy: parsed.data.rsp_code === BANK_BUSY_CODE };
    });
  }

  return {
    pay: (params: Record<string, string>, timeoutMs: number) => post("/bank/gateway/pay", params, timeoutMs),
    query: (params: Record<string, string>, timeoutMs: number) => post("/bank/gateway/query", params, timeoutMs),
    /** Verifies a form-encoded notification; the signature covers every field. */
    verifyNotification(
      rawBody: string,
    ): { ok: true; data: BankNotification } | { ok: false; reason: "signature_invalid" | "malformed"; detail: string } {
      const fields = Object.fromEntries(new URLSearchParams(rawBody));
      if (typeof fields["sign"] !== "string")
        return { ok: false, reason: "signature_invalid", detail: "no sign field" };
      if (!verifyBankParams(fields, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "MD5 sign does not match" };
      const parsed = bankNotificationSchema.safeParse(fields);
      if (!parsed.success) return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      if (parsed.data.merchant_no !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another merchant" };
      return { ok: true, data: parsed.data };
    },
  };
}
