import { attemptIdOf } from "@pps/domain";
import type { Logger } from "@pps/logger";
import {
  type EnvelopeHandler,
  eventKey,
  type InternalPaymentSnapshot,
  paymentEventsV1,
  paymentInternalEvents,
} from "@pps/messaging";
import type { AttemptRunner } from "./attempt-runner.ts";
import type { AttemptStore, DecisionRecord, NewAttempt } from "./attempt-store.ts";
import type { InFlightLimiter } from "./in-flight-limiter.ts";
import { NO_CHANNEL, noRouteFailure, waitDeadline, whyNoRoute } from "./no-route.ts";
import { CLAIM_MARGIN_MS } from "./resolution-policy.ts";
import { type RoutePlanner, routingInputOf } from "./route-planner.ts";
import type { RouterMetrics } from "./router-metrics.ts";
import type { WaitingStore } from "./waiting-store.ts";

export { NO_CHANNEL, NO_CHANNEL_CODE, PAYMENT_EXPIRED_CODE } from "./no-route.ts";

export type PaymentProcessingDeps = {
  planner: RoutePlanner;
  store: AttemptStore;
  waiting: WaitingStore;
  runner: AttemptRunner;
  limiter: InFlightLimiter;
  notify: () => void;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** How long a payment that no channel can take may wait for one (ROUTE_WAIT_MAX_MS); 0: it fails at once. */
  waitMaxMs: number;
  /** First retry of a waiting payment after this long. */
  waitRetryMs: number;
};

/**
 * What the router routes: a payment entering processing, with the payer's contact data the channels need
 * (carrier billing charges the phone, WeChat Pay is sent the payer's IP). The restricted twin on
 * pps.payment.internal.v1, and (until none can be left on the public topic) the retired public v1 event
 * that still carried it; public v2 events are skipped by their headers.
 */
export const ROUTED_EVENTS = new Set(
  [paymentInternalEvents.processing, paymentEventsV1.processing].map((d) => eventKey(d.type, d.version)),
);

/**
 * payment.internal.processing → choose the channel, record the decision and the attempt (status `sending`) with the
 * inbox claim in one statement, then call the channel in the background. The handler returns once the
 * attempt is durable: from then on the runner, or after a crash the resolver, owns it.
 */
export function createPaymentProcessingHandler(deps: PaymentProcessingDeps): EnvelopeHandler {
  const { planner, store, runner, limiter, metrics, logger } = deps;
  return async (envelope) => {
    const payment = envelope.payload as InternalPaymentSnapshot;
    const input = routingInputOf(payment);
    const now = Date.now();
    const expiresAt = Date.parse(payment.expiresAt);
    const expired = expiresAt <= now;
    // Taking the slot first bounds the calls in flight, and the attempt's lease starts when its call can.
    const release = await limiter.acquire();
    let handedOver = false;
    try {
      const plan = expired ? { candidates: [], winner: null } : await planner.plan(input);
      const ref = {
        id: attemptIdOf(payment.paymentId, 1),
        paymentId: payment.paymentId,
        attemptNo: 1,
        channel: plan.winner?.channel ?? NO_CHANNEL,
        amount: payment.amount,
        currency: payment.currency,
      };
      const decision: DecisionRecord = {
        paymentId: payment.paymentId,
        attemptNo: 1,
        input,
        candidates: plan.candidates,
        winner: plan.winner?.channel ?? null,
        reason: "initial",
      };

      if (!plan.winner) {
        // No healthy channel now: wait for one to recover (durably, see route-waiter.ts) if the payment can.
        const until = expired ? null : waitDeadline(now, expiresAt, deps.waitMaxMs);
        if (until !== null) {
          const reason = whyNoRoute(plan.candidates);
          const { started } = await deps.waiting.park(envelope.id, {
            paymentId: payment.paymentId,
            attemptNo: 1,
            payment,
            waitUntil: until,
            nextTryAt: now + deps.waitRetryMs,
            reason,
          });
          metrics.decisions.inc({ result: started ? "waiting" : "duplicate" });
          if (started)
            logger.info({ paymentId: payment.paymentId, reason, waitUntil: until }, "payment waits for a channel");
          return;
        }
        const { attempt, event, failureCode, failureMessage } = noRouteFailure(
          ref,
          expiresAt,
          expired,
          plan.candidates,
        );
        const { started } = await store.begin(envelope.id, decision, attempt, event);
        metrics.decisions.inc({ result: started ? "no_route" : "duplicate" });
        if (started) {
          deps.notify();
          logger.warn({ paymentId: payment.paymentId, failureCode, failureMessage }, "payment not routed");
        }
        return;
      }

      const attempt: NewAttempt = {
        ...ref,
        status: "sending",
        expiresAt,
        nextQueryAt: now + deps.timeoutMs + CLAIM_MARGIN_MS,
      };
      const { claimed, started } = await store.begin(envelope.id, decision, attempt, null);
      if (!started) {
        metrics.decisions.inc({ result: "duplicate" });
        logger.info(
          { paymentId: payment.paymentId, eventId: envelope.id, redelivered: !claimed },
          "payment already routed; skipping",
        );
        return;
      }
      metrics.decisions.inc({ result: "routed" });
      limiter.background(
        () => runner.run(payment, attempt),
        release,
        (err) => logger.error({ err, paymentId: payment.paymentId }, "attempt runner failed"),
      );
      handedOver = true;
    } finally {
      if (!handedOver) release();
    }
  };
}
