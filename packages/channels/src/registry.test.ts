import { describe, expect, it } from "vitest";
import { ConfigError } from "@pps/config";
import { DEV_CHANNEL_KEYS } from "./dev-keys.ts";
import { channelConfigFromEnv, channelEndpointsFromEnv, createChannelAdapters } from "./registry.ts";
import { CHANNEL_IDS } from "./types.ts";

describe("channel registry", () => {
  it("defaults every channel to channel-sim with the fake dev keys", () => {
    const endpoints = channelEndpointsFromEnv({});
    for (const id of CHANNEL_IDS) {
      expect(endpoints[id]).toEqual({
        baseUrl: "http://127.0.0.1:7105",
        merchantId: DEV_CHANNEL_KEYS[id].merchantId,
        signingKey: DEV_CHANNEL_KEYS[id].merchantSigningKey,
        verifyKey: DEV_CHANNEL_KEYS[id].channelVerifyKey,
      });
    }
    expect(channelConfigFromEnv({}).options.timeoutMs).toBe(5_000);
  });

  it("applies the base URL and per-channel overrides, turning escaped PEM newlines back", () => {
    const endpoints = channelEndpointsFromEnv({
      CHANNEL_BASE_URL: "http://sim:7105/",
      CHANNEL_PAYPAL_URL: "https://api.paypal.test",
      CHANNEL_BANK_DIRECT_MERCHANT_ID: "m-1",
      CHANNEL_UNIONPAY_SIGNING_KEY: "-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----",
      UNRELATED: "x",
    });
    expect(endpoints.wechat.baseUrl).toBe("http://sim:7105");
    expect(endpoints.paypal.baseUrl).toBe("https://api.paypal.test");
    expect(endpoints.bank_direct.merchantId).toBe("m-1");
    expect(endpoints.unionpay.signingKey).toBe("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----");
  });

  it("names the bad variable, never its value", () => {
    try {
      channelEndpointsFromEnv({ CHANNEL_WECHAT_URL: "ftp://secret-host", CHANNEL_TIMEOUT_MS: "-1" });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/CHANNEL_WECHAT_URL/);
      expect((err as Error).message).toMatch(/CHANNEL_TIMEOUT_MS/);
      expect((err as Error).message).not.toMatch(/secret-host/);
    }
  });

  it("builds one adapter per channel", () => {
    const adapters = createChannelAdapters(channelConfigFromEnv({}));
    expect([...adapters.keys()].sort()).toEqual([...CHANNEL_IDS].sort());
    for (const [id, a] of adapters) expect(a.id).toBe(id);
  });
});
