import { loadEnv } from "@pps/config";
import { baseEnvSchema } from "@pps/platform";

// The only place this app reads process.env.
export const envSchema = baseEnvSchema(7105);

export type Env = ReturnType<typeof loadAppEnv>;

export function loadAppEnv(source: Record<string, string | undefined> = process.env) {
  return loadEnv(envSchema, source);
}
