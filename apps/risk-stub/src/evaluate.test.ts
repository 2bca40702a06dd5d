import { describe, expect, it } from "vitest";
import { buildBlocklist, EMPTY_BLOCKLIST } from "./blocklist.ts";
import { evaluateRisk, type PayerHistory, type RiskInput } from "./evaluate.ts";
import { DEFAULT_RULES, type RulesConfig } from "./rules.ts";

const rules: RulesConfig = {
  amountLimits: {
    CNY: { softLimit: 500_000, hardLimit: 5_000_000 },
    USD: { softLimit: null, hardLimit: 1_000 },
    EUR: { softLimit: 2_000, hardLimit: null },
  },
  newDevice: { enabled: true },
  velocity: { enabled: true, maxPayments: 5, windowSeconds: 60 },
};

const input = (over: Partial<RiskInput> = {}): RiskInput => ({
  amount: 1_299,
  currency: "CNY",
  payerId: "u_1",
  deviceId: "d_1",
  ip: "10.0.0.1",
  ...over,
});
const history = (over: Partial<PayerHistory> = {}): PayerHistory => ({
  paidBefore: true,
  deviceKnown: true,
  paymentsInWindow: 1,
  ...over,
});
const decide = (
  i: Partial<RiskInput> = {},
  h: Partial<PayerHistory> = {},
  r: RulesConfig = rules,
  bl = EMPTY_BLOCKLIST,
) => evaluateRisk(r, bl, input(i), history(h));

describe("evaluateRisk", () => {
  it("allows an ordinary payment with no reasons", () => {
    expect(decide()).toEqual({ outcome: "allow", reasons: [] });
  });

  describe("blocklists", () => {
    const bl = buildBlocklist([
      { kind: "payer", value: "u_bad" },
      { kind: "device", value: "d_bad" },
      { kind: "ip", value: "2001:DB8::1" },
      { kind: "ip", value: "203.0.113.9" },
    ]);

    it("blocks a blocklisted payer, device or IP, each with its own reason", () => {
      expect(decide({ payerId: "u_bad" }, {}, rules, bl)).toEqual({ outcome: "block", reasons: ["payer_blocklisted"] });
      expect(decide({ deviceId: "d_bad" }, {}, rules, bl)).toEqual({
        outcome: "block",
        reasons: ["device_blocklisted"],
      });
      expect(decide({ ip: "203.0.113.9" }, {}, rules, bl)).toEqual({ outcome: "block", reasons: ["ip_blocklisted"] });
    });

    it("matches IPs case-insensitively and ids exactly", () => {
      expect(decide({ ip: "2001:db8::1" }, {}, rules, bl).reasons).toEqual(["ip_blocklisted"]);
      expect(decide({ payerId: "U_BAD" }, {}, rules, bl).outcome).toBe("allow");
      expect(decide({ deviceId: "D_BAD" }, {}, rules, bl).outcome).toBe("allow");
    });

    it("lists every blocklist that matched", () => {
      expect(decide({ payerId: "u_bad", deviceId: "d_bad", ip: "203.0.113.9" }, {}, rules, bl).reasons).toEqual([
        "payer_blocklisted",
        "device_blocklisted",
        "ip_blocklisted",
      ]);
    });

    it("ignores a missing device or IP", () => {
      expect(decide({ deviceId: null, ip: null }, {}, rules, bl)).toEqual({ outcome: "allow", reasons: [] });
    });
  });

  describe("amount limits (inclusive: equal passes, one minor unit over fires)", () => {
    it("hard limit: 5,000,000 passes the hard limit, 5,000,001 blocks (and is over the soft limit too)", () => {
      expect(decide({ amount: 5_000_000 }).reasons).not.toContain("amount_over_hard_limit");
      expect(decide({ amount: 5_000_001 })).toEqual({
        outcome: "block",
        reasons: ["amount_over_hard_limit", "amount_over_soft_limit"],
      });
    });

    it("soft limit: 500,000 allows, 500,001 challenges", () => {
      expect(decide({ amount: 500_000 })).toEqual({ outcome: "allow", reasons: [] });
      expect(decide({ amount: 500_001 })).toEqual({ outcome: "challenge", reasons: ["amount_over_soft_limit"] });
      expect(decide({ amount: 5_000_000 })).toEqual({ outcome: "challenge", reasons: ["amount_over_soft_limit"] });
    });

    it("applies only the limits configured for the payment's currency", () => {
      expect(decide({ amount: 1_001, currency: "USD" })).toEqual({
        outcome: "block",
        reasons: ["amount_over_hard_limit"],
      });
      expect(decide({ amount: 1_000, currency: "USD" })).toEqual({ outcome: "allow", reasons: [] });
      expect(decide({ amount: 2_001, currency: "EUR" })).toEqual({
        outcome: "challenge",
        reasons: ["amount_over_soft_limit"],
      });
      expect(decide({ amount: 999_999_999, currency: "JPY" })).toEqual({ outcome: "allow", reasons: [] });
    });
  });

  describe("new device", () => {
    it("challenges a payer who paid before but never from this device", () => {
      expect(decide({}, { paidBefore: true, deviceKnown: false })).toEqual({
        outcome: "challenge",
        reasons: ["new_device"],
      });
    });

    it("does not fire on a payer's first payment, a known device, or no device", () => {
      expect(decide({}, { paidBefore: false, deviceKnown: false }).outcome).toBe("allow");
      expect(decide({}, { paidBefore: true, deviceKnown: true }).outcome).toBe("allow");
      expect(decide({ deviceId: null }, { paidBefore: true, deviceKnown: false }).outcome).toBe("allow");
    });

    it("does not fire when disabled", () => {
      expect(decide({}, { deviceKnown: false }, { ...rules, newDevice: { enabled: false } }).outcome).toBe("allow");
    });
  });

  describe("velocity (fires on the (maxPayments + 1)th payment in the window)", () => {
    it("allows the 5th payment in the window and challenges the 6th", () => {
      expect(decide({}, { paymentsInWindow: 5 })).toEqual({ outcome: "allow", reasons: [] });
      expect(decide({}, { paymentsInWindow: 6 })).toEqual({ outcome: "challenge", reasons: ["velocity_exceeded"] });
    });

    it("does not fire when disabled", () => {
      expect(
        decide({}, { paymentsInWindow: 50 }, { ...rules, velocity: { ...rules.velocity, enabled: false } }).outcome,
      ).toBe("allow");
    });
  });

  describe("precedence and reason lists", () => {
    const bl = buildBlocklist([{ kind: "payer", value: "u_bad" }]);

    it("block beats challenge, and every fired rule is listed in a stable order", () => {
      expect(
        decide({ payerId: "u_bad", amount: 500_001 }, { deviceKnown: false, paymentsInWindow: 6 }, rules, bl),
      ).toEqual({
        outcome: "block",
        reasons: ["payer_blocklisted", "amount_over_soft_limit", "new_device", "velocity_exceeded"],
      });
    });

    it("challenge beats allow and lists all challenge reasons", () => {
      expect(decide({ amount: 500_001 }, { deviceKnown: false, paymentsInWindow: 6 })).toEqual({
        outcome: "challenge",
        reasons: ["amount_over_soft_limit", "new_device", "velocity_exceeded"],
      });
    });

    it("a hard-limit block carries the challenge reasons that fired as well", () => {
      expect(decide({ amount: 5_000_001 }, { paymentsInWindow: 6 })).toEqual({
        outcome: "block",
        reasons: ["amount_over_hard_limit", "amount_over_soft_limit", "velocity_exceeded"],
      });
    });
  });

  it("the defaults are CNY 5,000.00 soft / 50,000.00 hard, new device on, 5 payments per 60 s", () => {
    expect(DEFAULT_RULES.amountLimits.CNY).toEqual({ softLimit: 500_000, hardLimit: 5_000_000 });
    expect(DEFAULT_RULES.newDevice.enabled).toBe(true);
    expect(DEFAULT_RULES.velocity).toEqual({ enabled: true, maxPayments: 5, windowSeconds: 60 });
  });
});
