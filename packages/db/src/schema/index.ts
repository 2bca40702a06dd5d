export * from "./common.ts";
export * from "./ledger.ts";
export * from "./notify.ts";
export * from "./payment.ts";
export * from "./recon.ts";
export * from "./risk.ts";
export * from "./routing.ts";
export * from "./sim.ts";
