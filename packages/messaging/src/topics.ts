/**
 * The topic catalogue. Names are the public contract; a deployment may prefix them (KAFKA_TOPIC_PREFIX)
 * so several environments or test runs can share one cluster.
 *
 * `restricted`: the topic carries personal data (the payer's IP, device id, phone). Only its listed producers
 * and consumers may read or write it (Kafka ACLs, infra/k8s), it is never offered to other teams, and a
 * consumer dead-letters its messages by reference (coordinates and reason, not the value), so the data never
 * leaves it for a topic more people can read.
 */
export const TOPICS = {
  paymentEvents: {
    name: "pps.payment.events.v1",
    description:
      "Every payment state change, written by payment-api through its outbox. Key: payment id. Carries no personal data: the payer is named by id only (since payment.* v2).",
    producers: ["payment-api"],
    consumers: [
      "notifier",
      "reconciler",
      "downstream teams",
      "risk-stub and router (retired v1 events only, until the move to pps.payment.internal.v1 is complete)",
    ],
    restricted: false,
  },
  paymentInternal: {
    name: "pps.payment.internal.v1",
    description:
      "RESTRICTED. The payment snapshot with the payer's contact data (IP, device id, phone) for the changes our own stages act on: entering risk review (risk-stub) and processing (router). Written by payment-api in the same outbox transaction as the public event. Key: payment id.",
    producers: ["payment-api"],
    consumers: ["risk-stub", "router"],
    restricted: true,
  },
  riskDecisions: {
    name: "pps.risk.decisions.v1",
    description: "Risk decisions (allow, challenge, block) for requested operations. Key: payment id.",
    producers: ["risk-stub"],
    consumers: ["payment-api"],
    restricted: false,
  },
  channelResults: {
    name: "pps.channel.results.v1",
    description: "Outcomes of channel attempts as seen by the router. Key: payment id.",
    producers: ["router"],
    consumers: ["payment-api"],
    restricted: false,
  },
  notificationDeadLetter: {
    name: "pps.notification.dead-letter.v1",
    description:
      "Merchant notifications that exhausted their delivery schedule (or were refused) and went dead, written by notifier through its outbox. Key: notification id.",
    producers: ["notifier"],
    consumers: ["operators"],
    restricted: false,
  },
  deadLetter: {
    name: "pps.dead-letter.v1",
    description:
      "Messages a consumer could not accept (malformed, unknown type, rejected), with the reason in headers. Key: original key. A message of a restricted topic is recorded by reference only: no value, its source topic, partition and offset in the headers.",
    producers: ["every consumer"],
    consumers: ["operators"],
    restricted: false,
  },
} as const;

export type TopicId = keyof typeof TOPICS;
export type TopicName = (typeof TOPICS)[TopicId]["name"];

export function topicName(id: TopicId, prefix = ""): string {
  return `${prefix}${TOPICS[id].name}`;
}

const RESTRICTED = new Set<string>(
  Object.values(TOPICS)
    .filter((t) => t.restricted)
    .map((t) => t.name),
);

/** Whether a catalogue topic (name without prefix) carries personal data. */
export function isRestrictedTopic(name: string): boolean {
  return RESTRICTED.has(name);
}
