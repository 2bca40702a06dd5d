import type { Context } from "hono";
import { wire } from "@pps/channels";
import type {
  Charge,
  ChannelProtocol,
  ChargeStatus,
  FailureReason,
  Rejection,
  SimPayRequest,
} from "../channels/protocol.ts";
import { createOrGetCharge, expireIfDue, findCharge, paidState, UNPAID_MONEY, type ChargeRef } from "./book.ts";
import { enqueueFinalCallbacks, finalCallbacksNow } from "./callbacks.ts";
import type { SimDeps, Tx } from "./deps.ts";
import { toFaultSet, type FaultOp } from "./faults.ts";
import { sleep } from "./sleep.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

/** Channel-specific steps of a pay request around the common pipeline. */
export type PayHooks = {
  /** Values computed at creation (e.g. PayPal's settlement at the rate of the day). */
  extraValues?: (req: SimPayRequest) => Partial<Charge>;
  /** Runs in the creating transaction (e.g. the carrier sends its SMS code). */
  afterCreate?: (tx: Tx, deps: SimDeps, charge: Charge) => Promise<Charge>;
  /** A sync channel performs the automated payer action inside the pay request and answers the result. */
  payerActsSynchronously?: boolean;
};

export function originOf(c: Context, deps: SimDeps): string {
  return deps.config.publicUrl ?? new URL(c.req.url).origin;
}

export function internalError(c: Context): Response {
  return c.text("Internal Server Error", 500);
}

function commonRejection(proto: ChannelProtocol, req: SimPayRequest): Rejection | null {
  if (!Number.isSafeInteger(req.amount) || req.amount <= 0)
    return { kind: "invalid_request", message: "amount must be a positive amount" };
  if (!proto.capabilities.currencies.includes(req.currency))
    return { kind: "currency_not_supported", message: `currency ${req.currency} is not supported` };
  if (proto.capabilities.maxAmount !== undefined && req.amount > proto.capabilities.maxAmount) {
    return { kind: "amount_limit_exceeded", message: `amount exceeds the limit of ${proto.capabilities.maxAmount}` };
  }
  if (!/^https?:\/\//.test(req.callbackUrl))
    return { kind: "invalid_request", message: "notification URL must be http(s)" };
  if (req.captureMode === "manual" && !proto.capabilities.flows.authorize)
    return { kind: "flow_not_supported", message: "this channel does not offer pre-authorization" };
  return null;
}

/** The channel-wide faults for an operation, then the request's own. */
async function faultsFor(
  deps: SimDeps,
  proto: ChannelProtocol,
  op: FaultOp,
  ref: string | null,
  requestFaults: string[],
): Promise<string[]> {
  return [...(await deps.faults.active(proto.id, op, ref)), ...requestFaults];
}

/**
 * The common pay pipeline: connection-level faults first (nothing taken), then validation, the idempotent
 * insert, the initial state the faults and payer automation call for, and the answer (held back or
 * replaced by a 500 when the fault says so, after the charge). The insert, with the callbacks when the
 * final state is known at once, is one statement shared with concurrent requests (deps.charges).
 */
export async function handlePay(
  c: Context,
  deps: SimDeps,
  proto: ChannelProtocol,
  parsed: Parsed<SimPayRequest>,
  hooks: PayHooks = {},
): Promise<Response> {
  const origin = originOf(c, deps);
  const ctx = { c, origin, op: "pay" as const, created: false };
  if (!parsed.ok) return proto.renderRejection(ctx, parsed.rejection);
  const req = parsed.value;
  const meta = wire.decodePassthrough(req.passthrough);
  const directives = await faultsFor(deps, proto, "pay", req.merchantRef, meta["sim_fault"] ? [meta["sim_fault"]] : []);
  const faults = toFaultSet(directives);

  if (faults.flags.has("unavailable")) return proto.renderBusy(ctx);
  if (faults.latencyMs > 0) await sleep(faults.latencyMs, [deps.shutdown, c.req.raw.signal]);
  if (faults.flags.has("5xx")) return internalError(c);

  const rejection = commonRejection(proto, req) ?? proto.validate(req);
  if (rejection) return proto.renderRejection(ctx, rejection);

  const now = new Date();
  const payer =
    meta["sim_payer"] === "auto_confirm" ? "confirm" : meta["sim_payer"] === "auto_cancel" ? "cancel" : null;
  // "succeeded" below means the payer paid: a manual charge is then authorized instead (paidState).
  let status: ChargeStatus = "awaiting_payer";
  let failureReason: FailureReason | null = null;
  let autoAction: string | null = null;
  let announce = false;
  if (faults.flags.has("decline") || faults.flags.has("insufficient_funds")) {
    // A sync decline is its own answer: no callback follows it.
    status = "failed";
    failureReason = faults.flags.has("decline") ? "declined" : "insufficient_funds";
  } else if (faults.flags.has("timeout") || faults.flags.has("5xx_after_charge")) {
    // The money is taken; only the answer goes missing. The callback still tells.
    status = "succeeded";
    announce = true;
  } else if (payer && hooks.payerActsSynchronously) {
    status = payer === "confirm" ? "succeeded" : "closed";
    failureReason = payer === "confirm" ? null : "payer_canceled";
    announce = true;
  } else if (payer) {
    status = "paying";
    autoAction = payer;
  }

  // A parser that sets no mode (a channel not yet taught capture later) asks for a sale.
  const captureMode = req.captureMode ?? "auto";
  const money =
    status === "succeeded"
      ? paidState({ captureMode, amount: req.amount }, proto.capabilities.flows, now)
      : { ...UNPAID_MONEY, status };
  const charge: Charge = {
    id: proto.newTxnId(),
    channel: proto.id,
    merchantId: req.merchantId,
    merchantRef: req.merchantRef,
    product: req.product,
    amount: req.amount,
    currency: req.currency,
    settleAmount: null,
    settleCurrency: null,
    fxRate: null,
    ...money,
    captureMode,
    refundedAmount: 0,
    refundCount: 0,
    failureReason,
    subject: req.subject,
    bankCode: req.bankCode,
    flow: req.flow,
    payerPhone: req.payerPhone,
    callbackUrl: req.callbackUrl,
    returnUrl: req.returnUrl,
    passthrough: req.passthrough,
    faults: directives,
    extra: req.extra,
    smsCode: null,
    smsAttempts: 0,
    autoAction,
    autoActionAt: autoAction ? new Date(now.getTime() + deps.config.autoPayerDelayMs) : null,
    expiresAt: req.expiresAt,
    closedAt: status === "failed" || status === "closed" ? now : null,
    createdAt: now,
    updatedAt: now,
    ...hooks.extraValues?.(req),
  };

  const { charge: stored, created } = hooks.afterCreate
    ? await createInTransaction(deps, charge, announce, hooks.afterCreate)
    : await deps.charges.submit({ charge, callbacks: announce ? await finalCallbacksNow(deps, charge) : [] });

  if (
    !created &&
    (stored.amount !== req.amount || stored.currency !== req.currency || stored.product !== req.product)
  ) {
    return proto.renderRejection(ctx, {
      kind: "order_conflict",
      message: `reference ${req.merchantRef} was used for another order`,
    });
  }
  if (created && faults.flags.has("timeout")) {
    // Hold the answer until long after the caller gave up (or the client hangs up, or we shut down).
    await sleep(deps.config.timeoutHoldMs, [deps.shutdown, c.req.raw.signal]);
  }
  if (created && faults.flags.has("5xx_after_charge")) return internalError(c);
  return proto.renderCharge({ ...ctx, created }, await expireIfDue(deps.db, stored));
}

/** The one-by-one creation, for a channel with steps of its own in the creating transaction. */
function createInTransaction(
  deps: SimDeps,
  values: Charge,
  announce: boolean,
  afterCreate: NonNullable<PayHooks["afterCreate"]>,
): Promise<{ charge: Charge; created: boolean }> {
  return deps.db.transaction(async (tx) => {
    const result = await createOrGetCharge(tx, values);
    if (!result.created) return result;
    const charge = await afterCreate(tx, deps, result.charge);
    if (announce) await enqueueFinalCallbacks(tx, deps, charge);
    return { charge, created: true };
  });
}

/** The common query pipeline: the book, then channel-wide query faults (scoped by the order's reference). */
export async function handleQuery(
  c: Context,
  deps: SimDeps,
  proto: ChannelProtocol,
  parsed: Parsed<{ merchantId: string; ref: ChargeRef }>,
): Promise<Response> {
  const ctx = { c, origin: originOf(c, deps), op: "query" as const, created: false };
  if (!parsed.ok) return proto.renderRejection(ctx, parsed.rejection);
  const charge = await findCharge(deps.db, proto.id, parsed.value.merchantId, parsed.value.ref);
  const faults = toFaultSet(
    await faultsFor(deps, proto, "query", charge?.merchantRef ?? parsed.value.ref.merchantRef ?? null, []),
  );
  if (faults.flags.has("unavailable")) return proto.renderBusy(ctx);
  if (faults.latencyMs > 0) await sleep(faults.latencyMs, [deps.shutdown, c.req.raw.signal]);
  if (faults.flags.has("5xx")) return internalError(c);
  if (faults.flags.has("timeout")) await sleep(deps.config.timeoutHoldMs, [deps.shutdown, c.req.raw.signal]);
  if (!charge) return proto.renderRejection(ctx, { kind: "not_found", message: "no such order" });
  return proto.renderCharge(ctx, await expireIfDue(deps.db, charge));
}
