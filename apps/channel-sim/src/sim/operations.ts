import { and, asc, eq, gt, gte, lt, sql, type SQL } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Context } from "hono";
import type { ChannelFlows, ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import { simCharges, simOperations } from "@pps/db/schema";
import { BEIJING_OFFSET_MS, settlementCutoff } from "@pps/domain";
import type {
  Charge,
  ChannelProtocol,
  Rejection,
  RenderContext,
  SimOperation,
  SimOperationKind,
  SimOperationRequest,
  SimOperationStatus,
} from "../channels/protocol.ts";
import { expireIfDue, findCharge, findChargeById } from "./book.ts";
import { enqueueOperationCallbacks } from "./callbacks.ts";
import { DEFAULT_OPERATION_COMPLETE_DELAY_MS, type SimDeps, type Tx } from "./deps.ts";
import { toFaultSet } from "./faults.ts";
import { internalError, originOf, type Parsed } from "./pay-flow.ts";
import { sleep } from "./sleep.ts";

/**
 * Operations on a channel's transactions (capture, void, cancel, refund), in neutral terms: the channel's
 * routes parse and verify its own request format, this applies it to the book with the channel's rules
 * (proto.capabilities.flows, the settlement calendar of @pps/domain, the simulator's clock), and the
 * channel renders the result in its own vocabulary.
 *
 * - A request number (SimOperationRequest.merchantRef) is one operation per (channel, merchant, kind):
 *   a repeat returns the operation as it stands and moves nothing; the same number for another
 *   transaction or amount is an order_conflict.
 * - A refused request (a Rejection) records nothing. An accepted one is recorded, and what it does to the
 *   charge (its checks included) is one conditional UPDATE in the transaction of the insert, so concurrent
 *   requests can never move more than the rules allow (50 refunds never exceed what was captured).
 * - Refunds of an async channel (flows.refund.async) answer `processing`, their amount reserved, and the
 *   dispatcher completes them a moment later (completeDueOperations) and notifies the request's callback
 *   URL through sim.callbacks. The others answer their final state at once.
 * - Faults (channel-wide, ops capture/void/cancel/refund, scoped by the request number): unavailable →
 *   the channel's busy answer, 5xx → a 500, both before anything; timeout / 5xx_after_charge → applied, the
 *   answer held back / replaced by a 500; decline → refused by the channel: recorded failed ("declined"),
 *   nothing moves; for an async refund it is accepted (processing, reserved) and fails when it completes,
 *   releasing its reservation, as a real channel's refund that fails after acceptance does.
 */

const DAY_MS = 86_400_000;
/** While a claimed operation is being completed, other replicas leave it alone for this long. */
const LEASE = "30 seconds";

export type OperationQuery = {
  merchantId: string;
  kind: SimOperationKind;
  merchantRef?: string | null;
  opId?: string | null;
};

type Applied = { ok: true; op: SimOperation; charge: Charge; created: boolean };
type Outcome = Applied | { ok: false; rejection: Rejection };

const reject = (kind: Rejection["kind"], message: string): Outcome => ({ ok: false, rejection: { kind, message } });

/** The update of a charge missed: it changed between the read and the write; the transaction is undone. */
class ChargeMoved extends Error {
  constructor(readonly chargeId: string) {
    super("the charge changed under the operation");
  }
}

/**
 * An operation request, answered by the channel: proto.renderOperation(ctx, op, charge) with the operation
 * after it and the charge after it, proto.renderRejection for a refusal, proto.renderBusy or a 500 for the
 * faults. `kind` is the route's own, for the answer to a request that did not parse.
 */
export async function handleOperation(
  c: Context,
  deps: SimDeps,
  proto: ChannelProtocol,
  parsed: Parsed<SimOperationRequest>,
  kind: SimOperationKind = "refund",
): Promise<Response> {
  const ctx: RenderContext = { c, origin: originOf(c, deps), op: parsed.ok ? parsed.value.kind : kind, created: false };
  if (!parsed.ok) return proto.renderRejection(ctx, parsed.rejection);
  const req = parsed.value;
  const directives = await deps.faults.active(proto.id, req.kind, req.merchantRef);
  const faults = toFaultSet(directives);

  if (faults.flags.has("unavailable")) return proto.renderBusy(ctx);
  if (faults.latencyMs > 0) await sleep(faults.latencyMs, [deps.shutdown, c.req.raw.signal]);
  if (faults.flags.has("5xx")) return internalError(c);

  const invalid = requestRejection(proto.capabilities.flows, req);
  if (invalid) return proto.renderRejection(ctx, invalid);

  const result = await runOperation(deps, proto, req, directives);
  if (!result.ok) return proto.renderRejection(ctx, result.rejection);
  const { op, charge, created } = result;
  if (created && faults.flags.has("timeout")) {
    // Applied; only the answer goes missing (the caller is meant to give up and query).
    await sleep(deps.config.timeoutHoldMs, [deps.shutdown, c.req.raw.signal]);
  }
  if (created && faults.flags.has("5xx_after_charge")) return internalError(c);
  return proto.renderOperation({ ...ctx, created }, op, charge);
}

/**
 * An operation query by our request number (merchantRef) or the channel's id (opId), within the channel
 * and merchant: proto.renderOperation(ctx, op, charge), or the rejection not_found. Faults of
 * query_operation act as those of a payment query.
 */
export async function handleOperationQuery(
  c: Context,
  deps: SimDeps,
  proto: ChannelProtocol,
  parsed: Parsed<OperationQuery>,
): Promise<Response> {
  const ctx: RenderContext = { c, origin: originOf(c, deps), op: "query_operation", created: false };
  if (!parsed.ok) return proto.renderRejection(ctx, parsed.rejection);
  const q = parsed.value;
  const op = await findOperation(deps.db, proto.id, q.merchantId, q.kind, q);
  const faults = toFaultSet(
    await deps.faults.active(proto.id, "query_operation", op?.merchantRef ?? q.merchantRef ?? null),
  );
  if (faults.flags.has("unavailable")) return proto.renderBusy(ctx);
  if (faults.latencyMs > 0) await sleep(faults.latencyMs, [deps.shutdown, c.req.raw.signal]);
  if (faults.flags.has("5xx")) return internalError(c);
  if (faults.flags.has("timeout")) await sleep(deps.config.timeoutHoldMs, [deps.shutdown, c.req.raw.signal]);
  const charge = op ? await findChargeById(deps.db, proto.id, op.chargeId) : null;
  if (!op || !charge) return proto.renderRejection(ctx, { kind: "not_found", message: `no such ${q.kind}` });
  return proto.renderOperation(ctx, op, await expireIfDue(deps.db, charge));
}

/** One operation of a channel's merchant by the channel's id (opId) or, failing that, our request number. */
export async function findOperation(
  db: Database | Tx,
  channel: ChannelId,
  merchantId: string,
  kind: SimOperationKind,
  ref: { merchantRef?: string | null; opId?: string | null },
): Promise<SimOperation | null> {
  const by = ref.opId
    ? eq(simOperations.id, ref.opId)
    : ref.merchantRef
      ? eq(simOperations.merchantRef, ref.merchantRef)
      : null;
  if (!by) return null;
  const [row] = await db
    .select()
    .from(simOperations)
    .where(
      and(
        eq(simOperations.channel, channel),
        eq(simOperations.merchantId, merchantId),
        eq(simOperations.kind, kind),
        by,
      ),
    );
  return row ?? null;
}

/** Every operation on a transaction, oldest first (a refund query by payment lists them all). */
export async function operationsOfCharge(db: Database | Tx, chargeId: string): Promise<SimOperation[]> {
  return db
    .select()
    .from(simOperations)
    .where(eq(simOperations.chargeId, chargeId))
    .orderBy(asc(simOperations.createdAt), asc(simOperations.id));
}

/** What is wrong with the request itself, before the book is read. */
function requestRejection(flows: ChannelFlows, req: SimOperationRequest): Rejection | null {
  if (!req.merchantRef) return { kind: "invalid_request", message: "a request number is required" };
  if (req.amount !== null && (!Number.isSafeInteger(req.amount) || req.amount <= 0))
    return { kind: "invalid_request", message: "amount must be a positive amount" };
  if (req.callbackUrl !== null && !/^https?:\/\//.test(req.callbackUrl))
    return { kind: "invalid_request", message: "notification URL must be http(s)" };
  if (flows[req.kind] === undefined)
    return { kind: "flow_not_supported", message: `this channel does not offer ${req.kind}` };
  return null;
}

/** The moments the rules measure a capture against, as of `now` (the simulator's clock). */
type Bounds = {
  /** When the current settlement day began (the last cut-off): a capture before it is settled. */
  dayStart: Date;
  /** The oldest capture a refund may still return (flows.refund.windowDays). */
  refundFrom: Date | null;
  /** Midnight Beijing of the first of this month (carriers refund within the bill period). */
  periodStart: Date;
};

function boundsAt(flows: ChannelFlows, now: Date): Bounds {
  const beijing = new Date(now.getTime() + BEIJING_OFFSET_MS);
  const monthStartBeijing = Date.UTC(beijing.getUTCFullYear(), beijing.getUTCMonth(), 1);
  return {
    // Beijing keeps no daylight saving time: a settlement day is always 24 hours.
    dayStart: new Date(settlementCutoff(now, flows.cutoffMinutes).getTime() - DAY_MS),
    refundFrom: flows.refund ? new Date(now.getTime() - flows.refund.windowDays * DAY_MS) : null,
    periodStart: new Date(monthStartBeijing - BEIJING_OFFSET_MS),
  };
}

/** The amount an accepted request moves: null means the whole of what it applies to. */
function amountOf(req: SimOperationRequest, charge: Charge): number {
  switch (req.kind) {
    case "capture":
      return req.amount ?? charge.authorizedAmount;
    case "void":
      return charge.authorizedAmount;
    case "cancel":
      return charge.capturedAmount;
    case "refund":
      return req.amount ?? charge.capturedAmount - charge.refundedAmount;
  }
}

const expiredAuthorization = (charge: Charge, now: Date) =>
  (charge.status === "voided" && charge.failureReason === "expired") ||
  (charge.status === "authorized" && charge.authExpiresAt !== null && charge.authExpiresAt <= now);

/**
 * The channel's rules for `req` on `charge` as it stands, in JS: why it is refused, or null. The update
 * that applies an accepted request checks the same in SQL (chargeUpdate); this names the refusal, before
 * and after an update that missed.
 */
export function ruleRejection(
  flows: ChannelFlows,
  req: SimOperationRequest,
  charge: Charge,
  now: Date,
): Rejection | null {
  const amount = amountOf(req, charge);
  if (req.currency !== null && req.currency !== charge.currency)
    return {
      kind: "invalid_request",
      message: `currency ${req.currency} is not the transaction's (${charge.currency})`,
    };
  const b = boundsAt(flows, now);
  switch (req.kind) {
    case "capture": {
      if (expiredAuthorization(charge, now))
        return { kind: "authorization_expired", message: "the authorization has expired and was released" };
      if (charge.status !== "authorized")
        return { kind: "invalid_state", message: `the transaction is ${charge.status}: nothing to capture` };
      if (amount > charge.authorizedAmount)
        return {
          kind: "amount_exceeds_authorized",
          message: `${amount} exceeds the authorized ${charge.authorizedAmount}`,
        };
      if (amount < charge.authorizedAmount && !flows.capture?.partial)
        return { kind: "invalid_request", message: "this channel captures the full authorized amount only" };
      return null;
    }
    case "void": {
      if (expiredAuthorization(charge, now))
        return { kind: "authorization_expired", message: "the authorization has expired and was released" };
      if (charge.status !== "authorized")
        return { kind: "invalid_state", message: `the transaction is ${charge.status}: nothing to void` };
      if (req.amount !== null && req.amount !== charge.authorizedAmount)
        return {
          kind: "invalid_request",
          message: `a void releases the whole authorization (${charge.authorizedAmount}), not ${req.amount}`,
        };
      return null;
    }
    case "cancel": {
      if (charge.status !== "succeeded" || !charge.capturedAt)
        return { kind: "invalid_state", message: `the transaction is ${charge.status}: nothing to cancel` };
      if (charge.refundedAmount > 0 || charge.refundCount > 0)
        return { kind: "invalid_state", message: "the transaction has refunds: refund the rest instead" };
      if (charge.capturedAt < b.dayStart)
        return { kind: "cancel_window_closed", message: "the transaction's settlement day has closed: refund it" };
      if (req.amount !== null && req.amount !== charge.capturedAmount)
        return {
          kind: "invalid_request",
          message: `a cancel reverses the whole amount (${charge.capturedAmount}), not ${req.amount}`,
        };
      return null;
    }
    case "refund": {
      const rules = flows.refund!;
      if (charge.status !== "succeeded" || !charge.capturedAt)
        return { kind: "invalid_state", message: `the transaction is ${charge.status}: nothing to refund` };
      if (rules.afterSettlementOnly && charge.capturedAt >= b.dayStart)
        return { kind: "not_settled", message: "the transaction is not settled yet: cancel it instead" };
      if (b.refundFrom && charge.capturedAt < b.refundFrom)
        return { kind: "refund_window_closed", message: `refunds are taken within ${rules.windowDays} days` };
      if (rules.samePeriodOnly && charge.capturedAt < b.periodStart)
        return { kind: "refund_window_closed", message: "refunds are taken within the bill period only" };
      if (rules.maxPerPayment !== null && charge.refundCount >= rules.maxPerPayment)
        return { kind: "refund_limit_reached", message: `at most ${rules.maxPerPayment} refunds per transaction` };
      if (amount <= 0) return { kind: "amount_exceeds_refundable", message: "nothing is left to refund" };
      if (rules.smallAmountMax !== undefined && amount > rules.smallAmountMax)
        return { kind: "amount_limit_exceeded", message: `a refund is at most ${rules.smallAmountMax}` };
      if (!rules.partial && amount !== charge.capturedAmount)
        return { kind: "invalid_request", message: "this channel refunds the full amount only" };
      if (charge.refundedAmount + amount > charge.capturedAmount)
        return {
          kind: "amount_exceeds_refundable",
          message: `${amount} exceeds the refundable ${charge.capturedAmount - charge.refundedAmount}`,
        };
      return null;
    }
  }
}

/**
 * The conditional update applying an accepted request to its charge: every rule of ruleRejection that
 * depends on the charge is in its WHERE, so it matches nothing if the charge moved meanwhile (another
 * operation, ageing, expiry). Concurrent updates of one charge queue on its row and each re-checks the
 * WHERE on the row the previous one left.
 */
function chargeUpdate(
  flows: ChannelFlows,
  kind: SimOperationKind,
  chargeId: string,
  amount: number,
  now: Date,
): { set: PgUpdateSetSource<typeof simCharges>; where: SQL } {
  const b = boundsAt(flows, now);
  const ch = simCharges;
  const conds: (SQL | undefined)[] = [eq(ch.id, chargeId)];
  let set: PgUpdateSetSource<typeof simCharges>;
  switch (kind) {
    case "capture":
      conds.push(
        eq(ch.status, "authorized"),
        gt(ch.authExpiresAt, now),
        flows.capture?.partial ? gte(ch.authorizedAmount, amount) : eq(ch.authorizedAmount, amount),
      );
      set = { status: "succeeded", capturedAmount: amount, capturedAt: now };
      break;
    case "void":
      conds.push(eq(ch.status, "authorized"), gt(ch.authExpiresAt, now), eq(ch.authorizedAmount, amount));
      set = { status: "voided", closedAt: now };
      break;
    case "cancel":
      conds.push(
        eq(ch.status, "succeeded"),
        eq(ch.refundedAmount, 0),
        eq(ch.refundCount, 0),
        eq(ch.capturedAmount, amount),
        gte(ch.capturedAt, b.dayStart),
      );
      set = { status: "canceled", refundedAmount: amount, closedAt: now };
      break;
    case "refund": {
      const rules = flows.refund!;
      conds.push(
        eq(ch.status, "succeeded"),
        sql`${ch.refundedAmount} + ${amount} <= ${ch.capturedAmount}`,
        rules.maxPerPayment !== null ? lt(ch.refundCount, rules.maxPerPayment) : undefined,
        rules.afterSettlementOnly ? lt(ch.capturedAt, b.dayStart) : undefined,
        b.refundFrom ? gte(ch.capturedAt, b.refundFrom) : undefined,
        rules.samePeriodOnly ? gte(ch.capturedAt, b.periodStart) : undefined,
        rules.partial ? undefined : eq(ch.capturedAmount, amount),
      );
      return {
        set: {
          refundedAmount: sql`${ch.refundedAmount} + ${amount}`,
          refundCount: sql`${ch.refundCount} + 1`,
          updatedAt: now,
        },
        where: and(...conds)!,
      };
    }
  }
  return { set: { ...set, updatedAt: now }, where: and(...conds)! };
}

/** Tries the operation; when the charge moved under it, names the refusal from the charge as it now is. */
async function runOperation(
  deps: SimDeps,
  proto: ChannelProtocol,
  req: SimOperationRequest,
  directives: string[],
): Promise<Outcome> {
  for (let round = 1; ; round++) {
    try {
      return await deps.db.transaction((tx) => applyOperation(tx, deps, proto, req, directives));
    } catch (err) {
      if (!(err instanceof ChargeMoved)) throw err;
      const charge = await findChargeById(deps.db, proto.id, err.chargeId);
      if (!charge) return reject("not_found", "no such transaction");
      const rejection = ruleRejection(proto.capabilities.flows, req, charge, new Date());
      if (rejection) return { ok: false, rejection };
      // It moved, but not so as to refuse this request (another refund fitting beside it): try again.
      if (round >= 5) return reject("invalid_state", "the transaction is changing; try again");
    }
  }
}

async function applyOperation(
  tx: Tx,
  deps: SimDeps,
  proto: ChannelProtocol,
  req: SimOperationRequest,
  directives: string[],
): Promise<Outcome> {
  const flows = proto.capabilities.flows;
  const existing = await findOperation(tx, proto.id, req.merchantId, req.kind, { merchantRef: req.merchantRef });
  const found = await findCharge(tx, proto.id, req.merchantId, req.charge);
  if (existing) return repeatOf(existing, found, req);
  if (!found) return reject("not_found", "no such transaction");
  // An authorization past its window is released first (committed even if the request is refused).
  const charge = await expireIfDue(tx, found);
  const now = new Date();
  const rejection = ruleRejection(flows, req, charge, now);
  if (rejection) return { ok: false, rejection };

  const amount = amountOf(req, charge);
  const isAsync = req.kind === "refund" && flows.refund?.async === true;
  const declined = toFaultSet(directives).flags.has("decline");
  // A sync channel refuses at once (nothing moves); an async one accepts and fails when it completes.
  const status: SimOperationStatus = declined && !isAsync ? "failed" : isAsync ? "processing" : "succeeded";
  const [op] = await tx
    .insert(simOperations)
    .values({
      id: proto.newTxnId(),
      channel: proto.id,
      merchantId: req.merchantId,
      chargeId: charge.id,
      kind: req.kind,
      merchantRef: req.merchantRef,
      amount,
      currency: charge.currency,
      status,
      failureReason: status === "failed" ? "declined" : null,
      callbackUrl: req.callbackUrl,
      reason: req.reason,
      faults: directives,
      completeAt: isAsync
        ? new Date(now.getTime() + (deps.config.operationCompleteDelayMs ?? DEFAULT_OPERATION_COMPLETE_DELAY_MS))
        : null,
      createdAt: now,
      updatedAt: now,
      completedAt: status === "processing" ? null : now,
    })
    .onConflictDoNothing({
      target: [simOperations.channel, simOperations.merchantId, simOperations.kind, simOperations.merchantRef],
    })
    .returning();
  if (!op) {
    // The same number, recorded meanwhile by a concurrent request (which this insert waited for).
    const winner = await findOperation(tx, proto.id, req.merchantId, req.kind, { merchantRef: req.merchantRef });
    if (!winner) throw new Error("operation vanished after a unique conflict");
    return repeatOf(winner, await findChargeById(tx, proto.id, winner.chargeId), req, charge.id);
  }
  if (status === "failed") return { ok: true, op, charge, created: true };

  const { set, where } = chargeUpdate(flows, req.kind, charge.id, amount, now);
  const [updated] = await tx.update(simCharges).set(set).where(where).returning();
  if (!updated) throw new ChargeMoved(charge.id);
  return { ok: true, op, charge: updated, created: true };
}

/** A request number seen before: the same request gets the operation as it stands; another is a conflict. */
function repeatOf(
  existing: SimOperation,
  charge: Charge | null,
  req: SimOperationRequest,
  requestedChargeId: string | undefined = charge?.id,
): Outcome {
  const sameCharge = charge !== null && requestedChargeId === existing.chargeId && charge.id === existing.chargeId;
  const sameAmount =
    (req.amount === null || req.amount === existing.amount) &&
    (req.currency === null || req.currency === existing.currency);
  if (!sameCharge || !sameAmount)
    return reject("order_conflict", `request number ${req.merchantRef} was used for another ${req.kind}`);
  return { ok: true, op: existing, charge, created: false };
}

/**
 * Completes one async operation that is due: succeeded (or, under the decline fault, failed with its
 * reservation released), and its notification queued, in one transaction. False when it was no longer
 * processing (another replica or a previous round did it).
 */
export async function completeOperation(deps: SimDeps, opId: string): Promise<boolean> {
  return deps.db.transaction(async (tx) => {
    const [op] = await tx.select().from(simOperations).where(eq(simOperations.id, opId)).for("update");
    if (op?.status !== "processing") return false;
    const now = new Date();
    const failed = toFaultSet(op.faults).flags.has("decline");
    let charge: Charge | undefined;
    if (failed && op.kind === "refund") {
      [charge] = await tx
        .update(simCharges)
        .set({
          refundedAmount: sql`${simCharges.refundedAmount} - ${op.amount}`,
          refundCount: sql`${simCharges.refundCount} - 1`,
          updatedAt: now,
        })
        .where(eq(simCharges.id, op.chargeId))
        .returning();
    } else {
      [charge] = await tx.select().from(simCharges).where(eq(simCharges.id, op.chargeId));
    }
    if (!charge) throw new Error(`operation ${op.id} has no charge ${op.chargeId}`);
    const [done] = await tx
      .update(simOperations)
      .set({
        status: failed ? "failed" : "succeeded",
        failureReason: failed ? "declined" : null,
        completeAt: null,
        completedAt: now,
        updatedAt: now,
      })
      .where(eq(simOperations.id, op.id))
      .returning();
    await enqueueOperationCallbacks(tx, deps, done!, charge);
    return true;
  });
}

/** Claims the due async operations (skip locked, with a lease, as the other loops do) and completes them. */
export async function completeDueOperations(deps: SimDeps, batch: number): Promise<number> {
  const claimed = await deps.db
    .update(simOperations)
    .set({ completeAt: sql`now() + ${LEASE}::interval` })
    .where(
      sql`${simOperations.id} in (
        select id from ${simOperations} where status = 'processing' and complete_at <= now()
        order by complete_at limit ${batch} for update skip locked)`,
    )
    .returning({ id: simOperations.id });
  await Promise.all(
    claimed.map(({ id }) =>
      completeOperation(deps, id).catch((err: unknown) =>
        deps.logger.error({ err, operationId: id }, "completing an operation failed; retried after the lease"),
      ),
    ),
  );
  return claimed.length;
}
