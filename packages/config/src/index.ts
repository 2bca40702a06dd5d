export { ConfigError, loadEnv } from "./load-env.ts";
export * as envVars from "./vars.ts";
