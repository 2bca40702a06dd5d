import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type NotifierMetrics = ReturnType<typeof createNotifierMetrics>;

export function createNotifierMetrics(registry: Registry) {
  const registers = [registry];
  return {
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
