import { z } from "zod";
import { canonicalParams, sign, verify } from "@pps/signing";
import type { OperationKind } from "@pps/domain";
import { classifyAnswer, parseJson, type ClientAnswer, type ResolvedOptions } from "../shared/adapter.ts";
import type { ChannelEndpoint } from "../types.ts";

/**
 * unionpay: a card scheme gateway. JSON bodies both ways; each carries `signature` = base64 RSA-SHA256
 * (PKCS#1 v1.5) over `canonicalParams(fields)` (sorted k=v, empty values and `signature` left out).
 * We sign with our private key; UnionPay signs answers and notifications with its own private key.
 *
 * Every transaction has a type (`txnType`) and its own orderId (ours) and queryId (theirs): 01 consume,
 * 02 pre-authorization, and on an earlier one (named by `origQryId`): 03 pre-authorization completion,
 * 32 pre-authorization cancel, 31 consume cancel (消费撤销, same day), 04 refund (退货, once settled;
 * its result comes later by notification to backUrl, or by query).
 */

/** Transaction states (origRespCode in answers, respCode in notifications), ISO 8583 flavoured. */
export const UNIONPAY_TXN_CODES = ["00", "03", "04", "05", "51", "31", "32"] as const;
export type UnionPayTxnCode = (typeof UNIONPAY_TXN_CODES)[number];

export const UNIONPAY_TXN_TYPES = ["01", "02", "03", "04", "31", "32"] as const;
export type UnionPayTxnType = (typeof UNIONPAY_TXN_TYPES)[number];

/** Our operation kind → the scheme's transaction type. */
export const UNIONPAY_OPERATION_TXN_TYPE: Record<OperationKind, UnionPayTxnType> = {
  capture: "03",
  void: "32",
  cancel: "31",
  refund: "04",
};

export const UNIONPAY_BUSY_CODE = "96";

const opt = z.string().optional();

/**
 * A pay or payment-query answer. In a query, txnType is the transaction that set the order's state:
 * 01 consume or 02 pre-authorization (origRespCode then tells how it went), 03 completed, 31 consume
 * cancelled, 32 pre-authorization cancelled (also when it lapsed); txnAmt is that transaction's amount.
 */
export const unionpayAnswerSchema = z.object({
  version: opt,
  respCode: z.string(),
  respMsg: opt,
  merId: opt,
  orderId: opt,
  queryId: opt,
  txnType: z.enum(UNIONPAY_TXN_TYPES).optional(),
  txnAmt: opt,
  currencyCode: opt,
  origRespCode: z.enum(UNIONPAY_TXN_CODES).optional(),
  origRespMsg: opt,
  /** A pre-authorization: until when the scheme holds it. */
  authExpireTime: opt,
  payUrl: opt,
  traceTime: opt,
  signature: z.string(),
});
export type UnionPayAnswer = z.infer<typeof unionpayAnswerSchema>;

/**
 * The answer of a back transaction (03, 04, 31, 32) or of its query: the transaction itself (orderId is
 * our operation id, queryId theirs, origQryId the payment) with its result so far in origRespCode
 * (00 done, 03 in progress, or the code it failed with).
 */
export const unionpayOperationAnswerSchema = z.object({
  version: opt,
  respCode: z.string(),
  respMsg: opt,
  merId: opt,
  txnType: z.enum(UNIONPAY_TXN_TYPES).optional(),
  orderId: opt,
  queryId: opt,
  origQryId: opt,
  txnAmt: opt,
  currencyCode: opt,
  origRespCode: opt,
  origRespMsg: opt,
  traceTime: opt,
  signature: z.string(),
});
export type UnionPayOperationAnswer = z.infer<typeof unionpayOperationAnswerSchema>;

export const unionpayNotificationSchema = z.object({
  version: opt,
  merId: z.string(),
  orderId: z.string(),
  queryId: z.string(),
  txnType: z.enum(UNIONPAY_TXN_TYPES).optional(),
  txnAmt: z.string().regex(/^\d+$/),
  currencyCode: z.string(),
  respCode: z.enum(UNIONPAY_TXN_CODES),
  respMsg: opt,
  authExpireTime: opt,
  traceNo: z.string(),
  traceTime: z.string(),
  reqReserved: opt,
  signature: z.string(),
});
export type UnionPayNotification = z.infer<typeof unionpayNotificationSchema>;

/** The notification of a back transaction's result (a refund's, above all): it names the payment by origQryId. */
export const unionpayOperationNotificationSchema = z.object({
  version: opt,
  merId: z.string(),
  txnType: z.enum(["03", "04", "31", "32"]),
  orderId: z.string(),
  queryId: z.string(),
  origQryId: z.string(),
  txnAmt: z.string().regex(/^\d+$/),
  currencyCode: z.string(),
  respCode: z.string(),
  respMsg: opt,
  traceNo: z.string(),
  traceTime: z.string(),
  signature: z.string(),
});
export type UnionPayOperationNotification = z.infer<typeof unionpayOperationNotificationSchema>;

export function signUnionPay(fields: Record<string, string>, privateKeyPem: string): Record<string, string> {
  return { ...fields, signature: sign("RSA_SHA256", canonicalParams(fields), privateKeyPem) };
}

export function verifyUnionPay(fields: Record<string, unknown>, publicKeyPem: string): boolean {
  const signature = fields["signature"];
  return typeof signature === "string" && verify("RSA_SHA256", canonicalParams(fields), signature, publicKeyPem);
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  const parsed = parseJson(text);
  return parsed.ok && typeof parsed.value === "object" && parsed.value !== null && !Array.isArray(parsed.value)
    ? (parsed.value as Record<string, unknown>)
    : null;
}

type VerifiedNotification =
  | { ok: true; kind: "payment"; data: UnionPayNotification }
  | { ok: true; kind: "operation"; data: UnionPayOperationNotification }
  | { ok: false; reason: "signature_invalid" | "malformed"; detail: string };

export function createUnionPayClient(endpoint: ChannelEndpoint, opts: ResolvedOptions) {
  async function post<T extends { respCode: string }>(
    path: string,
    fields: Record<string, string>,
    timeoutMs: number,
    schema: z.ZodType<T>,
  ): Promise<ClientAnswer<T>> {
    const body = JSON.stringify(signUnionPay(fields, endpoint.signingKey));
    const res = await opts.call(
      { url: `${endpoint.baseUrl}${path}`, method: "POST", headers: { "content-type": "application/json" }, body },
      timeoutMs,
    );
    return classifyAnswer(res, (a) => {
      const json = parseJsonObject(a.body);
      if (!json) return { ok: false, detail: "not a JSON object" };
      if (!verifyUnionPay(json, endpoint.verifyKey)) return { ok: false, detail: "bad signature" };
      const parsed = schema.safeParse(json);
      if (!parsed.success) return { ok: false, detail: "unexpected answer shape" };
      return { ok: true, data: parsed.data, busy: parsed.data.respCode === UNIONPAY_BUSY_CODE };
    });
  }

  return {
    pay: (fields: Record<string, string>, timeoutMs: number) =>
      post("/unionpay/gateway/api/pay", fields, timeoutMs, unionpayAnswerSchema),
    query: (fields: Record<string, string>, timeoutMs: number) =>
      post("/unionpay/gateway/api/query", fields, timeoutMs, unionpayAnswerSchema),
    /** 03 / 04 / 31 / 32 on an earlier transaction (backTransReq). */
    operate: (fields: Record<string, string>, timeoutMs: number) =>
      post("/unionpay/gateway/api/backTransReq", fields, timeoutMs, unionpayOperationAnswerSchema),
    /** The same query as for payments, naming the back transaction by its orderId and type. */
    queryOperation: (fields: Record<string, string>, timeoutMs: number) =>
      post("/unionpay/gateway/api/query", fields, timeoutMs, unionpayOperationAnswerSchema),
    verifyNotification(rawBody: string): VerifiedNotification {
      const json = parseJsonObject(rawBody);
      if (!json) return { ok: false, reason: "malformed", detail: "not a JSON object" };
      if (!verifyUnionPay(json, endpoint.verifyKey))
        return { ok: false, reason: "signature_invalid", detail: "RSA signature does not verify" };
      if (json["merId"] !== endpoint.merchantId)
        return { ok: false, reason: "malformed", detail: "notification for another merchant" };
      // A back transaction names the payment it applies to; a payment's own notification does not.
      if (json["origQryId"] !== undefined) {
        const op = unionpayOperationNotificationSchema.safeParse(json);
        return op.success
          ? { ok: true, kind: "operation", data: op.data }
          : { ok: false, reason: "malformed", detail: "missing or unknown operation notification fields" };
      }
      const parsed = unionpayNotificationSchema.safeParse(json);
      if (!parsed.success) return { ok: false, reason: "malformed", detail: "missing or unknown notification fields" };
      return { ok: true, kind: "payment", data: parsed.data };
    },
  };
}
