import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { RISK_OUTCOMES } from "@pps/messaging";

export type RiskMetrics = ReturnType<typeof createRiskMetrics>;

/** risk-stub's own metrics, registered next to the shared HTTP and Node ones. */
export function createRiskMetrics(registry: Registry) {
  const decisions = new Counter({
    name: "risk_decisions_total",
    help: "Risk decisions made, by outcome",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  // Start every outcome at 0 so rates work from the first decision.
  for (const outcome of RISK_OUTCOMES) decisions.inc({ outcome }, 0);
  return {
    decisions,
    paymentEvents: new Counter({
      name: "risk_payment_events_total",
      help: "Payment events seen: decided, duplicate (already processed), not_in_review (nothing to decide)",
      labelNames: ["result"] as const,
      registers: [registry],
    }),
    consumerMessages: new Counter({
      name: "risk_consumer_messages_total",
      help: "Kafka messages by consumer outcome (handled, skipped, dead_lettered, failed)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: "risk_decision_duration_seconds",
      help: "Time to decide and record a payment: the database transaction it was decided in (alone or with its chunk)",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    outboxPublished: new Counter({
      name: "risk_outbox_published_total",
      help: "risk.decided events relayed to Kafka",
      registers: [registry],
    }),
    rulesVersion: new Gauge({
      name: "risk_rules_version",
      help: "Rules version in use on this replica",
      registers: [registry],
    }),
    blocklistEntries: new Gauge({
      name: "risk_blocklist_entries",
      help: "Blocklist entries in use on this replica, by kind",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
  };
}
