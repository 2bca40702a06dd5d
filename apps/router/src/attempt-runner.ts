import type { ChannelAdapter, ChannelId, ChannelOutcome, PayRequest } from "@pps/channels";
import { attemptIdOf } from "@pps/domain";
import type { Logger } from "@pps/logger";
import type { InternalPaymentSnapshot } from "@pps/messaging";
import { attemptResultEnvelope, resultFields } from "./attempt-result.ts";
import type { AttemptStore, AttemptUpdate, DecisionRecord, NewAttempt } from "./attempt-store.ts";
import type { ChannelState } from "./channel-state.ts";
import { isFailoverable, MAX_ATTEMPT_NO, MAX_ATTEMPTS, nextStep } from "./failover-policy.ts";
import { waitDeadline } from "./no-route.ts";
import { CLAIM_MARGIN_MS, nextStuckQuery, UNKNOWN_QUERY_DELAYS_MS } from "./resolution-policy.ts";
import { type RoutePlanner, routingInputOf } from "./route-planner.ts";
import type { RouterMetrics } from "./router-metrics.ts";
import type { WaitingStore } from "./waiting-store.ts";

export type AttemptRunnerDeps = {
  adapters: ReadonlyMap<ChannelId, ChannelAdapter>;
  state: ChannelState;
  planner: RoutePlanner;
  store: AttemptStore;
  /** Nudges the outbox relay after a commit so the event goes out at once. */
  notify: () => void;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** When to look at attempts that stay pending / requires_action (ROUTER_STUCK_QUERY_DELAYS_MS). */
  stuckQueryDelaysMs?: readonly number[];
  /** payment-api's callback endpoint for a channel. */
  callbackUrl: (channel: ChannelId) => string;
  waiting: WaitingStore;
  /** How long a payment whose channels are all unavailable may wait for one (ROUTE_WAIT_MAX_MS); 0: not at all. */
  waitMaxMs: number;
  /** A waiting payment's next try after this long. */
  waitRetryMs: number;
};

/** Extra time we give an adapter beyond its own timeout before we stop waiting for it ourselves. */
const GUARD_MS = 1_000;

function withGuard<T>(call: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([call, guard]).finally(() => clearTimeout(timer));
}

/** Calls a channel without ever throwing: anything unexpected is an unknown outcome (it may have been sent). */
export function guardedCall<T extends { status: string }>(
  call: () => Promise<T>,
  timeoutMs: number,
): Promise<T | { status: "unknown"; reason: string }> {
  let promise: Promise<T | { status: "unknown"; reason: string }>;
  try {
    promise = call().catch((err: unknown) => ({
      status: "unknown" as const,
      reason: `call failed: ${err instanceof Error ? err.message : String(err)}`,
    }));
  } catch (err) {
    promise = Promise.resolve({
      status: "unknown" as const,
      reason: `call failed: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
  return withGuard(promise, timeoutMs + GUARD_MS, () => ({
    status: "unknown" as const,
    reason: `no answer within ${timeoutMs + GUARD_MS} ms`,
  }));
}

function updateFor(
  outcome: ChannelOutcome,
  now: number,
  expiresAt: number,
  stuckDelays?: readonly number[],
): AttemptUpdate {
  const base = { channelTxnId: null, failureCode: null, lastError: null, nextQueryAt: null, resetQueryCount: true };
  switch (outcome.status) {
    case "succeeded":
    case "authorized":
      return { ...base, status: outcome.status, channelTxnId: outcome.channelTxnId };
    case "failed":
      return {
        ...base,
        status: "failed",
        channelTxnId: outcome.channelTxnId,
        failureCode: outcome.code,
        lastError: outcome.message,
      };
    case "requires_action":
    case "pending":
      // The callback normally settles it; if it does not come, the resolver asks the channel.
      return {
        ...base,
        status: outcome.status,
        channelTxnId: outcome.channelTxnId,
        nextQueryAt: nextStuckQuery(0, now, expiresAt, stuckDelays),
      };
    case "unknown":
      return { ...base, status: "unknown", lastError: outcome.reason, nextQueryAt: now + UNKNOWN_QUERY_DELAYS_MS[0] };
  }
}

/**
 * Executes a routed payment: calls the chosen channel (outside any transaction), records the outcome with
 * its event, and fails over to the next candidate only when the channel proved unavailable.
 */
export class AttemptRunner {
  constructor(private readonly deps: AttemptRunnerDeps) {}

  private payRequest(p: InternalPaymentSnapshot, attempt: NewAttempt): PayRequest {
    const channel = attempt.channel as ChannelId;
    return {
      paymentId: p.paymentId,
      attemptId: attempt.id,
      product: p.product,
      amount: p.amount,
      currency: p.currency,
      subject: p.subject,
      payer: p.payer,
      method: p.method,
      returnUrl: p.returnUrl,
      callbackUrl: this.deps.callbackUrl(channel),
      expiresAt: p.expiresAt,
      metadata: p.metadata,
      // Absent on snapshots written before manual capture existed: those all captured at once.
      captureMethod: p.captureMethod ?? "automatic",
    };
  }

  /**
   * Never throws: if a commit fails, the attempt stays `sending` and the resolver queries it later. `waitUntil`:
   * the deadline of a payment that already waited for a channel (it keeps it when it has to wait again).
   */
  async run(payment: InternalPaymentSnapshot, first: NewAttempt, waitUntil: number | null = null): Promise<void> {
    const { deps } = this;
    const input = routingInputOf(payment);
    const tried: string[] = [];
    let attempt = first;
    for (;;) {
      const channel = attempt.channel as ChannelId;
      const adapter = deps.adapters.get(channel);
      const started = performance.now();
      deps.metrics.inFlight.inc();
      const outcome: ChannelOutcome = adapter
        ? await guardedCall(
            () => adapter.pay(this.payRequest(payment, attempt), { timeoutMs: deps.timeoutMs }),
            deps.timeoutMs,
          )
        : {
            status: "failed",
            channelTxnId: null,
            code: "channel_unavailable",
            message: `no adapter for channel ${channel}`,
          };
      deps.metrics.inFlight.dec();
      const latencyMs = performance.now() - started;
      deps.metrics.callDuration.observe({ channel, operation: "pay" }, latencyMs / 1000);
      deps.metrics.attempts.inc({ channel, outcome: outcome.status });
      tried.push(channel);
      await deps.state
        .recordCall(channel, outcome, latencyMs)
        .catch((err: unknown) => deps.logger.error({ err, channel }, "could not update the circuit"));

      const now = Date.now();
      const next =
        isFailoverable(outcome) && attempt.attemptNo < MAX_ATTEMPTS
          ? await deps.planner.plan(input, tried).catch((err: unknown) => {
              deps.logger.error(
                { err, paymentId: payment.paymentId },
                "could not plan a failover; reporting the failure",
              );
              return null;
            })
          : null;
      const step = nextStep(outcome, attempt.attemptNo, next?.winner != null);
      const update = updateFor(outcome, now, attempt.expiresAt, this.deps.stuckQueryDelaysMs);
      const log = { paymentId: payment.paymentId, attemptId: attempt.id, channel, outcome: outcome.status };

      try {
        if (step.kind === "failover" && next?.winner) {
          const nextAttempt: NewAttempt = {
            id: attemptIdOf(payment.paymentId, attempt.attemptNo + 1),
            paymentId: payment.paymentId,
            attemptNo: attempt.attemptNo + 1,
            channel: next.winner.channel,
            amount: payment.amount,
            currency: payment.currency,
            status: "sending",
            expiresAt: attempt.expiresAt,
            nextQueryAt: now + deps.timeoutMs + CLAIM_MARGIN_MS,
          };
          const decision: DecisionRecord = {
            paymentId: payment.paymentId,
            attemptNo: nextAttempt.attemptNo,
            input,
            candidates: next.candidates,
            winner: next.winner.channel,
            reason: "failover",
          };
          const event = attemptResultEnvelope(attempt, resultFields(outcome), true);
          if (!(await deps.store.failover({ id: attempt.id, update, event }, decision, nextAttempt))) {
            deps.logger.warn(log, "attempt was settled elsewhere; not failing over");
            return;
          }
          deps.notify();
          deps.metrics.failovers.inc({ from: channel, to: nextAttempt.channel });
          deps.logger.info(
            { ...log, next: nextAttempt.channel, nextAttemptId: nextAttempt.id },
            "channel unavailable; failing over",
          );
          attempt = nextAttempt;
          continue;
        }
        // Unavailable and nowhere else to go: it waits for a channel to recover rather than failing now (while
        // attempt numbers last: the id carries at most two digits).
        const until =
          step.kind === "publish" && isFailoverable(outcome) && attempt.attemptNo < MAX_ATTEMPT_NO
            ? (waitUntil ?? waitDeadline(now, attempt.expiresAt, deps.waitMaxMs))
            : null;
        if (until !== null && until > now) {
          const event = attemptResultEnvelope(attempt, resultFields(outcome), true);
          const parked = await deps.waiting.failAndWait(
            { id: attempt.id, update, event },
            {
              paymentId: payment.paymentId,
              attemptNo: attempt.attemptNo + 1,
              payment,
              waitUntil: until,
              nextTryAt: now + deps.waitRetryMs,
              reason: `${tried.join(", ")} unavailable`,
            },
          );
          if (parked) {
            deps.notify();
            deps.logger.info({ ...log, waitUntil: until }, "every channel tried is unavailable; the payment waits");
          } else deps.logger.warn(log, "attempt was settled elsewhere; not waiting");
          return;
        }
        const event = attemptResultEnvelope(attempt, resultFields(outcome), false);
        if (await deps.store.complete(attempt.id, { status: "sending" }, update, event)) deps.notify();
        else deps.logger.warn(log, "attempt was settled elsewhere; outcome not recorded twice");
        if (outcome.status === "unknown")
          deps.logger.warn({ ...log, reason: outcome.reason }, "channel outcome unknown; resolving by query");
      } catch (err) {
        deps.logger.error({ ...log, err }, "could not record the attempt outcome; the resolver will query the channel");
      }
      return;
    }
  }
}
