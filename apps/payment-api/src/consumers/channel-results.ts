import { paymentAttempts, paymentInbox } from "@pps/db/schema";
import { claimMessage, type AttemptResult, type Envelope } from "@pps/messaging";
import { sql } from "drizzle-orm";
import type { ApiDeps } from "../http/context.ts";
import type { Tx } from "../http/idempotency.ts";
import { transition } from "../payments/repository.ts";

export const CHANNEL_CONSUMER = "payment-api.channel-results";

export async function recordAttempt(
  tx: Tx,
  a: { attemptId: string; paymentId: string; attemptNo: number; channel: string; outcome: string; channelTxnId: string | null; failureCode: string | null; failureMessage: string | null },
): Promise<void> {
  await tx
    .insert(paymentAttempts)
    .values(a)
    .onConflictDoUpdate({
      target: paymentAttempts.attemptId,
      set: {
        outcome: a.outcome,
        channelTxnId: sql`coalesce(excluded.channel_txn_id, ${paymentAttempts.channelTxnId})`,
        failureCode: a.failureCode,
        failureMessage: a.failureMessage,
        updatedAt: sql`now()`,
      },
    });
}

/**
 * Applies the router's attempt results. payment-api stays the single writer of payment state: the router
 * only reports. Failures the router will retry elsewhere, pending and unknown outcomes are recorded on the
 * attempt and leave the payment processing.
 */
export function createChannelResultHandler(deps: Pick<ApiDeps, "db" | "relay">) {
  return async (envelope: Envelope): Promise<void> => {
    const r = envelope.payload as AttemptResult;
    const cause = { cause: "channel.attempt_result", causeRef: envelope.id, detail: { attemptId: r.attemptId, outcome: r.outcome } };
    const changed = await deps.db.transaction(async (tx) => {
      if (!(await claimMessage(tx, paymentInbox, CHANNEL_CONSUMER, envelope.id))) return false;
      await recordAttempt(tx, { ...r, outcome: r.outcome });
      switch (r.outcome) {
        case "succeeded":
          return (await transition(tx, r.paymentId, "succeeded", cause, { patch: { channel: r.channel, channelTxnId: r.channelTxnId, settlement: r.settlement, failureCode: null, failureMessage: null } })) !== null;
        case "failed":
          if (r.willRetry) return false;
          return (await transition(tx, r.paymentId, "failed", cause, { onlyFrom: ["processing", "requires_action"], patch: { channel: r.channel, failureCode: r.failureCode ?? "channel_failed", failureMessage: r.failureMessage } })) !== null;
        case "requires_action":
          return (await transition(tx, r.paymentId, "requires_action", cause, { onlyFrom: ["processing"], patch: { channel: r.channel, channelTxnId: r.channelTxnId, action: r.action } })) !== null;
        case "pending":
        case "unknown":
          return false;
      }
    });
    if (changed) deps.relay.notify();
  };
}
