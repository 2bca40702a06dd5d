import type { Logger } from "@pps/logger";
import {
  type EnvelopeHandler,
  EventConsumer,
  eventKey,
  eventRegistry,
  paymentOperationInternalEvents,
  TOPICS,
} from "@pps/messaging";
import type { Infra } from "@pps/platform";
import { ROUTED_EVENTS } from "./payment-processing-consumer.ts";
import type { RouterMetrics } from "./router-metrics.ts";

const OPERATION_REQUESTED = eventKey(
  paymentOperationInternalEvents.operationRequested.type,
  paymentOperationInternalEvents.operationRequested.version,
);
const CHANNEL_SETTLED = eventKey(
  paymentOperationInternalEvents.channelSettled.type,
  paymentOperationInternalEvents.channelSettled.version,
);

export type RouterHandlers = {
  /** payment.internal.processing (and the retired public payment.processing v1): route and pay. */
  processing: EnvelopeHandler;
  /** payment.internal.operation_requested: run an operation on the payment's channel. */
  operationRequested: EnvelopeHandler;
  /** payment.internal.channel_settled: a callback settled an attempt or operation; stop querying it. */
  channelSettled: EnvelopeHandler;
};

export type RouterConsumerOptions = {
  kafka: Infra["kafka"];
  topicPrefix: string;
  concurrency: number;
  handlers: RouterHandlers;
  logger: Logger;
  metrics: RouterMetrics;
};

/**
 * The router's one consumer group: what it must act on, from the restricted internal topic (and the public
 * one while retired v1 processing events may remain there). One group, so one payment's messages (keyed by
 * the payment) are handled in order whatever their type: a payment's operation never overtakes its
 * processing, nor a callback's settlement the call it settles. Every other type and version is skipped by
 * its headers.
 */
export function createRouterConsumer(o: RouterConsumerOptions): EventConsumer {
  const internalTopic = `${o.topicPrefix}${TOPICS.paymentInternal.name}`;
  const handler: EnvelopeHandler = async (envelope, ctx) => {
    const key = eventKey(envelope.type, envelope.version);
    if (ROUTED_EVENTS.has(key)) return o.handlers.processing(envelope, ctx);
    // Operations and settlements are payment-api's word to the router alone: only the restricted topic counts.
    if (ctx.topic !== internalTopic) {
      o.logger.warn(
        { type: envelope.type, topic: ctx.topic, eventId: envelope.id },
        "internal event on another topic; skipped",
      );
      return;
    }
    if (key === OPERATION_REQUESTED) return o.handlers.operationRequested(envelope, ctx);
    if (key === CHANNEL_SETTLED) return o.handlers.channelSettled(envelope, ctx);
  };
  return new EventConsumer({
    kafka: o.kafka,
    // EventConsumer prefixes the group like the topics, so environments sharing a broker never share a group.
    groupId: "router",
    topics: [TOPICS.paymentInternal.name, TOPICS.paymentEvents.name],
    registry: eventRegistry,
    logger: o.logger,
    topicPrefix: o.topicPrefix,
    accept: (type, version) => {
      const key = eventKey(type, version);
      return ROUTED_EVENTS.has(key) || key === OPERATION_REQUESTED || key === CHANNEL_SETTLED;
    },
    handler,
    concurrency: o.concurrency,
    onOutcome: (outcome) => o.metrics.consumed.inc({ outcome }),
  });
}
