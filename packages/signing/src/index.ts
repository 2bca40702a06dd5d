export * from "./canonical.ts";
export * from "./dev-platform-key.ts";
export * from "./envelopes.ts";
export * from "./schemes.ts";
