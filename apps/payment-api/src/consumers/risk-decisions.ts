import { eq } from "drizzle-orm";
import { paymentInbox, payments, verifications } from "@pps/db/schema";
import {
  type BatchEnvelopeHandler,
  claimMessage,
  claimMessages,
  type Envelope,
  type RiskDecision,
} from "@pps/messaging";
import type { ApiDeps } from "../http/context.ts";
import { hashOtp, newOtp, sendOtp } from "../payments/otp.ts";
import { transition } from "../payments/repository.ts";
import { type TransitionRequest, transitionMany } from "../payments/transitions-batch.ts";

export const RISK_CONSUMER = "payment-api.risk-decisions";

type Deps = Pick<ApiDeps, "db" | "env" | "logger" | "relay" | "sms">;

const isChallenge = (envelope: Envelope) => (envelope.payload as RiskDecision).outcome === "challenge";

/**
 * Applies allow (→ processing) and block (→ failed) decisions, many at once in one transaction: one inbox
 * statement, then per round one conditional UPDATE and one audit+outbox statement. Idempotent through the
 * inbox, and the conditional transition ignores decisions for payments that moved on (expired, redelivered).
 */
function createAllowBlockApplier(deps: Deps) {
  return async (envelopes: Envelope[]): Promise<void> => {
    if (envelopes.length === 0) return;
    const applied = await deps.db.$client.begin(async (sql) => {
      const claimed = await claimMessages(
        sql,
        paymentInbox,
        RISK_CONSUMER,
        envelopes.map((e) => e.id),
      );
      const reqs: TransitionRequest[] = [];
      for (const envelope of envelopes) {
        // A message twice in one chunk is claimed once.
        if (!claimed.delete(envelope.id)) continue;
        const d = envelope.payload as RiskDecision;
        const cause = {
          cause: "risk.decided",
          causeRef: envelope.id,
          detail: { outcome: d.outcome, reasons: d.reasons },
        };
        reqs.push(
          d.outcome === "allow"
            ? { paymentId: d.paymentId, to: "processing", cause, onlyFrom: ["risk_review"] }
            : {
                paymentId: d.paymentId,
                to: "failed",
                cause,
                onlyFrom: ["risk_review"],
                patch: {
                  failureCode: "risk_blocked",
                  failureMessage: `blocked by risk rules: ${d.reasons.join(", ")}`,
                },
              },
        );
      }
      return (await transitionMany(sql, reqs)).filter(Boolean).length;
    });
    if (applied > 0) deps.relay.notify();
  };
}

/**
 * Applies one risk decision to a payment in risk review: allow → processing (the router takes it from
 * there), block → failed, challenge → requires_verification with an SMS OTP sent after the commit.
 */
export function createRiskDecisionHandler(deps: Deps) {
  const applyAllowBlock = createAllowBlockApplier(deps);
  return async (envelope: Envelope): Promise<void> => {
    if (!isChallenge(envelope)) return applyAllowBlock([envelope]);
    const d = envelope.payload as RiskDecision;
    const cause = { cause: "risk.decided", causeRef: envelope.id, detail: { outcome: d.outcome, reasons: d.reasons } };
    // Filled inside the transaction, sent after it commits.
    const pending: { otp?: { phone: string; code: string } } = {};
    const applied = await deps.db.transaction(async (tx) => {
      if (!(await claimMessage(tx, paymentInbox, RISK_CONSUMER, envelope.id))) return false;
      const only = { onlyFrom: ["risk_review" as const] };
      const [row] = await tx
        .select({ phone: payments.payerPhone, status: payments.status })
        .from(payments)
        .where(eq(payments.id, d.paymentId));
      if (row?.status !== "risk_review") return false;
      if (!row.phone) {
        // Step-up needs a phone to send the code to; without one the payment cannot be verified.
        return (
          (await transition(tx, d.paymentId, "failed", cause, {
            ...only,
            patch: {
              failureCode: "verification_unavailable",
              failureMessage: "risk asked for verification but the payer has no phone",
            },
          })) !== null
        );
      }
      const moved = await transition(tx, d.paymentId, "requires_verification", cause, only);
      if (!moved) return false;
      const code = newOtp();
      await tx
        .insert(verifications)
        .values({
          paymentId: d.paymentId,
          phone: row.phone,
          codeHash: hashOtp(d.paymentId, code),
          maxAttempts: deps.env.OTP_MAX_ATTEMPTS,
          status: "pending",
          expiresAt: new Date(Date.now() + deps.env.OTP_TTL_SECONDS * 1000),
        })
        .onConflictDoNothing();
      pending.otp = { phone: row.phone, code };
      return true;
    });
    if (!applied) return;
    deps.relay.notify();
    if (pending.otp)
      await sendOtp(deps, { paymentId: d.paymentId, ...pending.otp, ttlSeconds: deps.env.OTP_TTL_SECONDS });
  };
}

/**
 * The batch path for a chunk of decisions: allow and block for the whole chunk in one transaction.
 * Challenges, rare and with an SMS to send after the commit, go one by one afterwards.
 */
export function createRiskDecisionBatchHandler(deps: Deps): BatchEnvelopeHandler {
  const one = createRiskDecisionHandler(deps);
  const applyAllowBlock = createAllowBlockApplier(deps);
  return async (items) => {
    await applyAllowBlock(items.map((it) => it.envelope).filter((e) => !isChallenge(e)));
    for (const { envelope } of items) if (isChallenge(envelope)) await one(envelope);
  };
}
