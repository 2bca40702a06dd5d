export * from "./accounts.ts";
export * from "./errors.ts";
export * from "./invariants.ts";
export * from "./ledger.ts";
