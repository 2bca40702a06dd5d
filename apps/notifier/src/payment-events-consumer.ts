import type { Logger } from "@pps/logger";
import type { Infra } from "@pps/platform";
import { type Envelope, type EnvelopeHandler, EventConsumer, eventRegistry, type PaymentSnapshot, TOPICS } from "@pps/messaging";
import { paymentNotificationBody } from "./notification-body.ts";
import type { NotificationStore } from "./notification-store.ts";
import type { NotifierMetrics } from "./notifier-metrics.ts";

/**
 * A payment event a merchant cares about → one notification row (the inbox claim and the insert in one
 * transaction, so a redelivered event changes nothing). The handler returns once the notification is
 * durable; delivery is the dispatcher's job, which it wakes.
 */
export function createPaymentEventsHandler(deps: { store: NotificationStore; onCreated: () => void; metrics: NotifierMetrics; logger: Logger }): EnvelopeHandler {
  return async (envelope) => {
    const event = envelope as Envelope<PaymentSnapshot>;
    const payment = event.payload;
    const created = await deps.store.create({
      eventId: event.id,
      eventType: event.type,
      merchantId: payment.merchantId,
      paymentId: payment.paymentId,
      objectVersion: payment.version,
      url: payment.notifyUrl,
      body: paymentNotificationBody(event),
      occurredAt: event.occurredAt,
    });
    if (!created) {
      deps.logger.info({ eventId: event.id, paymentId: payment.paymentId }, "event already has its notification; skipping");
      return;
    }
    deps.metrics.created.inc({ event_type: event.type });
    deps.onCreated();
  };
}

export function createPaymentEventsConsumer(opts: {
  kafka: Infra["kafka"];
  topicPrefix: string;
  eventTypes: ReadonlySet<string>;
  concurrency: number;
  handler: EnvelopeHandler;
  metrics: NotifierMetrics;
  logger: Logger;
}): EventConsumer {
  return new EventConsumer({
    kafka: opts.kafka,
    // EventConsumer prefixes the group like the topics, so environments sharing a cluster never share a group.
    groupId: "notifier",
    topics: [TOPICS.paymentEvents.name],
    registry: eventRegistry,
    logger: opts.logger,
    topicPrefix: opts.topicPrefix,
    accept: (type) => opts.eventTypes.has(type),
    handler: opts.handler,
    concurrency: opts.concurrency,
    onOutcome: (outcome) => opts.metrics.consumed.inc({ outcome }),
  });
}
