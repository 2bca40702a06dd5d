export * from "./errors.ts";
export * from "./ids.ts";
export * from "./payment.ts";
export * from "./product-rules.ts";
export * from "./state-machine.ts";
export * from "./operation.ts";
export * from "./settlement-calendar.ts";
