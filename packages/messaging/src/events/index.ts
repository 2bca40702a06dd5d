import { EventRegistry } from "../registry.ts";
import { channelEvents, channelEventsV1 } from "./channel.ts";
import { notificationEvents } from "./notification.ts";
import {
  operationEvents,
  paymentEvents,
  paymentEventsV1,
  paymentInternalEvents,
  paymentOperationInternalEvents,
} from "./payment.ts";
import { riskEvents } from "./risk.ts";

export * from "./channel.ts";
export * from "./notification.ts";
export * from "./payment.ts";
export * from "./risk.ts";

/**
 * Every event type this platform publishes, at every version still produced or still read (retired ones,
 * marked `retired`, stay until no message of them can be left on a topic).
 */
export const ALL_EVENTS = [
  ...Object.values(paymentEvents),
  ...Object.values(paymentEventsV1),
  ...Object.values(paymentInternalEvents),
  ...Object.values(operationEvents),
  ...Object.values(paymentOperationInternalEvents),
  ...Object.values(riskEvents),
  ...Object.values(channelEvents),
  ...Object.values(channelEventsV1),
  ...Object.values(notificationEvents),
];

export const eventRegistry = new EventRegistry(ALL_EVENTS);
