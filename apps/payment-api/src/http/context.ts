import type { Context } from "hono";
import type { Database } from "@pps/db";
import type { Logger } from "@pps/logger";
import type { OutboxRelay } from "@pps/messaging";
import type { Env } from "../env.ts";
import type { FrozenPayers, MerchantDirectory } from "../payments/merchants.ts";
import { merchantAuthenticate } from "./auth.ts";
import type { PaymentApiEnv } from "./auth.ts";

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

export function authenticate(c: Ctx, deps: ApiDeps, opts: { requireNonce: boolean }) {
  return merchantAuthenticate(c, { merchants: deps.merchants, windowSeconds: deps.env.SIGNATURE_WINDOW_SECONDS, requireNonce: opts.requireNonce, now: deps.now });
}
