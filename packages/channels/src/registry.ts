import { z } from "zod";
import { loadEnv } from "@pps/config";
import { createAlipayAdapter } from "./alipay/index.ts";
import { createBankDirectAdapter } from "./bank-direct/index.ts";
import { createCarrierAdapter } from "./carrier/index.ts";
import { DEV_CHANNEL_KEYS } from "./dev-keys.ts";
import { createPaypalAdapter } from "./paypal/index.ts";
import type { AdapterOptions } from "./shared/adapter.ts";
import { DEFAULT_TIMEOUT_MS } from "./shared/http.ts";
import { createUnionPayAdapter } from "./unionpay/index.ts";
import { createWechatAdapter } from "./wechat/index.ts";
import { CHANNEL_IDS, type ChannelAdapter, type ChannelEndpoint, type ChannelId } from "./types.ts";

export const DEFAULT_CHANNEL_BASE_URL = "http://127.0.0.1:7105";

export type ChannelAdaptersConfig = {
  endpoints: Record<ChannelId, ChannelEndpoint>;
  /** Shared adapter options, e.g. the default per-call timeout. */
  options?: AdapterOptions;
};

/** One adapter per channel, keyed by channel id. */
export function createChannelAdapters(config: ChannelAdaptersConfig): Map<ChannelId, ChannelAdapter> {
  const { endpoints, options } = config;
  const adapters: ChannelAdapter[] = [
    createBankDirectAdapter(endpoints.bank_direct, options),
    createUnionPayAdapter(endpoints.unionpay, options),
    createWechatAdapter(endpoints.wechat, options),
    createAlipayAdapter(endpoints.alipay, options),
    createPaypalAdapter(endpoints.paypal, options),
    createCarrierAdapter(endpoints.carrier, options),
  ];
  return new Map(adapters.map((a) => [a.id, a]));
}

/** CHANNEL_<ID>_… prefix of a channel's variables, e.g. bank_direct → CHANNEL_BANK_DIRECT. */
export function channelEnvPrefix(id: ChannelId): string {
  return `CHANNEL_${id.toUpperCase()}`;
}

const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .transform((u) => u.replace(/\/+$/, ""));
const optionalText = z.string().min(1).optional();

function envSchema() {
  const shape: Record<string, z.ZodType> = {
    CHANNEL_BASE_URL: httpUrl.default(DEFAULT_CHANNEL_BASE_URL),
    CHANNEL_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_TIMEOUT_MS),
  };
  for (const id of CHANNEL_IDS) {
    const p = channelEnvPrefix(id);
    shape[`${p}_URL`] = httpUrl.optional();
    shape[`${p}_MERCHANT_ID`] = optionalText;
    // PEM keys arrive with literal "\n" in many deployment tools; turned back into newlines below.
    shape[`${p}_SIGNING_KEY`] = optionalText;
    shape[`${p}_VERIFY_KEY`] = optionalText;
  }
  return z.object(shape);
}

const pem = (value: string) => (value.includes("-----BEGIN") ? value.replaceAll("\\n", "\n") : value);

/**
 * Channel endpoints from environment variables (pass process.env from the app's src/env.ts):
 * - CHANNEL_BASE_URL: where every channel is unless overridden [http://127.0.0.1:7105, channel-sim];
 * - CHANNEL_<ID>_URL, CHANNEL_<ID>_MERCHANT_ID, CHANNEL_<ID>_SIGNING_KEY, CHANNEL_<ID>_VERIFY_KEY per
 *   channel (ID = BANK_DIRECT, UNIONPAY, WECHAT, ALIPAY, PAYPAL, CARRIER); unset ones fall back to the
 *   FAKE DEVELOPMENT-ONLY keys in dev-keys.ts, which is right for channel-sim and wrong anywhere real.
 * Throws ConfigError (exit 78 under runMain) naming the variable, never its value.
 */
export function channelEndpointsFromEnv(vars: Record<string, string | undefined>): Record<ChannelId, ChannelEndpoint> {
  return channelConfigFromEnv(vars).endpoints;
}

/** Endpoints plus CHANNEL_TIMEOUT_MS [5000], the default per-call timeout. */
export function channelConfigFromEnv(
  vars: Record<string, string | undefined>,
): ChannelAdaptersConfig & { options: { timeoutMs: number } } {
  const relevant = Object.fromEntries(Object.entries(vars).filter(([k]) => k.startsWith("CHANNEL_")));
  const env = loadEnv(envSchema(), relevant) as Record<string, string | number | undefined>;
  const text = (k: string) => env[k] as string | undefined;
  const endpoints = Object.fromEntries(
    CHANNEL_IDS.map((id) => {
      const p = channelEnvPrefix(id);
      const dev = DEV_CHANNEL_KEYS[id];
      const endpoint: ChannelEndpoint = {
        baseUrl: text(`${p}_URL`) ?? (env["CHANNEL_BASE_URL"] as string),
        merchantId: text(`${p}_MERCHANT_ID`) ?? dev.merchantId,
        signingKey: pem(text(`${p}_SIGNING_KEY`) ?? dev.merchantSigningKey),
        verifyKey: pem(text(`${p}_VERIFY_KEY`) ?? dev.channelVerifyKey),
      };
      return [id, endpoint];
    }),
  ) as Record<ChannelId, ChannelEndpoint>;
  return { endpoints, options: { timeoutMs: env["CHANNEL_TIMEOUT_MS"] as number } };
}
