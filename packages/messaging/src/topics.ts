/**
 * The topic catalogue. Names are the public contract; a deployment may prefix them (KAFKA_TOPIC_PREFIX)
 * so several environments or test runs can share one cluster.
 */
export const TOPICS = {
  paymentEvents: {
    name: "pps.payment.events.v1",
    description: "Every payment state change, written by payment-api through its outbox. Key: payment id.",
    producers: ["payment-api"],
    consumers: ["risk-stub", "router", "notifier", "reconciler", "downstream teams"],
  },
  riskDecisions: {
    name: "pps.risk.decisions.v1",
    description: "Risk decisions (allow, challenge, block) for requested operations. Key: payment id.",
    producers: ["risk-stub"],
    consumers: ["payment-api"],
  },
  channelResults: {
    name: "pps.channel.results.v1",
    description: "Outcomes of channel attempts as seen by the router. Key: payment id.",
    producers: ["router"],
    consumers: ["payment-api"],
  },
  notificationDeadLetter: {
    name: "pps.notification.dead-letter.v1",
    description: "Merchant notifications that exhausted their delivery schedule (or were refused) and went dead, written by notifier through its outbox. Key: notification id.",
    producers: ["notifier"],
    consumers: ["operators"],
  },
  deadLetter: {
    name: "pps.dead-letter.v1",
    description: "Messages a consumer could not accept (malformed, unknown type, rejected), with the reason in headers. Key: original key.",
    producers: ["every consumer"],
    consumers: ["operators"],
  },
} as const;

export type TopicId = keyof typeof TOPICS;
export type TopicName = (typeof TOPICS)[TopicId]["name"];

export function topicName(id: TopicId, prefix = ""): string {
  return `${prefix}${TOPICS[id].name}`;
}
