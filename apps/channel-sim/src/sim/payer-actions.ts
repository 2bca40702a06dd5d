import type { Charge, FailureReason } from "../channels/protocol.ts";
import { lockCharge, updateCharge } from "./book.ts";
import { enqueueFinalCallbacks } from "./callbacks.ts";
import type { SimDeps, Tx } from "./deps.ts";

export type PayerAction = { type: "pay" } | { type: "cancel" } | { type: "fail"; reason: FailureReason };

export type PayerActionResult = { outcome: "applied" | "already_final" | "expired" | "not_found"; charge: Charge | null };

/** Moves an unpaid transaction to its final state in the caller's transaction, and queues the callbacks. */
export async function applyPayerActionTx(tx: Tx, deps: SimDeps, chargeId: string, action: PayerAction): Promise<PayerActionResult> {
  const charge = await lockCharge(tx, chargeId);
  if (!charge) return { outcome: "not_found", charge: null };
  if (charge.status !== "awaiting_payer" && charge.status !== "paying") return { outcome: "already_final", charge };
  const now = new Date();
  if (charge.expiresAt <= now) {
    const closed = await updateCharge(tx, charge.id, { status: "closed", failureReason: "expired", closedAt: now, autoAction: null, autoActionAt: null });
    return { outcome: "expired", charge: closed };
  }
  const set =
    action.type === "pay"
      ? { status: "succeeded", paidAt: now }
      : action.type === "cancel"
        ? { status: "closed", failureReason: "payer_canceled", closedAt: now }
        : { status: "failed", failureReason: action.reason, closedAt: now };
  const updated = await updateCharge(tx, charge.id, { ...set, autoAction: null, autoActionAt: null });
  await enqueueFinalCallbacks(tx, deps, updated);
  return { outcome: "applied", charge: updated };
}

export function applyPayerAction(deps: SimDeps, chargeId: string, action: PayerAction): Promise<PayerActionResult> {
  return deps.db.transaction((tx) => applyPayerActionTx(tx, deps, chargeId, action));
}
