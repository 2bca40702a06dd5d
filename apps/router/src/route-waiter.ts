import { attemptIdOf } from "@pps/domain";
import type { Logger } from "@pps/logger";
import { PollingLoop } from "@pps/runtime";
import type { AttemptRunner } from "./attempt-runner.ts";
import type { DecisionRecord, NewAttempt } from "./attempt-store.ts";
import type { InFlightLimiter } from "./in-flight-limiter.ts";
import { NO_CHANNEL, noRouteFailure, whyNoRoute } from "./no-route.ts";
import { CLAIM_MARGIN_MS } from "./resolution-policy.ts";
import { type RoutePlanner, routingInputOf } from "./route-planner.ts";
import type { RouterMetrics } from "./router-metrics.ts";
import type { ClaimedWaiting, WaitingStore } from "./waiting-store.ts";

export type RouteWaiterOptions = {
  waiting: WaitingStore;
  planner: RoutePlanner;
  runner: AttemptRunner;
  limiter: InFlightLimiter;
  notify: () => void;
  metrics: RouterMetrics;
  logger: Logger;
  timeoutMs: number;
  /** Pause before a waiting payment is tried again (ROUTE_WAIT_RETRY_MS). */
  retryMs: number;
  batchSize?: number;
  idlePollMs?: number;
};

/** A claimed row is another replica's again after this long if this one died before routing it. */
const LEASE_MS = 10_000;

/**
 * Routes payments that wait for a channel (routing.waiting_payments) as soon as one can take them: rows are
 * claimed with `for update skip locked` and a lease, so replicas share them and a crash loses none. A
 * payment that still finds no channel tries again after `retryMs`; at its deadline (ROUTE_WAIT_MAX_MS or
 * its expiry) it fails with no_channel_available (or payment_expired).
 */
export class RouteWaiter {
  private readonly loop: PollingLoop;

  constructor(private readonly opts: RouteWaiterOptions) {
    const { logger, idlePollMs = 200, batchSize = 200 } = opts;
    this.loop = new PollingLoop({
      name: "route waiter",
      logger,
      idleMs: idlePollMs,
      round: async () => (await this.tryOnce()) >= batchSize,
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Tries every waiting payment that is due (one claim batch); returns how many. Exposed for tests. */
  async tryOnce(): Promise<number> {
    const due = await this.opts.waiting.claimDue(this.opts.batchSize ?? 200, LEASE_MS);
    // In order: each may take a channel slot, and the limiter bounds the calls in flight.
    for (const w of due) await this.tryOne(w);
    return due.length;
  }

  private async tryOne(w: ClaimedWaiting): Promise<void> {
    const { waiting, planner, runner, limiter, metrics, logger } = this.opts;
    const p = w.payment;
    const input = routingInputOf(p);
    const expiresAt = Date.parse(p.expiresAt);
    const log = { paymentId: w.paymentId, tries: w.tries };
    const release = await limiter.acquire();
    let handedOver = false;
    try {
      const now = Date.now();
      const expired = expiresAt <= now;
      const plan = expired ? { candidates: [], winner: null } : await planner.plan(input);
      const ref = {
        id: attemptIdOf(w.paymentId, w.attemptNo),
        paymentId: w.paymentId,
        attemptNo: w.attemptNo,
        channel: plan.winner?.channel ?? NO_CHANNEL,
        amount: p.amount,
        currency: p.currency,
      };
      const decision: DecisionRecord = {
        paymentId: w.paymentId,
        attemptNo: w.attemptNo,
        input,
        candidates: plan.candidates,
        winner: plan.winner?.channel ?? null,
        reason: w.attemptNo === 1 ? "initial" : "failover",
      };
      if (plan.winner) {
        const attempt: NewAttempt = {
          ...ref,
          status: "sending",
          expiresAt,
          nextQueryAt: now + this.opts.timeoutMs + CLAIM_MARGIN_MS,
        };
        if (!(await waiting.route(w, decision, attempt))) {
          logger.warn(log, "waiting payment was taken elsewhere; not routing it");
          return;
        }
        metrics.decisions.inc({ result: "routed_after_wait" });
        logger.info({ ...log, channel: attempt.channel, attemptId: attempt.id }, "waiting payment routed");
        limiter.background(
          () => runner.run(p, attempt, w.waitUntil),
          release,
          (err) => logger.error({ err, paymentId: w.paymentId }, "attempt runner failed"),
        );
        handedOver = true;
        return;
      }
      if (expired || now >= w.waitUntil) {
        const { attempt, event, failureCode, failureMessage } = noRouteFailure(
          ref,
          expiresAt,
          expired,
          plan.candidates,
        );
        if (await waiting.giveUp(w, decision, attempt, event)) {
          this.opts.notify();
          metrics.decisions.inc({ result: "no_route" });
          logger.warn({ ...log, failureCode, failureMessage }, "payment waited for a channel in vain; not routed");
        }
        return;
      }
      await waiting.retryLater(w, Math.min(now + this.opts.retryMs, w.waitUntil), whyNoRoute(plan.candidates));
    } catch (err) {
      // The lease runs out and the payment is tried again.
      logger.error({ ...log, err }, "could not try a waiting payment");
    } finally {
      if (!handedOver) release();
    }
  }
}
