import { Counter, Gauge, Histogram, type Registry } from "prom-client";

export type RouterMetrics = ReturnType<typeof createRouterMetrics>;

export function createRouterMetrics(registry: Registry) {
  const registers = [registry];
  return {
    attempts: new Counter({
      name: "router_channel_attempts_total",
      help: "Channel pay calls by channel and outcome (succeeded, failed, requires_action, pending, unknown)",
      labelNames: ["channel", "outcome"] as const,
      registers,
    }),
    callDuration: new Histogram({
      name: "router_channel_call_duration_seconds",
      help: "Latency of channel calls by channel and operation (pay, query; capture, void, cancel, refund and their <kind>_query)",
      labelNames: ["channel", "operation"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    decisions: new Counter({
      name: "router_decisions_total",
      help: "Routing decisions: routed, waiting (no channel now; waits for one), routed_after_wait, no_route (no channel could take the payment and it could not wait), duplicate (already routed)",
      labelNames: ["result"] as const,
      registers,
    }),
    failovers: new Counter({
      name: "router_failovers_total",
      help: "Failovers from a channel that was unavailable to the next candidate",
      labelNames: ["from", "to"] as const,
      registers,
    }),
    resolutions: new Counter({
      name: "router_resolutions_total",
      help: "Query results for unknown, pending and requires_action attempts, by channel and answer",
      labelNames: ["channel", "answer"] as const,
      registers,
    }),
    operationCalls: new Counter({
      name: "router_operation_calls_total",
      help: "Channel operation calls by channel, kind (capture, void, cancel, refund) and outcome (succeeded, failed, pending, unknown)",
      labelNames: ["channel", "kind", "outcome"] as const,
      registers,
    }),
    operationResolutions: new Counter({
      name: "router_operation_resolutions_total",
      help: "Query results for unknown and pending operation calls, by channel, kind and answer",
      labelNames: ["channel", "kind", "answer"] as const,
      registers,
    }),
    operationRequests: new Counter({
      name: "router_operation_requests_total",
      help: "Operation requests consumed: started (a call was made) or duplicate (the operation already had its call)",
      labelNames: ["result"] as const,
      registers,
    }),
    callbackSettlements: new Counter({
      name: "router_callback_settlements_total",
      help: "Attempts and operation calls settled by a channel callback (payment.internal.channel_settled), by subject and result (settled, not_found, duplicate)",
      labelNames: ["subject", "result"] as const,
      registers,
    }),
    circuitTransitions: new Counter({
      name: "router_circuit_transitions_total",
      help: "Circuit breaker state changes by channel and new state",
      labelNames: ["channel", "state"] as const,
      registers,
    }),
    consumed: new Counter({
      name: "router_consumed_messages_total",
      help: "payment events consumed by outcome (handled, skipped, dead_lettered, failed)",
      labelNames: ["outcome"] as const,
      registers,
    }),
    inFlight: new Gauge({ name: "router_attempts_in_flight", help: "Channel calls in flight", registers }),
  };
}
