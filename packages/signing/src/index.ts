export * from "./canonical.ts";
export * from "./schemes.ts";
