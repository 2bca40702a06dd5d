import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Database } from "@pps/db";
import type { Logger } from "@pps/logger";
import type { OutboxRelay } from "@pps/messaging";
import type { Context } from "hono";
import type { Env } from "../env.ts";
import type { FrozenPayers, MerchantDirectory } from "../payments/merchants.ts";
import { type MerchantCallOptions, merchantCall, type PaymentApiEnv } from "./auth.ts";

/** What the API operations need. Built once in main.ts (or by tests). */
export type ApiDeps = {
  db: Database;
  logger: Logger;
  env: Env;
  merchants: MerchantDirectory;
  frozenPayers: Pick<FrozenPayers, "isFrozen" | "set">;
  relay: Pick<OutboxRelay, "notify">;
  sms: { send: (phone: string, text: string) => Promise<void> };
  now?: () => number;
};

export type Ctx = Context<PaymentApiEnv>;
export type PaymentApiApp = OpenAPIHono<PaymentApiEnv>;

/** The middleware of a signed merchant call (see merchantCall), configured from the app's settings. */
export function signedCall(deps: ApiDeps, opts: Pick<MerchantCallOptions, "mutating" | "body">) {
  return merchantCall({
    merchants: deps.merchants,
    windowSeconds: deps.env.SIGNATURE_WINDOW_SECONDS,
    maxBodyBytes: deps.env.MAX_BODY_BYTES,
    now: deps.now,
    ...opts,
  });
}
