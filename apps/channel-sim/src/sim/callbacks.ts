import { newId } from "@pps/domain";
import { simCallbacks } from "@pps/db/schema";
import type { Charge } from "../channels/protocol.ts";
import { protocolOf, type SimDeps, type Tx } from "./deps.ts";
import { toFaultSet } from "./faults.ts";

/** How long after the final callback its stale, earlier-state sibling goes out (callback_out_of_order). */
const STALE_GAP_MS = 300;

/**
 * Queues the callbacks announcing a transaction's final state, in the caller's transaction, shaped by the
 * callback faults of the request (stored on the charge) and of the channel now.
 */
export async function enqueueFinalCallbacks(tx: Tx, deps: SimDeps, charge: Charge): Promise<number> {
  const proto = protocolOf(deps, charge.channel);
  const faults = toFaultSet([...charge.faults, ...(await deps.faults.activeForCallbacks(proto.id, charge.merchantRef, tx))]);
  if (faults.flags.has("callback_never")) return 0;
  const now = Date.now();
  const due = new Date(now + faults.callbackDelayMs);
  const at = charge.paidAt ?? charge.closedAt ?? new Date(now);
  const final = proto.renderCallback(charge, newId("ntf"), at);
  const row = (kind: "final" | "stale", msg: typeof final, dueAt: Date) => ({
    channel: charge.channel,
    chargeId: charge.id,
    merchantRef: charge.merchantRef,
    kind,
    url: charge.callbackUrl,
    headers: { ...msg.headers, "content-type": msg.contentType },
    body: msg.body,
    dueAt,
  });
  // A duplicate is the very same message (same notification id and signature), as a real resend is.
  const rows = [row("final", final, due)];
  if (faults.flags.has("callback_duplicated")) rows.push(row("final", final, due));
  if (faults.flags.has("callback_out_of_order")) {
    const earlier: Charge = { ...charge, status: proto.staleStatus, failureReason: null, paidAt: null, closedAt: null, updatedAt: charge.createdAt };
    rows.push(row("stale", proto.renderCallback(earlier, newId("ntf"), charge.createdAt), new Date(due.getTime() + STALE_GAP_MS)));
  }
  await tx.insert(simCallbacks).values(rows);
  return rows.length;
}
