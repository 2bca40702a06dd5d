import { z } from "zod";
import { channelEndpointsFromEnv } from "@pps/channels";
import { envVars, loadEnv } from "@pps/config";
import { baseEnvSchema } from "@pps/platform";
import { STUCK_QUERY_DELAYS_MS } from "./resolution-policy.ts";

/** The development default; refused when NODE_ENV=production. */
export const DEV_ADMIN_TOKEN = "dev-admin-token";

// The only place this app reads process.env.
export const envSchema = baseEnvSchema(7101)
  .extend({
    NODE_ENV: z.string().default("development"),
    /** A channel call (pay, operation or a query) without an answer after this long has an unknown outcome. */
    CHANNEL_TIMEOUT_MS: envVars.durationMs(5_000),
    /** Channel calls in flight at once (and payment events handled at once). */
    ROUTER_CONCURRENCY: envVars.positiveInt(64),
    CIRCUIT_FAILURE_THRESHOLD: envVars.positiveInt(5),
    /**
     * Open → half-open after this long. Shorter than ROUTE_WAIT_MAX_MS, or a payment waiting out an outage
     * would reach its deadline before any breaker let a call through.
     */
    CIRCUIT_COOLDOWN_MS: envVars.durationMs(5_000),
    /** Share (0..1) of the traffic a half-open circuit lets through beside its one probe. */
    ROUTER_HALF_OPEN_SHARE: z.coerce.number().min(0).max(1).default(0.1),
    /**
     * How long a payment that no channel can take waits for one to recover (never past its expiry); 0: no wait.
     * Two minutes: a channel host that dies and restarts on a busy node comes back in 10 to 20 s, and its
     * breaker then needs a cooldown and a probe (each up to CHANNEL_TIMEOUT_MS), perhaps more than once. With
     * 30 s, payments in the fault suite reached their deadline with the breakers still open or probing.
     */
    ROUTE_WAIT_MAX_MS: z.coerce.number().int().min(0).default(120_000),
    /** A waiting payment is tried again this often. */
    ROUTE_WAIT_RETRY_MS: envVars.durationMs(500),
    /** Bearer token for everything under /v1 (operator API). */
    ADMIN_TOKEN: z.string().min(8, "must be at least 8 characters").default(DEV_ADMIN_TOKEN),
    /** payment-api's public base URL: channels send their callbacks to {this}/v1/channel-callbacks/{channel}. */
    CALLBACK_BASE_URL: envVars.url.default("http://127.0.0.1:7100").transform((u) => u.replace(/\/+$/, "")),
    /**
     * When to query an attempt that stays pending / requires_action, or an operation that stays pending (its
     * callback may be lost): comma-separated milliseconds after each look; the last repeats. Tests shorten it.
     */
    ROUTER_STUCK_QUERY_DELAYS_MS: z
      .string()
      .regex(/^\d+(,\d+)*$/, "must be comma-separated milliseconds")
      .default(STUCK_QUERY_DELAYS_MS.join(","))
      .transform((v) => v.split(",").map(Number)),
    /** How often channel settings, circuits and health are reloaded from Postgres. */
    CHANNEL_STATE_REFRESH_MS: envVars.durationMs(1_000),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV === "production" && env.ADMIN_TOKEN === DEV_ADMIN_TOKEN) {
      ctx.addIssue({ code: "custom", path: ["ADMIN_TOKEN"], message: "must be set to a secret in production" });
    }
  });

export type Env = ReturnType<typeof loadAppEnv>;

export function loadAppEnv(source: Record<string, string | undefined> = process.env) {
  const env = loadEnv(envSchema, source);
  // CHANNEL_BASE_URL and CHANNEL_<ID>_URL / _MERCHANT_ID / _SIGNING_KEY / _VERIFY_KEY (see @pps/channels).
  const channelEndpoints = channelEndpointsFromEnv(source);
  return { ...env, channelEndpoints };
}
