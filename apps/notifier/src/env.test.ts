import { describe, expect, it } from "vitest";
import { ConfigError } from "@pps/config";
import { DEV_PLATFORM_PRIVATE_KEY } from "@pps/signing";
import { DEFAULT_EVENT_TYPES, loadAppEnv } from "./env.ts";
import { DEFAULT_SCHEDULE_SECONDS } from "./schedule.ts";

const problems = (source: Record<string, string>) => {
  try {
    loadAppEnv(source);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => i.variable).sort();
  }
};

describe("notifier configuration", () => {
  it("has working defaults", () => {
    const env = loadAppEnv({});
    expect(env.PORT).toBe(7103);
    expect(env.PAYMENT_API_URL).toBe("http://127.0.0.1:7100");
    expect(env.NOTIFY_SCHEDULE_SECONDS).toEqual(DEFAULT_SCHEDULE_SECONDS);
    expect(env.NOTIFY_TIMEOUT_MS).toBe(10_000);
    expect(env.NOTIFY_WORKERS).toBe(128);
    expect(env.NOTIFY_MERCHANT_CONCURRENCY).toBe(64);
    expect(env.NOTIFY_MERCHANT_CONCURRENCY_FLOOR).toBe(1);
    expect(env.NOTIFY_MERCHANT_CONCURRENCY_INITIAL).toBe(4);
    expect(env.NOTIFY_ALLOWED_HOSTS.isEmpty).toBe(true);
    expect([...env.NOTIFY_EVENT_TYPES]).toEqual([...DEFAULT_EVENT_TYPES]);
    expect(env.NOTIFY_MAX_RESPONSE_BYTES).toBe(4096);
    expect(env.NOTIFY_JITTER_RATIO).toBe(0.1);
    expect(env.PLATFORM_SIGNING_PRIVATE_KEY).toBe(DEV_PLATFORM_PRIVATE_KEY);
  });

  it("parses the lists", () => {
    const env = loadAppEnv({
      NOTIFY_SCHEDULE_SECONDS: "0,1,2,3",
      NOTIFY_ALLOWED_HOSTS: "127.0.0.1,10.1.0.0/16",
      NOTIFY_EVENT_TYPES: "payment.succeeded, payment.failed",
      PAYMENT_API_URL: "http://api:7100/",
    });
    expect(env.NOTIFY_SCHEDULE_SECONDS).toEqual([0, 1, 2, 3]);
    expect(env.NOTIFY_ALLOWED_HOSTS.hasAddress("10.1.2.3")).toBe(true);
    expect([...env.NOTIFY_EVENT_TYPES]).toEqual(["payment.succeeded", "payment.failed"]);
    expect(env.PAYMENT_API_URL).toBe("http://api:7100");
  });

  it("names every bad variable", () => {
    expect(
      problems({
        NOTIFY_SCHEDULE_SECONDS: "0,0",
        NOTIFY_ALLOWED_HOSTS: "10.0.0.0/99",
        NOTIFY_EVENT_TYPES: "payment.refunded",
        NOTIFY_JITTER_RATIO: "0.9",
        NOTIFY_WORKERS: "0",
        INTERNAL_TOKEN: "short",
      }),
    ).toEqual([
      "INTERNAL_TOKEN",
      "NOTIFY_ALLOWED_HOSTS",
      "NOTIFY_EVENT_TYPES",
      "NOTIFY_JITTER_RATIO",
      "NOTIFY_SCHEDULE_SECONDS",
      "NOTIFY_WORKERS",
    ]);
  });

  it("refuses the development secrets in production", () => {
    expect(problems({ NODE_ENV: "production" })).toEqual([
      "ADMIN_TOKEN",
      "INTERNAL_TOKEN",
      "PLATFORM_SIGNING_PRIVATE_KEY",
    ]);
  });
});
