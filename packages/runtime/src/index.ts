export * from "./app.ts";
export * from "./bearer-auth.ts";
export * from "./errors.ts";
export * from "./json-body.ts";
export * from "./lifecycle.ts";
export * from "./main-guard.ts";
export * from "./metrics.ts";
export * from "./polling-loop.ts";
