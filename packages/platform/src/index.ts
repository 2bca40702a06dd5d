export * from "./base-env.ts";
export * from "./infra.ts";
