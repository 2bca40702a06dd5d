export * from "./canonical.ts";
export * from "./dev-platform-key.ts";
export * from "./envelopes.ts";
export * from "./legacy-params.ts";
export * from "./merchant-request.ts";
export * from "./request-v2.ts";
export * from "./schemes.ts";
