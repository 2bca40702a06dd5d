import type { Charge, FailureReason } from "../channels/protocol.ts";
import { lockCharge, paidState, updateCharge, type ChargeMoney } from "./book.ts";
import { enqueueFinalCallbacks, finalCallbacksNow, insertCallbacksOfDone } from "./callbacks.ts";
import { protocolOf, type SimDeps, type Tx } from "./deps.ts";

export type PayerAction = { type: "pay" } | { type: "cancel" } | { type: "fail"; reason: FailureReason };

export type PayerActionResult = {
  outcome: "applied" | "already_final" | "expired" | "not_found";
  charge: Charge | null;
};

/**
 * What a payer action changes on an unpaid transaction, acting at `now`: paying captures a sale and only
 * authorizes a manual charge (paidState).
 */
function finalState(
  deps: SimDeps,
  charge: Charge,
  action: PayerAction,
  now: Date,
): Pick<Charge, "status"> & Partial<ChargeMoney & Pick<Charge, "failureReason" | "closedAt">> {
  return action.type === "pay"
    ? paidState(charge, protocolOf(deps, charge.channel).capabilities.flows, now)
    : action.type === "cancel"
      ? { status: "closed", failureReason: "payer_canceled", closedAt: now }
      : { status: "failed", failureReason: action.reason, closedAt: now };
}

const isUnpaid = (charge: Charge) => charge.status === "awaiting_payer" || charge.status === "paying";

/** Moves an unpaid transaction to its final state in the caller's transaction, and queues the callbacks. */
export async function applyPayerActionTx(
  tx: Tx,
  deps: SimDeps,
  chargeId: string,
  action: PayerAction,
): Promise<PayerActionResult> {
  const charge = await lockCharge(tx, chargeId);
  if (!charge) return { outcome: "not_found", charge: null };
  if (!isUnpaid(charge)) return { outcome: "already_final", charge };
  const now = new Date();
  if (charge.expiresAt <= now) {
    const closed = await updateCharge(tx, charge.id, {
      status: "closed",
      failureReason: "expired",
      closedAt: now,
      autoAction: null,
      autoActionAt: null,
    });
    return { outcome: "expired", charge: closed };
  }
  const updated = await updateCharge(tx, charge.id, {
    ...finalState(deps, charge, action, now),
    autoAction: null,
    autoActionAt: null,
  });
  await enqueueFinalCallbacks(tx, deps, updated);
  return { outcome: "applied", charge: updated };
}

export function applyPayerAction(deps: SimDeps, chargeId: string, action: PayerAction): Promise<PayerActionResult> {
  return deps.db.transaction((tx) => applyPayerActionTx(tx, deps, chargeId, action));
}

/**
 * Many payer actions in one statement, each with the outcome applyPayerAction would give it: every charge
 * that is still unpaid, unexpired and unchanged since `read` (its `updated_at`, which every change sets)
 * moves to its final state and gets its callbacks, rendered beforehand from the row as read. Returns the ids
 * it settled; the others (expired, or changed meanwhile) are left to applyPayerAction, which looks again.
 */
export async function applyPayerActionsAtOnce(
  deps: SimDeps,
  read: { charge: Charge; action: PayerAction }[],
): Promise<Set<string>> {
  const now = new Date();
  const settled = read
    .filter(({ charge }) => isUnpaid(charge) && charge.expiresAt > now)
    .map(({ charge, action }) => ({
      seen: charge.updatedAt,
      charge: {
        ...charge,
        ...finalState(deps, charge, action, now),
        autoAction: null,
        autoActionAt: null,
        updatedAt: now,
      },
    }));
  if (settled.length === 0) return new Set();
  const callbacks = (await Promise.all(settled.map((s) => finalCallbacksNow(deps, s.charge)))).flat();
  const c = settled.map((s) => s.charge);
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const sql = deps.db.$client;
  const rows = await sql<{ id: string }[]>`
    with u as (
      select * from unnest(${c.map((x) => x.id)}::text[], ${c.map((x) => x.status)}::text[], ${c.map((x) => x.failureReason)}::text[],
        ${c.map((x) => iso(x.paidAt))}::text[]::timestamptz[], ${c.map((x) => iso(x.closedAt))}::text[]::timestamptz[],
        ${c.map((x) => String(x.authorizedAmount))}::bigint[], ${c.map((x) => iso(x.authExpiresAt))}::text[]::timestamptz[],
        ${c.map((x) => String(x.capturedAmount))}::bigint[], ${c.map((x) => iso(x.capturedAt))}::text[]::timestamptz[],
        ${settled.map((s) => s.seen.toISOString())}::text[]::timestamptz[])
        as u(id, status, failure_reason, paid_at, closed_at, authorized_amount, auth_expires_at, captured_amount, captured_at, seen)
    ), done as (
      update sim.charges c set status = u.status, failure_reason = u.failure_reason, paid_at = u.paid_at, closed_at = u.closed_at,
        authorized_amount = u.authorized_amount, auth_expires_at = u.auth_expires_at, captured_amount = u.captured_amount,
        captured_at = u.captured_at, auto_action = null, auto_action_at = null, updated_at = ${now.toISOString()}::timestamptz
      from u
      where c.id = u.id and c.status in ('awaiting_payer', 'paying') and c.expires_at > ${now.toISOString()}::timestamptz and c.updated_at = u.seen
      returning c.id
    ), queued as (${insertCallbacksOfDone(sql, callbacks)})
    select id from done`;
  return new Set(rows.map((r) => r.id));
}
