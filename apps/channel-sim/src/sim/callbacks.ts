import { newId } from "@pps/domain";
import { simCallbacks } from "@pps/db/schema";
import type { Charge, SimOperation } from "../channels/protocol.ts";
import { protocolOf, type SimDeps, type Sql, type Tx } from "./deps.ts";
import { toFaultSet } from "./faults.ts";

/** How long after the final callback its stale, earlier-state sibling goes out (callback_out_of_order). */
const STALE_GAP_MS = 300;

export type NewCallback = {
  channel: string;
  chargeId: string;
  /** Set for the notification of an operation's result (its merchant_ref is then the operation's). */
  operationId?: string | null;
  merchantRef: string;
  kind: "final" | "stale";
  url: string;
  headers: Record<string, string>;
  body: string;
  dueAt: Date;
};

/**
 * The callbacks announcing a transaction's final state, shaped by the callback faults of the request
 * (stored on the charge) and `channelFaults`, the channel's callback directives that hit it now.
 */
export function finalCallbacks(deps: SimDeps, charge: Charge, channelFaults: string[]): NewCallback[] {
  const proto = protocolOf(deps, charge.channel);
  const faults = toFaultSet([...charge.faults, ...channelFaults]);
  if (faults.flags.has("callback_never")) return [];
  const now = Date.now();
  const due = new Date(now + faults.callbackDelayMs);
  const at = charge.paidAt ?? charge.closedAt ?? new Date(now);
  const final = proto.renderCallback(charge, newId("ntf"), at);
  const row = (kind: "final" | "stale", msg: typeof final, dueAt: Date): NewCallback => ({
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
    const earlier: Charge = {
      ...charge,
      status: proto.staleStatus,
      failureReason: null,
      paidAt: null,
      closedAt: null,
      updatedAt: charge.createdAt,
    };
    rows.push(
      row(
        "stale",
        proto.renderCallback(earlier, newId("ntf"), charge.createdAt),
        new Date(due.getTime() + STALE_GAP_MS),
      ),
    );
  }
  return rows;
}

/** The final callbacks of a charge with the channel's callback faults of now, for a batch statement to queue. */
export async function finalCallbacksNow(deps: SimDeps, charge: Charge): Promise<NewCallback[]> {
  return finalCallbacks(
    deps,
    charge,
    await deps.faults.activeForCallbacks(protocolOf(deps, charge.channel).id, charge.merchantRef),
  );
}

/** Queues the callbacks announcing a transaction's final state, in the caller's transaction. */
export async function enqueueFinalCallbacks(tx: Tx, deps: SimDeps, charge: Charge): Promise<number> {
  const channelFaults = await deps.faults.activeForCallbacks(
    protocolOf(deps, charge.channel).id,
    charge.merchantRef,
    tx,
  );
  const rows = finalCallbacks(deps, charge, channelFaults);
  if (rows.length > 0) await tx.insert(simCallbacks).values(rows);
  return rows.length;
}

/**
 * For a data-modifying CTE: queues `rows`, in their order, but only those of charges whose ids the CTE
 * named `done` returns (the charges the same statement actually wrote).
 */
export function insertCallbacksOfDone(sql: Sql, rows: NewCallback[]) {
  return sql`
    insert into sim.callbacks (channel, charge_id, merchant_ref, kind, url, headers, body, due_at)
    select u.channel, u.charge_id, u.merchant_ref, u.kind, u.url, u.headers::jsonb, u.body, u.due_at
    from unnest(${rows.map((r) => r.channel)}::text[], ${rows.map((r) => r.chargeId)}::text[], ${rows.map((r) => r.merchantRef)}::text[],
      ${rows.map((r) => r.kind)}::text[], ${rows.map((r) => r.url)}::text[], ${rows.map((r) => JSON.stringify(r.headers))}::text[],
      ${rows.map((r) => r.body)}::text[], ${rows.map((r) => r.dueAt.toISOString())}::text[]::timestamptz[])
      with ordinality as u(channel, charge_id, merchant_ref, kind, url, headers, body, due_at, ord)
    where u.charge_id in (select id from done)
    order by u.ord`;
}

/**
 * The notifications of an operation's result (async channels), shaped like a payment's by the operation's
 * own faults (the channel-wide ones in force when it was requested) and `channelFaults`, the channel's
 * callback directives that hit its reference now. An out-of-order one repeats its earlier, processing state.
 * None without a notification URL: the result is then only told by query.
 */
export function operationCallbacks(
  deps: SimDeps,
  op: SimOperation,
  charge: Charge,
  channelFaults: string[],
): NewCallback[] {
  if (!op.callbackUrl) return [];
  const proto = protocolOf(deps, op.channel);
  const faults = toFaultSet([...op.faults, ...channelFaults]);
  if (faults.flags.has("callback_never")) return [];
  const now = Date.now();
  const due = new Date(now + faults.callbackDelayMs);
  const final = proto.renderOperationCallback(op, charge, newId("ntf"), op.completedAt ?? new Date(now));
  const row = (kind: "final" | "stale", msg: typeof final, dueAt: Date): NewCallback => ({
    channel: op.channel,
    chargeId: op.chargeId,
    operationId: op.id,
    merchantRef: op.merchantRef,
    kind,
    url: op.callbackUrl!,
    headers: { ...msg.headers, "content-type": msg.contentType },
    body: msg.body,
    dueAt,
  });
  const rows = [row("final", final, due)];
  if (faults.flags.has("callback_duplicated")) rows.push(row("final", final, due));
  if (faults.flags.has("callback_out_of_order")) {
    const earlier: SimOperation = { ...op, status: "processing", failureReason: null, completedAt: null };
    rows.push(
      row(
        "stale",
        proto.renderOperationCallback(earlier, charge, newId("ntf"), op.createdAt),
        new Date(due.getTime() + STALE_GAP_MS),
      ),
    );
  }
  return rows;
}

/** Queues the notifications of an operation's result, in the caller's transaction. */
export async function enqueueOperationCallbacks(
  tx: Tx,
  deps: SimDeps,
  op: SimOperation,
  charge: Charge,
): Promise<number> {
  if (!op.callbackUrl) return 0;
  const channelFaults = await deps.faults.activeForCallbacks(protocolOf(deps, op.channel).id, op.merchantRef, tx);
  const rows = operationCallbacks(deps, op, charge, channelFaults);
  if (rows.length > 0) await tx.insert(simCallbacks).values(rows);
  return rows.length;
}
