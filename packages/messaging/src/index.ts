export * from "./consumer.ts";
export * from "./envelope.ts";
export * from "./events/index.ts";
export * from "./inbox.ts";
export * from "./kafka.ts";
export * from "./outbox.ts";
export * from "./registry.ts";
export * from "./topics.ts";
