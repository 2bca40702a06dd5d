import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type NotifierMetrics = ReturnType<typeof createNotifierMetrics>;

/** What the backlog gauges read at every scrape (NotificationStore.backlog). */
export type BacklogSource = () => Promise<{
  merchants: { merchantId: string; open: number; due: number; oldestDueSeconds: number }[];
  oldestDueSeconds: number;
}>;

export function createNotifierMetrics(registry: Registry, backlog?: BacklogSource) {
  const registers = [registry];
  // One query serves the three gauges of a scrape.
  let pending: Promise<Awaited<ReturnType<BacklogSource>>> | undefined;
  const read = () => {
    pending ??= (backlog as BacklogSource)().finally(() => {
      setTimeout(() => {
        pending = undefined;
      }, 500);
    });
    return pending;
  };
  const backlogGauges = backlog
    ? {
        backlog: new Gauge({
          name: "notification_backlog",
          help: "Notifications not yet delivered or dead, per merchant (the 50 largest), by state: due now or open at all",
          labelNames: ["merchant_id", "state"] as const,
          registers,
          async collect() {
            const b = await read();
            this.reset();
            for (const m of b.merchants) {
              this.set({ merchant_id: m.merchantId, state: "open" }, m.open);
              this.set({ merchant_id: m.merchantId, state: "due" }, m.due);
            }
          },
        }),
        merchantOldestDue: new Gauge({
          name: "notification_merchant_oldest_due_age_seconds",
          help: "Per merchant (the 50 with the largest backlog): how long its oldest due notification has waited past its due time",
          labelNames: ["merchant_id"] as const,
          registers,
          async collect() {
            const b = await read();
            this.reset();
            for (const m of b.merchants) this.set({ merchant_id: m.merchantId }, m.oldestDueSeconds);
          },
        }),
        oldestDue: new Gauge({
          name: "notification_oldest_due_age_seconds",
          help: "How long the oldest due notification (any merchant) has waited past its due time; 0 when none is due. Alert when it stays above a minute.",
          registers,
          async collect() {
            this.set((await read()).oldestDueSeconds);
          },
        }),
      }
    : {};
  return {
    ...backlogGauges,
    concurrencyLimit: new Gauge({
      name: "notification_concurrency_limit",
      help: "This process's adaptive in-flight window per merchant (the claim also applies the merchant's ceiling across replicas)",
      labelNames: ["merchant_id"] as const,
      registers,
    }),
    deliveries: new Counter({
      name: "notification_deliveries_total",
      help: "Delivery attempts by outcome (delivered, failed, refused) and error code (none when delivered)",
      labelNames: ["outcome", "error"] as const,
      registers,
    }),
    deliveryDuration: new Histogram({
      name: "notification_delivery_duration_seconds",
      help: "Latency of delivery attempts (resolve, connect, request, response) by outcome",
      labelNames: ["outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    firstDeliveryDelay: new Histogram({
      name: "notification_first_delivery_delay_seconds",
      help: "Time from the event's occurredAt to the notification's first successful delivery",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400],
      registers,
    }),
    created: new Counter({
      name: "notifications_created_total",
      help: "Notifications created, by event type",
      labelNames: ["event_type"] as const,
      registers,
    }),
    dead: new Counter({
      name: "notifications_dead_total",
      help: "Notifications that went dead, by the last error",
      labelNames: ["error"] as const,
      registers,
    }),
    consumed: new Counter({
      name: "notifier_consumed_messages_total",
      help: "Payment events consumed by outcome (handled, skipped, dead_lettered, failed)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    inFlight: new Gauge({
      name: "notification_deliveries_in_flight",
      help: "Deliveries in flight in this process",
      registers,
    }),
    claimFailures: new Counter({
      name: "notifier_claim_failures_total",
      help: "Failed attempts to claim due notifications (database trouble)",
      registers,
    }),
  };
}
