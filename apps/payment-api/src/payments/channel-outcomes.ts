import { newId, OPERATION_ID_PREFIX, type PaymentStatus } from "@pps/domain";
import type { Logger } from "@pps/logger";
import { makeEnvelope, paymentOperationInternalEvents } from "@pps/messaging";
import type { TransactionSql } from "postgres";
import { reverseKind } from "./operation-rules.ts";
import { type OperationResultRequest, reserveOperation } from "./operations.ts";
import type { Cause } from "./repository.ts";
import type { PaymentRow } from "./snapshot.ts";
import { lateSuccessEvent, type TransitionDone, type TransitionRequest } from "./transitions-batch.ts";

/** States a channel's success may take a payment out of: ours in flight, and the ends we reached without it. */
const SUCCESS_FROM: PaymentStatus[] = ["processing", "requires_action", "failed", "expired"];

export type ReportedSuccess = {
  paymentId: string;
  attemptId: string;
  channel: string;
  channelTxnId: string | null;
  status: "succeeded" | "authorized";
  /** What the channel says it took (null: the message carried no amount: only from retired v1 results). */
  amount: number | null;
  currency: string | null;
  settlement: unknown;
  authorizationExpiresAt: string | null;
};

/**
 * The transition a channel's report of money taken asks for, whichever way it came (sync answer, query,
 * callback): succeeded (or requires_capture for an authorization), announced as payment.late_succeeded
 * when we had failed or expired the payment; or requires_review when the amount or currency it reports is
 * not the payment's, applying nothing.
 */
export function successTransition(
  r: ReportedSuccess,
  payment: { amount: number; currency: string },
  cause: Cause,
  now = new Date(),
): TransitionRequest {
  const mismatch = [
    r.amount !== null && r.amount !== payment.amount && `amount ${r.amount} is not ${payment.amount}`,
    r.currency !== null && r.currency !== payment.currency && `currency ${r.currency} is not ${payment.currency}`,
  ].filter(Boolean);
  if (mismatch.length > 0)
    return {
      paymentId: r.paymentId,
      to: "requires_review",
      cause: {
        ...cause,
        detail: { ...(cause.detail as object), mismatch, reported: { amount: r.amount, currency: r.currency } },
      },
      onlyFrom: SUCCESS_FROM,
      patch: {
        channel: r.channel,
        channelTxnId: r.channelTxnId,
        paidAttemptId: r.attemptId,
        failureCode: "channel_result_mismatch",
        failureMessage: `the channel reported ${r.status} with ${mismatch.join("; ")}`,
      },
    };
  const common = {
    channel: r.channel,
    channelTxnId: r.channelTxnId,
    paidAttemptId: r.attemptId,
    failureCode: null,
    failureMessage: null,
    amountAuthorized: payment.amount,
    authorizedAt: now,
  };
  if (r.status === "authorized")
    return {
      paymentId: r.paymentId,
      to: "requires_capture",
      cause,
      onlyFrom: SUCCESS_FROM,
      event: lateSuccessEvent,
      patch: {
        ...common,
        authorizationExpiresAt: r.authorizationExpiresAt ? new Date(r.authorizationExpiresAt) : null,
      },
    };
  return {
    paymentId: r.paymentId,
    to: "succeeded",
    cause,
    onlyFrom: SUCCESS_FROM,
    event: lateSuccessEvent,
    patch: {
      ...common,
      settlement: r.settlement as PaymentRow["settlement"],
      amountCaptured: payment.amount,
      capturedAt: now,
    },
  };
}

/** The same check for an operation's reported success: requires_review when it moved another amount. */
export function operationSuccess(
  op: { operationId: string; amount: number; currency: string },
  reported: { amount: number | null; currency: string | null; channelOpId: string | null },
  cause: Cause,
): OperationResultRequest {
  const mismatch = [
    reported.amount !== null && reported.amount !== op.amount && `amount ${reported.amount} is not ${op.amount}`,
    reported.currency !== null &&
      reported.currency !== op.currency &&
      `currency ${reported.currency} is not ${op.currency}`,
  ].filter(Boolean);
  if (mismatch.length > 0)
    return {
      operationId: op.operationId,
      to: "requires_review",
      cause: { ...cause, detail: { ...(cause.detail as object), mismatch } },
      patch: {
        channelOpId: reported.channelOpId,
        failureCode: "channel_result_mismatch",
        failureMessage: `the channel reported success with ${mismatch.join("; ")}`,
      },
    };
  return { operationId: op.operationId, to: "succeeded", cause, patch: { channelOpId: reported.channelOpId } };
}

/**
 * After late successes were applied: under the merchant's `refund` policy the money goes back at once (an
 * authorization is voided, a capture canceled the same day where the channel allows it, refunded
 * otherwise), as an operation of origin auto_refund. A policy that cannot be carried out (the channel's
 * rules) is logged; the payment stays succeeded and the merchant was told by payment.late_succeeded.
 */
export async function applyLateSuccessPolicy(
  sql: TransactionSql,
  done: TransitionDone[],
  logger?: Logger,
): Promise<number> {
  const late = done.filter(
    (d): d is NonNullable<TransitionDone> =>
      d !== null &&
      (d.previous === "failed" || d.previous === "expired") &&
      (d.row.status === "succeeded" || d.row.status === "requires_capture"),
  );
  if (late.length === 0) return 0;
  const merchants = await sql<{ id: string; late_success_policy: string }[]>`
    select id, late_success_policy from payment.merchants where id = any(${[...new Set(late.map((d) => d.row.merchantId))]}::text[])`;
  const refunding = new Set(merchants.filter((m) => m.late_success_policy === "refund").map((m) => m.id));
  let n = 0;
  for (const { row } of late) {
    if (!refunding.has(row.merchantId)) continue;
    try {
      const choice = reverseKind(row, new Date());
      const amount =
        choice.kind === "refund" ? choice.amount! : choice.kind === "void" ? row.amountAuthorized : row.amountCaptured;
      // A savepoint: a refused policy (OperationRefused rolls its reservation back) must not undo the late
      // success itself.
      await sql.savepoint((sp) =>
        reserveOperation(sp as unknown as TransactionSql, {
          id: newId(OPERATION_ID_PREFIX[choice.kind]),
          kind: choice.kind,
          paymentId: row.id,
          merchantId: row.merchantId,
          merchantRef: null,
          amount,
          reason: "late success refunded under the merchant's late_success_policy",
          origin: "auto_refund",
          cause: { cause: "late_success_policy", causeRef: row.id },
        }),
      );
      n++;
    } catch (err) {
      logger?.error({ err, paymentId: row.id }, "late success could not be refunded automatically");
    }
  }
  return n;
}

/** The restricted messages that tell the router a callback settled what it may still be querying about. */
export async function announceSettled(
  sql: TransactionSql,
  settled: {
    paymentId: string;
    ref: string;
    subject: "attempt" | "operation";
    channel: string;
    outcome: "succeeded" | "failed" | "authorized";
  }[],
): Promise<void> {
  if (settled.length === 0) return;
  const def = paymentOperationInternalEvents.channelSettled;
  const occurredAt = new Date();
  const envelopes = settled.map((s) =>
    makeEnvelope({
      type: def.type,
      version: def.version,
      aggregateId: s.paymentId,
      payload: { ...s, occurredAt: occurredAt.toISOString() },
      occurredAt,
    }),
  );
  await sql`
    insert into payment.outbox (event_id, topic, key, envelope)
    select eid::uuid, ${def.topic}, key, env::jsonb
    from unnest(${envelopes.map((e) => e.id)}::text[], ${envelopes.map((e) => e.aggregateId)}::text[], ${envelopes.map((e) => JSON.stringify(e))}::text[])
      as u(eid, key, env)`;
}
