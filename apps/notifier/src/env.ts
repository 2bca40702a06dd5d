import { z } from "zod";
import { envVars, loadEnv } from "@pps/config";
import { operationEvents, paymentEvents } from "@pps/messaging";
import { baseEnvSchema } from "@pps/platform";
import { DEV_PLATFORM_PRIVATE_KEY } from "@pps/signing";
import { AllowList } from "./destination-guard.ts";
import { DEFAULT_SCHEDULE_SECONDS, parseScheduleList } from "./schedule.ts";

/** Development defaults; refused when NODE_ENV=production. */
export const DEV_ADMIN_TOKEN = "dev-admin-token";
export const DEV_INTERNAL_TOKEN = "dev-internal-token";

/** Event types merchants are notified about unless NOTIFY_EVENT_TYPES says otherwise. */
export const DEFAULT_EVENT_TYPES = [
  "payment.succeeded",
  "payment.failed",
  "payment.expired",
  "payment.canceled",
  "payment.requires_action",
  "payment.requires_capture",
  "payment.requires_review",
  "payment.late_succeeded",
  "capture.succeeded",
  "capture.failed",
  "void.succeeded",
  "void.failed",
  "cancel.succeeded",
  "cancel.failed",
  "refund.succeeded",
  "refund.failed",
  "refund.requires_review",
] as const;

/** Types the notifier knows how to turn into a notification body (payout and mandate events come later). */
const NOTIFIABLE_TYPES = new Set<string>(
  [...Object.values(paymentEvents), ...Object.values(operationEvents)].map((e) => e.type),
);

// The only place this app reads process.env.
export const envSchema = baseEnvSchema(7103)
  .extend({
    NODE_ENV: z.string().default("development"),
    /** payment-api, which owns merchants: the notifier reads each merchant's signing scheme and key there. */
    PAYMENT_API_URL: envVars.url.default("http://127.0.0.1:7100").transform((u) => u.replace(/\/+$/, "")),
    /** Bearer token for payment-api's /internal API and for this app's /internal API. A secret: never logged. */
    INTERNAL_TOKEN: z.string().min(12, "must be at least 12 characters").default(DEV_INTERNAL_TOKEN),
    /** Bearer token for the operator API (/v1/merchants/{id}/notification-settings). A secret: never logged. */
    ADMIN_TOKEN: z.string().min(12, "must be at least 12 characters").default(DEV_ADMIN_TOKEN),
    /** Our RSA private key: RSA_SHA256 merchants get an extra signature made with it. Development key by default. */
    PLATFORM_SIGNING_PRIVATE_KEY: z
      .string()
      .includes("PRIVATE KEY", { message: "must be a PEM private key" })
      .default(DEV_PLATFORM_PRIVATE_KEY),
    /** Offsets in seconds from a series' start, comma-separated and strictly increasing. */
    NOTIFY_SCHEDULE_SECONDS: z
      .string()
      .default(DEFAULT_SCHEDULE_SECONDS.join(","))
      .transform((s, ctx) => {
        const parsed = parseScheduleList(s);
        if (!parsed.ok) {
          ctx.addIssue({ code: "custom", message: parsed.message });
          return z.NEVER;
        }
        return parsed.schedule;
      }),
    /** One attempt's limit: resolving, connecting and the response headers. */
    NOTIFY_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
    /** Deliveries in flight at once in this process (one merchant gets at most half). */
    NOTIFY_WORKERS: z.coerce.number().int().min(1).max(1_024).default(128),
    /**
     * The ceiling of deliveries in flight to one merchant, across replicas, unless its settings say otherwise;
     * the adaptive window moves between the floor and it.
     */
    NOTIFY_MERCHANT_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(64),
    /** The adaptive window's floor per merchant. */
    NOTIFY_MERCHANT_CONCURRENCY_FLOOR: z.coerce.number().int().min(1).max(256).default(1),
    /** Where a merchant's adaptive window starts in a process (then grows while its endpoint is fast). */
    NOTIFY_MERCHANT_CONCURRENCY_INITIAL: z.coerce.number().int().min(1).max(256).default(4),
    /** Hostnames, IPs and CIDR ranges that may be called although private or loopback (comma-separated). */
    NOTIFY_ALLOWED_HOSTS: z
      .string()
      .default("")
      .transform((s, ctx) => {
        try {
          return AllowList.parse(s);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: (err as Error).message });
          return z.NEVER;
        }
      }),
    /** Event types that become notifications (comma-separated). */
    NOTIFY_EVENT_TYPES: z
      .string()
      .default(DEFAULT_EVENT_TYPES.join(","))
      .transform((s, ctx) => {
        const types = s
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean);
        const unknown = types.filter((t) => !NOTIFIABLE_TYPES.has(t));
        if (types.length === 0 || unknown.length > 0) {
          ctx.addIssue({
            code: "custom",
            message: `must list payment event types; unknown: ${unknown.join(", ") || "(none given)"}`,
          });
          return z.NEVER;
        }
        return new Set(types);
      }),
    /** How often an idle dispatcher looks for due notifications (new ones wake it at once). */
    NOTIFY_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
    /** How much of a merchant's response is read and stored. */
    NOTIFY_MAX_RESPONSE_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .max(1024 * 1024)
      .default(4096),
    /** Each retry moves by up to ± this fraction of its gap from the previous one (0 to 0.5). */
    NOTIFY_JITTER_RATIO: z.coerce.number().min(0).max(0.5).default(0.1),
    /** Payment events turned into notifications at once (different payments; one payment's stay in order). */
    CONSUMER_CONCURRENCY: envVars.positiveInt(16),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== "production") return;
    if (env.ADMIN_TOKEN === DEV_ADMIN_TOKEN)
      ctx.addIssue({ code: "custom", path: ["ADMIN_TOKEN"], message: "must be set to a secret in production" });
    if (env.INTERNAL_TOKEN === DEV_INTERNAL_TOKEN)
      ctx.addIssue({ code: "custom", path: ["INTERNAL_TOKEN"], message: "must be set to a secret in production" });
    if (env.PLATFORM_SIGNING_PRIVATE_KEY === DEV_PLATFORM_PRIVATE_KEY)
      ctx.addIssue({ code: "custom", path: ["PLATFORM_SIGNING_PRIVATE_KEY"], message: "must be set in production" });
  });

export type Env = ReturnType<typeof loadAppEnv>;

export function loadAppEnv(source: Record<string, string | undefined> = process.env) {
  return loadEnv(envSchema, source);
}
