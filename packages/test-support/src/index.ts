export * from "./api-document.ts";
export * from "./database.ts";
export * from "./env.ts";
export * from "./environment.ts";
export * from "./merchants.ts";
export * from "./ports.ts";
export * from "./process.ts";
export * from "./tcp-proxy.ts";
