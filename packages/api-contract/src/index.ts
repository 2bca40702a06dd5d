export * from "./admin.ts";
export * from "./common.ts";
export * from "./document.ts";
export * from "./headers.ts";
export * from "./notifications.ts";
export * from "./operations.ts";
export * from "./payments.ts";
export * from "./routes.ts";
