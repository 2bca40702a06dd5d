export * from "./env.ts";
export * from "./ports.ts";
export * from "./process.ts";
