import { z } from "zod";
import { envVars, loadEnv } from "@pps/config";
import { baseEnvSchema } from "@pps/platform";

// The only place this app reads process.env.
export const envSchema = baseEnvSchema(7105).extend({
  /** Base of the URLs handed to payers (bank pages, PayPal checkout, QR payloads) [the request's own origin]. */
  SIM_PUBLIC_URL: envVars.url.optional(),
  /** How long the `timeout` fault holds the answer back (the caller is meant to give up first). */
  SIM_TIMEOUT_HOLD_MS: envVars.durationMs(30_000),
  /**
   * How soon after a pay request `sim_payer=auto_confirm|auto_cancel` acts (async channels). A second, as a
   * quick payer takes: sooner, the callback races the router's report of the attempt through Kafka.
   */
  SIM_AUTO_PAYER_DELAY_MS: z.coerce.number().int().min(0).default(1_000),
  /** How soon after it was accepted an async channel's operation (a refund) completes and is notified. */
  SIM_OPERATION_COMPLETE_DELAY_MS: z.coerce.number().int().min(0).default(300),
  /** How often the callback sender looks for due callbacks, automated payer actions and operations to complete. */
  SIM_CALLBACK_POLL_MS: envVars.durationMs(100),
  /** Delivery attempts per callback before it is abandoned. */
  SIM_CALLBACK_MAX_ATTEMPTS: envVars.positiveInt(6),
  /** First retry delay; doubles with each failed attempt (capped at 30 s). */
  SIM_CALLBACK_RETRY_BASE_MS: envVars.durationMs(500),
  /** Time limit of one callback delivery. */
  SIM_CALLBACK_TIMEOUT_MS: envVars.durationMs(5_000),
});

export type Env = ReturnType<typeof loadAppEnv>;

export function loadAppEnv(source: Record<string, string | undefined> = process.env) {
  return loadEnv(envSchema, source);
}
