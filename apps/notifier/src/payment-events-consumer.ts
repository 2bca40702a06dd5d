import type { Logger } from "@pps/logger";
import type { Infra } from "@pps/platform";
import {
  type BatchEnvelopeHandler,
  type Envelope,
  type EnvelopeHandler,
  EventConsumer,
  eventRegistry,
  type OperationSnapshot,
  operationEvents,
  type PaymentSnapshot,
  TOPICS,
} from "@pps/messaging";
import { operationNotificationBody, paymentNotificationBody } from "./notification-body.ts";

const OPERATION_TYPES = new Set<string>(Object.values(operationEvents).map((e) => e.type));
const isOperationEvent = (type: string) => OPERATION_TYPES.has(type);
import type { NewNotification, NotificationStore } from "./notification-store.ts";
import type { NotifierMetrics } from "./notifier-metrics.ts";

export type PaymentEventsHandlerDeps = {
  store: NotificationStore;
  onCreated: () => void;
  metrics: NotifierMetrics;
  logger: Logger;
};

/**
 * The notification an event a merchant cares about becomes. Operation events (capture, void, cancel,
 * refund) are the payment's too: keyed by its id, with the operation's own version (ordered delivery
 * orders a payment's notifications by version, so an operation's follow its own earlier ones).
 */
function notificationFor(envelope: Envelope): NewNotification {
  if (isOperationEvent(envelope.type)) {
    const event = envelope as Envelope<OperationSnapshot>;
    const op = event.payload;
    return {
      eventId: event.id,
      eventType: event.type,
      merchantId: op.merchantId,
      paymentId: op.paymentId,
      objectVersion: op.version,
      url: op.notifyUrl,
      body: operationNotificationBody(event),
      occurredAt: event.occurredAt,
    };
  }
  const event = envelope as Envelope<PaymentSnapshot>;
  const payment = event.payload;
  return {
    eventId: event.id,
    eventType: event.type,
    merchantId: payment.merchantId,
    paymentId: payment.paymentId,
    objectVersion: payment.version,
    url: payment.notifyUrl,
    body: paymentNotificationBody(event),
    occurredAt: event.occurredAt,
  };
}

/**
 * A payment event a merchant cares about → one notification row (the inbox claim and the insert in one
 * transaction, so a redelivered event changes nothing). The handler returns once the notification is
 * durable; delivery is the dispatcher's job, which it wakes.
 */
export function createPaymentEventsHandler(deps: PaymentEventsHandlerDeps): EnvelopeHandler {
  return async (envelope) => {
    const notification = notificationFor(envelope);
    if (await deps.store.create(notification)) created(deps, notification);
    else skipped(deps, notification);
  };
}

/**
 * The same for a whole chunk of events in one statement (inbox claims and notifications set-based). An event
 * twice in the chunk, or already notified from an earlier delivery, gets no second notification. If it
 * throws, the consumer replays the chunk one event at a time through the per-message handler.
 */
export function createPaymentEventsBatchHandler(deps: PaymentEventsHandlerDeps): BatchEnvelopeHandler {
  return async (items) => {
    const notifications = items.map((item) => notificationFor(item.envelope));
    const fresh = new Set(await deps.store.createMany(notifications));
    for (const notification of notifications) {
      // delete: an event id twice in the chunk was created (at most) once.
      if (fresh.delete(notification.eventId)) created(deps, notification);
      else skipped(deps, notification);
    }
  };
}

function created(deps: PaymentEventsHandlerDeps, notification: NewNotification): void {
  deps.metrics.created.inc({ event_type: notification.eventType });
  deps.onCreated();
}

function skipped(deps: PaymentEventsHandlerDeps, notification: NewNotification): void {
  deps.logger.info(
    { eventId: notification.eventId, paymentId: notification.paymentId },
    "event already has its notification; skipping",
  );
}

export function createPaymentEventsConsumer(opts: {
  kafka: Infra["kafka"];
  topicPrefix: string;
  eventTypes: ReadonlySet<string>;
  concurrency: number;
  handler: EnvelopeHandler;
  batchHandler: BatchEnvelopeHandler;
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
    batchHandler: opts.batchHandler,
    concurrency: opts.concurrency,
    onOutcome: (outcome) => opts.metrics.consumed.inc({ outcome }),
  });
}
