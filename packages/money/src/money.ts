import { currencyExponent, isCurrencyCode, type CurrencyCode } from "./currencies.ts";

/** An amount of money: an integer of minor units (cents, fen, yen) and its currency. Never a float. */
export type Money = { readonly amount: number; readonly currency: CurrencyCode };

export class MoneyError extends Error {
  override readonly name = "MoneyError";
}

export function isMinorUnits(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

export function money(amount: number, currency: string): Money {
  if (!isCurrencyCode(currency)) throw new MoneyError(`unknown currency ${JSON.stringify(currency)}`);
  if (!isMinorUnits(amount)) throw new MoneyError("amount must be a safe integer of minor units");
  return { amount, currency };
}

function sameCurrency(a: Money, b: Money): void {
  if (a.currency !== b.currency) throw new MoneyError(`currency mismatch: ${a.currency} vs ${b.currency}`);
}

function checked(amount: number, currency: CurrencyCode): Money {
  if (!Number.isSafeInteger(amount)) throw new MoneyError("amount overflow");
  return { amount, currency };
}

export function add(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return checked(a.amount + b.amount, a.currency);
}

export function subtract(a: Money, b: Money): Money {
  sameCurrency(a, b);
  return checked(a.amount - b.amount, a.currency);
}

export function compare(a: Money, b: Money): -1 | 0 | 1 {
  sameCurrency(a, b);
  return a.amount < b.amount ? -1 : a.amount > b.amount ? 1 : 0;
}

/**
 * Fee of `rateBps` basis points plus a fixed part, rounded half up to a whole minor unit.
 * Integer arithmetic only: amount * bps fits in a safe integer for any realistic payment.
 */
export function percentageFee(amount: number, rateBps: number, fixed = 0): number {
  if (!isMinorUnits(amount) || !Number.isInteger(rateBps) || !isMinorUnits(fixed)) {
    throw new MoneyError("fee inputs must be integers");
  }
  const scaled = amount * rateBps;
  if (!Number.isSafeInteger(scaled)) throw new MoneyError("fee overflow");
  return Math.floor((scaled + 5_000) / 10_000) + fixed;
}

/** Decimal string for display and for channels whose wire format wants major units ("12.34"). */
export function toDecimalString({ amount, currency }: Money): string {
  const exp = currencyExponent(currency);
  const sign = amount < 0 ? "-" : "";
  const digits = String(Math.abs(amount)).padStart(exp + 1, "0");
  return exp === 0 ? `${sign}${digits}` : `${sign}${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
}

/** Parses a decimal string in major units exactly, refusing more fraction digits than the currency has. */
export function fromDecimalString(value: string, currency: string): Money {
  if (!isCurrencyCode(currency)) throw new MoneyError(`unknown currency ${JSON.stringify(currency)}`);
  const exp = currencyExponent(currency);
  const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  if (!match) throw new MoneyError("not a decimal amount");
  const [, sign, whole, frac = ""] = match;
  if (frac.length > exp) throw new MoneyError(`${currency} has ${exp} decimal places`);
  const amount = Number(`${sign}${whole}${frac.padEnd(exp, "0")}`);
  return money(amount, currency);
}

/**
 * Amounts that must hold across currencies (product limits, channel limits, fixed fees) are configured in
 * hundredths of a major unit: 10_000_000 is 100,000.00 of whatever the currency is. This turns one into
 * minor units of `currency` by its ISO 4217 exponent: USD 100,000.00 = 10,000,000 cents, JPY 100,000 =
 * 100,000 yen, KWD 100,000.000 = 100,000,000 fils. Exponents below 2 divide, rounded as asked: down for an
 * upper limit, up for a lower limit, half up for a fee.
 */
export function fromHundredths(value: number, currency: string, rounding: "down" | "up" | "half_up" = "down"): number {
  if (!Number.isSafeInteger(value)) throw new MoneyError("hundredths must be an integer");
  if (!isCurrencyCode(currency)) throw new MoneyError(`unknown currency ${JSON.stringify(currency)}`);
  const exp = currencyExponent(currency);
  if (exp >= 2) return value * 10 ** (exp - 2);
  const div = 10 ** (2 - exp);
  if (rounding === "down") return Math.floor(value / div);
  if (rounding === "up") return Math.ceil(value / div);
  return Math.floor((value + div / 2) / div);
}
