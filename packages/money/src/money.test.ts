import { describe, expect, it } from "vitest";
import {
  add,
  compare,
  fromDecimalString,
  fromHundredths,
  money,
  MoneyError,
  percentageFee,
  subtract,
  toDecimalString,
} from "./index.ts";

describe("money", () => {
  it("refuses floats, unsafe integers and unknown currencies", () => {
    expect(() => money(10.5, "USD")).toThrow(MoneyError);
    expect(() => money(2 ** 53, "USD")).toThrow(MoneyError);
    expect(() => money(100, "XXX")).toThrow(/unknown currency/);
  });

  it("adds and subtracts only within one currency", () => {
    expect(add(money(150, "CNY"), money(250, "CNY"))).toEqual({ amount: 400, currency: "CNY" });
    expect(subtract(money(150, "CNY"), money(250, "CNY")).amount).toBe(-100);
    expect(() => add(money(1, "CNY"), money(1, "USD"))).toThrow(/mismatch/);
    expect(compare(money(3, "EUR"), money(2, "EUR"))).toBe(1);
  });

  it("formats by the currency's exponent", () => {
    expect(toDecimalString(money(12345, "USD"))).toBe("123.45");
    expect(toDecimalString(money(5, "USD"))).toBe("0.05");
    expect(toDecimalString(money(-5, "USD"))).toBe("-0.05");
    expect(toDecimalString(money(500, "JPY"))).toBe("500");
    expect(toDecimalString(money(1234, "KWD"))).toBe("1.234");
  });

  it("parses decimals exactly and refuses extra digits", () => {
    expect(fromDecimalString("0.1", "USD").amount).toBe(10);
    expect(fromDecimalString("19.99", "EUR").amount).toBe(1999);
    expect(fromDecimalString("7", "JPY").amount).toBe(7);
    expect(() => fromDecimalString("1.5", "JPY")).toThrow(/0 decimal places/);
    expect(() => fromDecimalString("1e3", "USD")).toThrow(MoneyError);
  });

  it("computes fees in integers, rounding half up", () => {
    expect(percentageFee(10_000, 60)).toBe(60); // 0.6% of 100.00
    expect(percentageFee(125, 40)).toBe(1); // 0.5 rounds up
    expect(percentageFee(124, 40)).toBe(0);
    expect(percentageFee(10_000, 30, 25)).toBe(55);
  });
});

describe("fromHundredths: limits that mean the same money in every currency", () => {
  it("scales by the ISO 4217 exponent", () => {
    expect(fromHundredths(10_000_000, "USD")).toBe(10_000_000);
    expect(fromHundredths(10_000_000, "JPY")).toBe(100_000);
    expect(fromHundredths(10_000_000, "KWD")).toBe(100_000_000);
  });

  it("rounds as asked where the currency has fewer digits", () => {
    expect(fromHundredths(150, "JPY", "down")).toBe(1);
    expect(fromHundredths(150, "JPY", "up")).toBe(2);
    expect(fromHundredths(149, "JPY", "half_up")).toBe(1);
    expect(fromHundredths(150, "JPY", "half_up")).toBe(2);
    expect(() => fromHundredths(1.5, "USD")).toThrow();
    expect(() => fromHundredths(1, "XXX")).toThrow();
  });
});
