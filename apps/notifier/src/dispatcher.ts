import type { Logger } from "@pps/logger";
import { Coalescer, PollingLoop } from "@pps/runtime";
import { signBodyForMerchant } from "@pps/signing";
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

/**
 * Delivers due notifications. It claims them from Postgres (the schedule lives there, never only in memory)
 * with a lease, up to the free slots of its worker pool, and the claim itself keeps each merchant within its
 * in-flight limit, so a merchant whose endpoint hangs holds at most that many workers and everyone else's
 * notifications keep flowing. Each attempt is signed afresh, sent, and recorded with its consequence; the
 * attempts that finish together are recorded together (group commit: one statement for the lot).
 */
export class Dispatcher {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly loop: PollingLoop;
  private readonly recorder: Coalescer<AttemptToRecord, RecordOutcome>;

  constructor(private readonly opts: DispatcherOptions) {
    const { store, workers, pollMs, metrics, logger } = opts;
    this.recorder = new Coalescer({ run: (attempts) => store.recordAttempts(attempts), maxBatch: workers });
    this.loop = new PollingLoop({
      name: "notification claim",
      logger,
      idleMs: pollMs,
      onError: () => metrics.claimFailures.inc(),
      // Claims up to the free workers. Not "busy" when full: a worker that finishes wakes the loop.
      round: async () => {
        const free = workers - this.inFlight.size;
        if (free <= 0) return false;
        for (const n of await store.claim(free)) this.track(n);
        return false;
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

  private track(n: ClaimedNotification): void {
    this.opts.metrics.inFlight.inc();
    const p = this.deliver(n)
      .catch((err: unknown) =>
        this.opts.logger.error(
          { err, notificationId: n.id },
          "delivery failed unexpectedly; the lease will expire and it will be retried",
        ),
      )
      .finally(() => {
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
      });
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
  }
}
