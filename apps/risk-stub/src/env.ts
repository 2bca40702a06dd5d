import { z } from "zod";
import { loadEnv } from "@pps/config";
import { baseEnvSchema } from "@pps/platform";

/** The development default; production must set its own (the app warns when it runs with this one). */
export const DEV_ADMIN_TOKEN = "dev-admin-token";

// The only place this app reads process.env.
export const envSchema = baseEnvSchema(7102).extend({
  /** Bearer token for the admin API (/v1/risk/*). A secret: never logged. */
  ADMIN_TOKEN: z.string().min(12, "must be at least 12 characters").default(DEV_ADMIN_TOKEN),
  /** Payment events decided at once (different payments in parallel, one payment's events in order). */
  RISK_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  /** How often each replica checks for changed rules and blocklist (it reloads only what changed). */
  RULES_REFRESH_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(1_000, "must be at most 1000 so changes apply within a second")
    .default(1_000),
});

export type Env = ReturnType<typeof loadAppEnv>;

export function loadAppEnv(source: Record<string, string | undefined> = process.env) {
  return loadEnv(envSchema, source);
}
