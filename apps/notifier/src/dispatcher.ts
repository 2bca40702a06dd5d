import type { Logger } from "@pps/logger";
import { Coalescer, PollingLoop } from "@pps/runtime";
import { signBodyForMerchant } from "@pps/signing";
import { AdaptiveLimit } from "./adaptive-concurrency.ts";
import { DestinationAgents } from "./destination-agents.ts";
import type { DestinationGuard } from "./destination-guard.ts";
import { type DeliveryResult, deliverOnce } from "./http-delivery.ts";
import type { MerchantSigningClient } from "./merchant-signing.ts";
import type { AttemptToRecord, ClaimedNotification, NotificationStore, RecordOutcome } from "./notification-store.ts";
import type { NotifierMetrics } from "./notifier-metrics.ts";

export type DispatcherOptions = {
  store: NotificationStore;
  signing: MerchantSigningClient;
  guard: DestinationGuard;
  platformPrivateKey: string;
  /** Deliveries in flight at once in this process (the global worker pool). */
  workers: number;
  /** Adaptive per-merchant window: never below the floor, starting at `initial`, never above the merchant's ceiling. */
  concurrency: { floor: number; initial: number };
  /** Keep-alive connections per destination (default on). */
  keepAlive?: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
  pollMs: number;
  /** Called after a notification went dead (the outbox holds its dead-letter event). */
  onDeadLettered?: () => void;
  metrics: NotifierMetrics;
  logger: Logger;
};

/** When payment-api cannot tell us a merchant's key, the notification waits this long without using an attempt. */
const SIGNING_UNAVAILABLE_RETRY_MS = 5_000;

/** After a claim that found a lane held by another replica, the next one comes this much later. */
const CONTENDED_RETRY_MS = 3;
/** Adaptive windows kept for this many merchants at most (the least recently used are forgotten). */
const MAX_TRACKED_MERCHANTS = 10_000;

/**
 * Delivers due notifications. It claims them from Postgres (the schedule lives there, never only in memory)
 * with a lease, up to the free slots of its worker pool. Each merchant has an adaptive window here (see
 * AdaptiveLimit) and a ceiling across replicas that the claim enforces, so a merchant whose endpoint hangs
 * holds at most what it had in flight when it started hanging (its window then shrinks to the floor), and
 * never more than half of this process's workers, so everyone else's notifications keep flowing. Each
 * attempt is signed afresh, sent over a kept-alive connection to the pinned addresses, and recorded with its
 * consequence; the attempts that finish together are recorded together (group commit: one statement).
 */
export class Dispatcher {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly limits = new Map<string, AdaptiveLimit>();
  private readonly inFlightByMerchant = new Map<string, number>();
  private readonly agents: DestinationAgents | undefined;
  private readonly loop: PollingLoop;
  private readonly recorder: Coalescer<AttemptToRecord, RecordOutcome>;

  constructor(private readonly opts: DispatcherOptions) {
    const { store, workers, pollMs, metrics, logger } = opts;
    this.agents = opts.keepAlive === false ? undefined : new DestinationAgents();
    // One merchant never takes every worker: if it hangs, the rest still have half.
    const merchantShare = Math.max(1, Math.floor(workers / 2));
    const claimBatch = Math.max(1, Math.floor(workers / 4));
    this.recorder = new Coalescer({ run: (attempts) => store.recordAttempts(attempts), maxBatch: workers });
    this.loop = new PollingLoop({
      name: "notification claim",
      logger,
      idleMs: pollMs,
      onError: () => metrics.claimFailures.inc(),
      // Claims up to the free workers. Not "busy" when full: a worker that finishes wakes the loop.
      round: async () => {
        const free = workers - this.inFlight.size;
        // A claim costs a round trip and a statement whatever it takes: with work in flight, wait until a few
        // workers are free (each finishing worker wakes the loop) so claims come in batches.
        if (free <= 0 || (this.inFlight.size > 0 && free < claimBatch)) return false;
        const allowances = new Map<string, number>();
        for (const [merchantId, limit] of this.limits)
          allowances.set(
            merchantId,
            Math.max(0, Math.min(limit.limit, merchantShare) - (this.inFlightByMerchant.get(merchantId) ?? 0)),
          );
        const { claimed, more } = await store.claimRound(free, {
          allowances,
          defaultAllowance: Math.min(opts.concurrency.initial, merchantShare),
        });
        for (const n of claimed) this.track(n);
        if (!more || this.inFlight.size >= workers) return false;
        // Another replica held a lane with due work: it commits within milliseconds, so look again soon.
        await new Promise((r) => setTimeout(r, CONTENDED_RETRY_MS));
        return true;
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Looks for due work now (a notification was created or resent, or a worker became free). */
  wake(): void {
    this.loop.wake();
  }

  /** This merchant's window, created at the initial size; its ceiling follows the latest claim. */
  private limitOf(merchantId: string, ceiling?: number): AdaptiveLimit {
    let limit = this.limits.get(merchantId);
    if (limit) this.limits.delete(merchantId);
    else limit = new AdaptiveLimit({ ...this.opts.concurrency, ceiling: ceiling ?? this.opts.concurrency.initial });
    if (ceiling !== undefined) limit.setCeiling(ceiling);
    // Re-inserted: the map's order is least recently used first.
    this.limits.set(merchantId, limit);
    if (this.limits.size > MAX_TRACKED_MERCHANTS) {
      const oldest = this.limits.keys().next().value;
      if (oldest !== undefined && !this.inFlightByMerchant.has(oldest)) {
        this.limits.delete(oldest);
        this.opts.metrics.concurrencyLimit.remove({ merchant_id: oldest });
      }
    }
    return limit;
  }

  /** The current window of a merchant in this process (for tests and metrics). */
  windowOf(merchantId: string): number | undefined {
    return this.limits.get(merchantId)?.limit;
  }

  private track(n: ClaimedNotification): void {
    this.opts.metrics.inFlight.inc();
    this.limitOf(n.merchantId, n.merchantCeiling);
    this.inFlightByMerchant.set(n.merchantId, (this.inFlightByMerchant.get(n.merchantId) ?? 0) + 1);
    const p = this.deliver(n)
      .catch((err: unknown) =>
        this.opts.logger.error(
          { err, notificationId: n.id },
          "delivery failed unexpectedly; the lease will expire and it will be retried",
        ),
      )
      .finally(() => {
        const left = (this.inFlightByMerchant.get(n.merchantId) ?? 1) - 1;
        if (left > 0) this.inFlightByMerchant.set(n.merchantId, left);
        else this.inFlightByMerchant.delete(n.merchantId);
        this.inFlight.delete(p);
        this.opts.metrics.inFlight.dec();
        this.wake();
      });
    this.inFlight.add(p);
  }

  private async deliver(n: ClaimedNotification): Promise<void> {
    const { store, signing, metrics, logger } = this.opts;
    const startedAt = new Date();
    const key = await signing.get(n.merchantId);
    let result: DeliveryResult;
    if (!key.ok && key.reason === "unavailable") {
      logger.warn(
        { notificationId: n.id, merchantId: n.merchantId, detail: key.detail },
        "merchant signing key unavailable; notification postponed",
      );
      await store.release(n, SIGNING_UNAVAILABLE_RETRY_MS);
      return;
    }
    if (!key.ok) {
      // No key will ever sign this: nothing can be sent.
      result = {
        outcome: "refused",
        statusCode: null,
        latencyMs: 0,
        responseBody: null,
        error: "merchant_unknown",
        errorDetail: key.detail,
      };
    } else {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers = {
        "content-type": "application/json",
        "user-agent": "pps-notifier/1",
        "x-event-id": n.eventId,
        "x-notification-id": n.id,
        ...signBodyForMerchant({
          scheme: key.signing.scheme,
          secretKey: key.signing.secretKey,
          platformPrivateKey: this.opts.platformPrivateKey,
          body: n.body,
          timestamp,
        }),
      };
      result = await deliverOnce({
        url: n.url,
        body: n.body,
        headers,
        timeoutMs: this.opts.timeoutMs,
        maxResponseBytes: this.opts.maxResponseBytes,
        guard: this.opts.guard,
        ...(this.agents ? { agents: this.agents } : {}),
      });
      const limit = this.limitOf(n.merchantId);
      const signal = limit.observe(result, startedAt.getTime());
      metrics.concurrencyLimit.set({ merchant_id: n.merchantId }, limit.limit);
      if (signal === "overload")
        logger.debug({ merchantId: n.merchantId, window: limit.limit }, "destination overloaded");
    }
    metrics.deliveries.inc({ outcome: result.outcome, error: result.error ?? "none" });
    metrics.deliveryDuration.observe({ outcome: result.outcome }, result.latencyMs / 1000);
    const recorded = await this.recorder.submit({ claim: n, result, startedAt });
    if (!recorded.recorded) {
      logger.warn(
        { notificationId: n.id, outcome: result.outcome },
        "lease lost before the attempt was recorded; another dispatcher owns the notification",
      );
      return;
    }
    const log = {
      notificationId: n.id,
      merchantId: n.merchantId,
      eventType: n.eventType,
      attempt: recorded.row.attempts,
      outcome: result.outcome,
      statusCode: result.statusCode,
      error: result.error,
    };
    if (result.outcome === "delivered") {
      // The first success ever (a resend of a delivered notification does not count again).
      if (n.deliveredAt === null)
        metrics.firstDeliveryDelay.observe(Math.max(0, Date.now() - n.eventOccurredAt.getTime()) / 1000);
      logger.debug(log, "notification delivered");
    } else if (recorded.deadLettered) {
      metrics.dead.inc({ error: result.error ?? "unknown" });
      logger.warn({ ...log, detail: result.errorDetail }, "notification dead");
      this.opts.onDeadLettered?.();
    } else {
      logger.info(
        { ...log, nextAttemptAt: recorded.row.nextAttemptAt },
        "notification attempt failed; retry scheduled",
      );
    }
  }

  /** Stops claiming, then waits for the attempts in flight (each bounded by its timeout) to be recorded. */
  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.inFlight]);
    this.agents?.destroy();
  }
}
