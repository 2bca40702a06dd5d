import { EventRegistry } from "../registry.ts";
import { paymentEvents } from "./payment.ts";

export * from "./payment.ts";

/** Every event type this platform publishes, at every version still produced. */
export const ALL_EVENTS = [...Object.values(paymentEvents)];

export const eventRegistry = new EventRegistry(ALL_EVENTS);
