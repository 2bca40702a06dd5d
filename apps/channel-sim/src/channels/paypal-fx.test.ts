import { describe, expect, it } from "vitest";
import { convertToCny, PAYPAL_FX_RATES } from "./paypal-fx.ts";

describe("convertToCny", () => {
  it("converts with the fixed table and rounds half up to a fen", () => {
    expect(convertToCny(1234, "USD")).toEqual({ amount: 8860, currency: "CNY", fxRate: "7.1800" }); // 12.34 × 7.18 = 88.6012
    expect(convertToCny(1, "EUR")).toEqual({ amount: 8, currency: "CNY", fxRate: "7.8000" }); // 0.078 → 0.08
    expect(convertToCny(125, "HKD").amount).toBe(115); // 1.15 exactly
    expect(convertToCny(5, "HKD").amount).toBe(5); // 0.046 → 0.05
  });

  it("respects JPY's exponent of 0", () => {
    expect(convertToCny(1000, "JPY")).toEqual({ amount: 4800, currency: "CNY", fxRate: "0.0480" }); // ¥1000 × 0.048 = 48.00
    expect(convertToCny(1, "JPY").amount).toBe(5); // 0.048 → 0.05 (half up)
  });

  it("refuses currencies without a rate and non-integers", () => {
    expect(() => convertToCny(100, "CNY")).toThrow(/no rate/);
    expect(() => convertToCny(1.5, "USD")).toThrow(/integer/);
    expect(Object.keys(PAYPAL_FX_RATES).sort()).toEqual(["AUD", "CAD", "EUR", "GBP", "HKD", "JPY", "SGD", "USD"]);
  });
});
