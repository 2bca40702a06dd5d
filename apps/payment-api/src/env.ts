import { envVars, loadEnv } from "@pps/config";
import { baseEnvSchema } from "@pps/platform";
import { z } from "zod";
import { DEV_PLATFORM_PRIVATE_KEY, DEV_PLATFORM_PUBLIC_KEY } from "@pps/signing";

/** Development defaults of secrets: fine on a laptop, refused when NODE_ENV=production. */
const DEV_SECRETS = {
  ADMIN_TOKEN: "dev-admin-token",
  INTERNAL_TOKEN: "dev-internal-token",
  PAY_LINK_SECRET: "dev-pay-link-secret-change-me",
} as const;

// The only place this app reads process.env.
export const envSchema = baseEnvSchema(7100)
  .extend({
    NODE_ENV: z.string().default("development"),
    /** Where payers and channels reach this API (pay links, channel callback URLs). */
    PUBLIC_BASE_URL: z.url().default("http://127.0.0.1:7100"),
    /** Bearer token for the admin API (merchants, payers). Must be set to a long random value in production. */
    ADMIN_TOKEN: z.string().min(12).default(DEV_SECRETS.ADMIN_TOKEN),
    /** Bearer token other services (the notifier) use for /internal calls. Must be set in production. */
    INTERNAL_TOKEN: z.string().min(12).default(DEV_SECRETS.INTERNAL_TOKEN),
    /** The notifier's internal API (notification listings and resends). */
    NOTIFIER_URL: z.url().default("http://127.0.0.1:7103"),
    /** Key that signs pay links. Must be set in production. */
    PAY_LINK_SECRET: z.string().min(16).default(DEV_SECRETS.PAY_LINK_SECRET),
    /** How long a pay link works after it was issued (a cached link used later is refused). */
    PAY_LINK_TTL_SECONDS: envVars.positiveInt(900),
    /** Default time a payment may stay unpaid. */
    PAYMENT_TTL_SECONDS: envVars.positiveInt(1800),
    /** Accepted clock skew of a signed request's timestamp, either way. */
    SIGNATURE_WINDOW_SECONDS: envVars.positiveInt(300),
    IDEMPOTENCY_RETENTION_HOURS: envVars.positiveInt(48),
    OTP_TTL_SECONDS: envVars.positiveInt(300),
    OTP_MAX_ATTEMPTS: envVars.positiveInt(3),
    /** How many new codes a payer may ask for on one payment. */
    OTP_MAX_RESENDS: envVars.positiveInt(3),
    /** SMS gateway for OTPs (channel-sim's in development). */
    SMS_GATEWAY_URL: z.url().default("http://127.0.0.1:7105"),
    EXPIRY_SWEEP_INTERVAL_MS: envVars.durationMs(1000),
    CONSUMER_CONCURRENCY: envVars.positiveInt(32),
    MAX_BODY_BYTES: envVars.positiveInt(64 * 1024),
    /**
     * Payments (and pre-orders) being accepted at once by this replica; past it a request is refused at once
     * with 503 internal.overloaded and Retry-After, writing nothing, instead of queueing until its caller
     * gives up while the work is still done.
     */
    ACCEPT_MAX_IN_FLIGHT: envVars.positiveInt(128),
    /** Our RSA key pair: responses to RSA_SHA256 merchants are signed with it. Development keys by default. */
    PLATFORM_SIGNING_PRIVATE_KEY: z.string().includes("PRIVATE KEY").default(DEV_PLATFORM_PRIVATE_KEY),
    PLATFORM_SIGNING_PUBLIC_KEY: z.string().includes("PUBLIC KEY").default(DEV_PLATFORM_PUBLIC_KEY),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== "production") return;
    for (const [name, value] of Object.entries(DEV_SECRETS)) {
      if (env[name as keyof typeof DEV_SECRETS] === value)
        ctx.addIssue({ code: "custom", path: [name], message: "must be set to a secret in production" });
    }
    if (env.PLATFORM_SIGNING_PRIVATE_KEY === DEV_PLATFORM_PRIVATE_KEY)
      ctx.addIssue({ code: "custom", path: ["PLATFORM_SIGNING_PRIVATE_KEY"], message: "must be set in production" });
  });

export type Env = ReturnType<typeof loadAppEnv>;

export function loadAppEnv(source: Record<string, string | undefined> = process.env) {
  const env = loadEnv(envSchema, source);
  return { ...env, channelVars: channelVarsFrom(source) };
}

/** Channel endpoint variables (CHANNEL_*), passed whole to @pps/channels, which validates them. */
function channelVarsFrom(source: Record<string, string | undefined>): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(source).filter(([k]) => k.startsWith("CHANNEL_")));
}
