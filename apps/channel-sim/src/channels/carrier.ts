import { randomInt, timingSafeEqual } from "node:crypto";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { CARRIER_CAPABILITIES, type DevChannelKeys } from "@pps/channels";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";
import { sign, verify } from "@pps/signing";
import { BEIJING_OFFSET_MS } from "@pps/domain";
import { findChargeById, lockCharge, updateCharge } from "../sim/book.ts";
import type { SimDeps, Tx } from "../sim/deps.ts";
import { handleOperation, handleOperationQuery } from "../sim/operations.ts";
import { handlePay, handleQuery, type Parsed } from "../sim/pay-flow.ts";
import { applyPayerActionTx } from "../sim/payer-actions.ts";
import { formatAmount } from "../sim/payer-pages.ts";
import { maskPhone, PHONE, sendSms } from "../sim/sms.ts";
import { randomAlnum } from "./ids.ts";
import type {
  Charge,
  ChannelProtocol,
  Rejection,
  RejectionKind,
  RenderContext,
  SimOperation,
  SimOperationRequest,
  SimPayRequest,
} from "./protocol.ts";

/**
 * carrier: mobile carrier billing (JSON, HMAC-SHA256 headers). A charge texts a 6-digit code to the
 * subscriber; the payer confirms with POST /carrier/confirm {txnId, code}; three wrong codes fail it.
 * CNY only, at most 50000 fen per charge. The result reaches the merchant by callback.
 *
 * Refunds go back on the subscriber's bill (POST /carrier/v1/refunds, our number as partnerRefundId): at
 * most 10000 fen each, one per charge, within the charge's bill period (its calendar month, Beijing time),
 * answered at once. No pre-authorization, no cancel.
 */
export const MAX_CODE_ATTEMPTS = 3;

function chargeStatus(charge: Pick<Charge, "status" | "failureReason">): string {
  switch (charge.status) {
    case "awaiting_payer":
      return "PENDING_CONFIRMATION";
    case "paying":
      return "PROCESSING";
    case "succeeded":
      return "SUCCEEDED";
    case "closed":
      return charge.failureReason === "payer_canceled" ? "CANCELED" : "EXPIRED";
    // failed (authorized, voided and canceled never happen here: no pre-authorization, no cancel).
    default:
      return "FAILED";
  }
}

function failureReason(charge: Pick<Charge, "status" | "failureReason">): [string, string] | [null, null] {
  if (charge.status !== "failed" && charge.status !== "closed") return [null, null];
  switch (charge.failureReason) {
    case "insufficient_funds":
      return ["INSUFFICIENT_BALANCE", "prepaid balance too low"];
    case "verification_failed":
      return ["CODE_ATTEMPTS_EXCEEDED", "wrong confirmation code entered too many times"];
    case "payer_canceled":
      return ["PAYER_CANCELED", "subscriber canceled"];
    case "expired":
      return ["EXPIRED", "not confirmed in time"];
    default:
      return ["SUBSCRIBER_BARRED", "subscriber barred from carrier billing"];
  }
}

const ERRORS: Record<RejectionKind, [400 | 401 | 404 | 409 | 422, string]> = {
  invalid_request: [400, "INVALID_REQUEST"],
  bank_not_supported: [400, "INVALID_REQUEST"],
  signature_invalid: [401, "INVALID_SIGNATURE"],
  unknown_merchant: [401, "UNKNOWN_PARTNER"],
  currency_not_supported: [422, "CURRENCY_NOT_SUPPORTED"],
  amount_limit_exceeded: [422, "AMOUNT_LIMIT_EXCEEDED"],
  invalid_phone: [422, "INVALID_MSISDN"],
  order_conflict: [409, "ORDER_CONFLICT"],
  not_found: [404, "NOT_FOUND"],
  // The flows carrier billing does not have at all.
  flow_not_supported: [422, "OPERATION_NOT_SUPPORTED"],
  cancel_window_closed: [422, "OPERATION_NOT_SUPPORTED"],
  amount_exceeds_authorized: [422, "OPERATION_NOT_SUPPORTED"],
  authorization_expired: [422, "OPERATION_NOT_SUPPORTED"],
  not_settled: [422, "CHARGE_NOT_SETTLED"],
  refund_window_closed: [422, "BILL_PERIOD_CLOSED"],
  refund_limit_reached: [422, "REFUND_LIMIT_REACHED"],
  amount_exceeds_refundable: [422, "REFUND_AMOUNT_EXCEEDED"],
  invalid_state: [409, "CHARGE_NOT_REFUNDABLE"],
};

/** A refund's own refusal codes where the pay-side name would mislead (a refund above the small-amount cap). */
const REFUND_ERRORS: Partial<Record<RejectionKind, string>> = {
  amount_limit_exceeded: "REFUND_AMOUNT_LIMIT_EXCEEDED",
  order_conflict: "REFUND_CONFLICT",
};

/** The bill a charge is on: the calendar month, Beijing time, in which it was paid (YYYY-MM). */
function billPeriod(charge: Charge): string {
  const at = charge.capturedAt ?? charge.paidAt ?? charge.createdAt;
  return new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 7);
}

function refundStatus(op: SimOperation): string {
  return op.status === "succeeded" ? "SUCCEEDED" : op.status === "processing" ? "PROCESSING" : "FAILED";
}

export function createCarrierProtocol(keys: DevChannelKeys): ChannelProtocol {
  const signedHeaders = (body: string) => {
    const ts = String(Date.now());
    return { "x-timestamp": ts, "x-signature": sign("HMAC_SHA256", `${ts}\n${body}`, keys.channelSigningKey) };
  };
  const send = (c: Context, payload: unknown, status: 200 | 201 | 400 | 401 | 404 | 409 | 422 | 503) => {
    const body = JSON.stringify(payload);
    return c.body(body, status, { "content-type": "application/json", ...signedHeaders(body) });
  };
  const chargeJson = (charge: Charge) => {
    const [reason, message] = failureReason(charge);
    return {
      chargeId: charge.id,
      partnerOrderId: charge.merchantRef,
      status: chargeStatus(charge),
      amount: charge.amount,
      currency: charge.currency,
      msisdnMasked: maskPhone(charge.payerPhone ?? ""),
      failureReason: reason,
      failureMessage: message,
      createdAt: charge.createdAt.toISOString(),
      completedAt: (charge.paidAt ?? charge.closedAt)?.toISOString() ?? null,
      refundedAmount: charge.refundedAmount,
    };
  };
  const rejection = ({ c, op }: RenderContext, r: Rejection) => {
    const [status, code] = ERRORS[r.kind];
    const refundCode = op === "refund" || op === "query_operation" ? REFUND_ERRORS[r.kind] : undefined;
    return send(c, { error: { code: refundCode ?? code, message: r.message } }, status);
  };
  const refundJson = (op: SimOperation, charge: Charge) => ({
    refundId: op.id,
    partnerRefundId: op.merchantRef,
    chargeId: charge.id,
    partnerOrderId: charge.merchantRef,
    status: refundStatus(op),
    amount: op.amount,
    currency: op.currency,
    billPeriod: billPeriod(charge),
    failureReason: op.status === "failed" ? "REFUND_DECLINED" : null,
    failureMessage: op.status === "failed" ? "the billing platform declined the refund" : null,
    reason: op.reason,
    createdAt: op.createdAt.toISOString(),
    completedAt: op.completedAt?.toISOString() ?? null,
  });
  return {
    id: "carrier",
    capabilities: CARRIER_CAPABILITIES,
    staleStatus: "awaiting_payer",
    newTxnId: () => `CHG${randomAlnum(16)}`,
    validate(req) {
      if (req.product !== "carrier_billing")
        return { kind: "invalid_request", message: `product ${req.product} is not offered` };
      if (!req.payerPhone || !PHONE.test(req.payerPhone))
        return { kind: "invalid_phone", message: "msisdn is not a valid subscriber number" };
      return null;
    },
    renderCharge({ c, op, created }, charge) {
      return send(c, chargeJson(charge), op === "pay" && created ? 201 : 200);
    },
    renderRejection: rejection,
    renderBusy({ c }) {
      return send(c, { error: { code: "SERVICE_BUSY", message: "billing platform busy, nothing charged" } }, 503);
    },
    renderCallback(charge, notificationId, at) {
      const body = JSON.stringify({
        eventId: notificationId,
        eventTime: at.toISOString(),
        partnerId: charge.merchantId,
        attach: charge.passthrough,
        charge: chargeJson(charge),
      });
      return {
        contentType: "application/json",
        headers: { ...signedHeaders(body), "x-partner-id": charge.merchantId },
        body,
      };
    },
    ackAccepted: (status) => status >= 200 && status < 300,
    renderOperation(ctx, op, charge) {
      if (op.kind !== "refund")
        return rejection(ctx, { kind: "flow_not_supported", message: `carrier billing has no ${op.kind}` });
      return send(ctx.c, refundJson(op, charge), ctx.created ? 201 : 200);
    },
    renderOperationCallback(op, charge, notificationId, at) {
      const body = JSON.stringify({
        eventId: notificationId,
        eventTime: at.toISOString(),
        partnerId: charge.merchantId,
        refund: refundJson(op, charge),
      });
      return {
        contentType: "application/json",
        headers: { ...signedHeaders(body), "x-partner-id": charge.merchantId },
        body,
      };
    },
  };
}

function verifyRequest(c: Context, body: string, keys: DevChannelKeys): Rejection | null {
  const url = new URL(c.req.url);
  const ts = c.req.header("x-timestamp");
  const sig = c.req.header("x-signature");
  if (
    !ts ||
    !sig ||
    !verify("HMAC_SHA256", `${ts}\n${c.req.method}\n${url.pathname}${url.search}\n${body}`, sig, keys.merchantVerifyKey)
  ) {
    return { kind: "signature_invalid", message: "X-Signature does not verify" };
  }
  if (c.req.header("x-partner-id") !== keys.merchantId) return { kind: "unknown_merchant", message: "unknown partner" };
  return null;
}

const chargeRequest = z.object({
  partnerId: z.string(),
  partnerOrderId: z.string().min(1),
  msisdn: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  description: z.string().optional(),
  notifyUrl: z.string().min(1),
  attach: z.string().optional(),
  expiresAt: z.string().optional(),
});

function parseCharge(body: string): Parsed<SimPayRequest> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, rejection: { kind: "invalid_request", message: "body is not JSON" } };
  }
  const parsed = chargeRequest.safeParse(json);
  if (!parsed.success)
    return { ok: false, rejection: { kind: "invalid_request", message: "missing or invalid fields" } };
  const r = parsed.data;
  const expiresAt =
    r.expiresAt && !Number.isNaN(Date.parse(r.expiresAt)) ? new Date(r.expiresAt) : new Date(Date.now() + 15 * 60_000);
  return {
    ok: true,
    value: {
      merchantId: r.partnerId,
      merchantRef: r.partnerOrderId,
      product: "carrier_billing",
      amount: r.amount,
      currency: r.currency,
      subject: r.description ?? "",
      bankCode: null,
      flow: null,
      payerPhone: r.msisdn,
      callbackUrl: r.notifyUrl,
      returnUrl: null,
      passthrough: r.attach ?? null,
      expiresAt,
      extra: {},
      // Carrier billing charges at once: there is no pre-authorization to ask for.
      captureMode: "auto",
    },
  };
}

const refundRequest = z
  .object({
    partnerId: z.string(),
    partnerRefundId: z.string().min(1),
    chargeId: z.string().min(1).optional(),
    partnerOrderId: z.string().min(1).optional(),
    amount: z.number().int(),
    currency: z.string(),
    reason: z.string().optional(),
  })
  .refine((r) => r.chargeId !== undefined || r.partnerOrderId !== undefined);

function parseRefund(body: string, merchantId: string): Parsed<SimOperationRequest> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, rejection: { kind: "invalid_request", message: "body is not JSON" } };
  }
  const parsed = refundRequest.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      rejection: { kind: "invalid_request", message: "missing or invalid fields (chargeId or partnerOrderId needed)" },
    };
  const r = parsed.data;
  if (r.partnerId !== merchantId)
    return { ok: false, rejection: { kind: "unknown_merchant", message: "unknown partnerId" } };
  return {
    ok: true,
    value: {
      kind: "refund",
      merchantId,
      charge: { txnId: r.chargeId ?? null, merchantRef: r.partnerOrderId ?? null },
      merchantRef: r.partnerRefundId,
      amount: r.amount,
      currency: r.currency,
      callbackUrl: null,
      reason: r.reason || null,
    },
  };
}

/** Texts the code for a charge that waits for the subscriber (in the creating transaction). */
async function textCode(tx: Tx, charge: Charge): Promise<Charge> {
  if (charge.status !== "awaiting_payer" || !charge.payerPhone) return charge;
  const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
  await sendSms(
    tx,
    charge.payerPhone,
    `[Carrier Billing] Code ${code}: confirm a charge of ${formatAmount(charge)} for "${charge.subject}". Do not share it.`,
    "carrier",
  );
  return updateCharge(tx, charge.id, { smsCode: code });
}

const confirmBody = z.object({ txnId: z.string().min(1), code: z.string().min(1).max(12) });

function sameCode(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export function carrierRoutes(deps: SimDeps, proto: ChannelProtocol, keys: DevChannelKeys) {
  const app = new Hono<AppEnv>();
  app.post("/v1/charges", async (c) => {
    const body = await c.req.text();
    const bad = verifyRequest(c, body, keys);
    const parsed = bad ? { ok: false as const, rejection: bad } : parseCharge(body);
    if (parsed.ok && parsed.value.merchantId !== keys.merchantId)
      return handlePay(c, deps, proto, {
        ok: false,
        rejection: { kind: "unknown_merchant", message: "unknown partnerId" },
      });
    return handlePay(c, deps, proto, parsed, { afterCreate: (tx, _deps, charge) => textCode(tx, charge) });
  });
  const query = (c: Context, ref: { merchantRef?: string | null; txnId?: string | null }) => {
    const bad = verifyRequest(c, "", keys);
    return handleQuery(
      c,
      deps,
      proto,
      bad ? { ok: false, rejection: bad } : { ok: true, value: { merchantId: keys.merchantId, ref } },
    );
  };
  app.get("/v1/charges/:id", (c) => query(c, { txnId: c.req.param("id") }));
  app.get("/v1/charges", (c) => query(c, { merchantRef: c.req.query("partnerOrderId") ?? null }));

  app.post("/v1/refunds", async (c) => {
    const body = await c.req.text();
    const bad = verifyRequest(c, body, keys);
    return handleOperation(c, deps, proto, bad ? { ok: false, rejection: bad } : parseRefund(body, keys.merchantId));
  });
  const refundQuery = (c: Context, ref: { opId?: string | null; merchantRef?: string | null }) => {
    const bad = verifyRequest(c, "", keys);
    return handleOperationQuery(
      c,
      deps,
      proto,
      bad
        ? { ok: false, rejection: bad }
        : ref.opId || ref.merchantRef
          ? { ok: true, value: { merchantId: keys.merchantId, kind: "refund", ...ref } }
          : { ok: false, rejection: { kind: "invalid_request", message: "refundId or partnerRefundId is required" } },
    );
  };
  app.get("/v1/refunds/:id", (c) => refundQuery(c, { opId: c.req.param("id") }));
  app.get("/v1/refunds", (c) => refundQuery(c, { merchantRef: c.req.query("partnerRefundId") ?? null }));

  // The subscriber's side: type the code from the SMS (an unsigned, payer-facing call).
  app.post("/confirm", async (c) => {
    const parsed = confirmBody.safeParse(await c.req.json());
    if (!parsed.success)
      throw new AppError("request.validation_failed", 'body must be {"txnId","code"}', parsed.error.issues);
    const { txnId, code } = parsed.data;
    if (!(await findChargeById(deps.db, proto.id, txnId))) throw new AppError("request.not_found", "no such charge");
    const result = await deps.db.transaction(async (tx) => {
      const charge = (await lockCharge(tx, txnId))!;
      if (charge.status !== "awaiting_payer")
        return {
          http: 409 as const,
          body: {
            error: { code: "NOT_PENDING", message: `charge is ${chargeStatus(charge)}` },
            status: chargeStatus(charge),
          },
        };
      if (charge.smsCode && sameCode(charge.smsCode, code)) {
        const r = await applyPayerActionTx(tx, deps, txnId, { type: "pay" });
        return {
          http: r.outcome === "applied" ? (200 as const) : (409 as const),
          body: { status: chargeStatus(r.charge!) },
        };
      }
      const attempts = charge.smsAttempts + 1;
      if (attempts >= MAX_CODE_ATTEMPTS) {
        await updateCharge(tx, txnId, { smsAttempts: attempts });
        const r = await applyPayerActionTx(tx, deps, txnId, { type: "fail", reason: "verification_failed" });
        return {
          http: 422 as const,
          body: {
            error: { code: "CODE_ATTEMPTS_EXCEEDED", message: "too many wrong codes; charge failed" },
            status: chargeStatus(r.charge!),
            attemptsLeft: 0,
          },
        };
      }
      await updateCharge(tx, txnId, { smsAttempts: attempts });
      return {
        http: 422 as const,
        body: {
          error: { code: "WRONG_CODE", message: "wrong confirmation code" },
          status: chargeStatus(charge),
          attemptsLeft: MAX_CODE_ATTEMPTS - attempts,
        },
      };
    });
    return c.json(result.body, result.http);
  });
  return app;
}
