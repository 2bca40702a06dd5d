import { describe, expect, it } from "vitest";
import { blocklistEntrySchema } from "./blocklist.ts";
import { envSchema } from "./env.ts";
import { DEFAULT_RULES, rulesConfigSchema } from "./rules.ts";

describe("rules document validation", () => {
  it("accepts the defaults", () => {
    expect(rulesConfigSchema.parse(DEFAULT_RULES)).toEqual(DEFAULT_RULES);
  });

  it.each([
    [
      "soft over hard",
      { ...DEFAULT_RULES, amountLimits: { CNY: { softLimit: 10, hardLimit: 9 } } },
      "amountLimits.CNY.softLimit",
    ],
    [
      "fractional amount",
      { ...DEFAULT_RULES, amountLimits: { CNY: { softLimit: 10.5, hardLimit: null } } },
      "amountLimits.CNY.softLimit",
    ],
    [
      "zero limit",
      { ...DEFAULT_RULES, amountLimits: { CNY: { softLimit: null, hardLimit: 0 } } },
      "amountLimits.CNY.hardLimit",
    ],
    [
      "lower-case currency",
      { ...DEFAULT_RULES, amountLimits: { cny: { softLimit: 1, hardLimit: 2 } } },
      "amountLimits.cny",
    ],
    ["unknown key", { ...DEFAULT_RULES, merchantExemptions: [] }, ""],
    [
      "velocity of 0",
      { ...DEFAULT_RULES, velocity: { enabled: true, maxPayments: 0, windowSeconds: 60 } },
      "velocity.maxPayments",
    ],
    [
      "velocity over the cap",
      { ...DEFAULT_RULES, velocity: { enabled: true, maxPayments: 101, windowSeconds: 60 } },
      "velocity.maxPayments",
    ],
    ["missing section", { amountLimits: {}, velocity: DEFAULT_RULES.velocity }, "newDevice"],
  ])("rejects %s", (_, doc, path) => {
    const r = rulesConfigSchema.safeParse(doc);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join("."))).toContain(path);
  });
});

describe("blocklist entry validation", () => {
  it("accepts payer, device and IPv4/IPv6 entries", () => {
    for (const e of [
      { kind: "payer", value: "u_1", reason: "chargebacks" },
      { kind: "device", value: "d_1", reason: "emulator" },
      { kind: "ip", value: "203.0.113.9", reason: "botnet" },
      { kind: "ip", value: "2001:db8::1", reason: "botnet" },
    ]) {
      expect(blocklistEntrySchema.safeParse(e).success).toBe(true);
    }
  });

  it("rejects an unknown kind, a non-IP ip, an empty reason and extra fields", () => {
    expect(blocklistEntrySchema.safeParse({ kind: "email", value: "a@b.c", reason: "x" }).success).toBe(false);
    expect(blocklistEntrySchema.safeParse({ kind: "ip", value: "10.0.0.0/8", reason: "x" }).success).toBe(false);
    expect(blocklistEntrySchema.safeParse({ kind: "payer", value: "u_1", reason: " " }).success).toBe(false);
    expect(blocklistEntrySchema.safeParse({ kind: "payer", value: "u_1", reason: "x", until: "never" }).success).toBe(
      false,
    );
  });
});

describe("env", () => {
  it("defaults the admin token, concurrency and refresh interval", () => {
    const env = envSchema.parse({});
    expect(env).toMatchObject({ ADMIN_TOKEN: "dev-admin-token", RISK_CONCURRENCY: 8, RULES_REFRESH_MS: 1000 });
  });

  it("refuses a refresh interval over one second and a short admin token", () => {
    expect(envSchema.safeParse({ RULES_REFRESH_MS: "5000" }).success).toBe(false);
    expect(envSchema.safeParse({ ADMIN_TOKEN: "short" }).success).toBe(false);
  });
});
