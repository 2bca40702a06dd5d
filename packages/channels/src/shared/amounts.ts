import { fromDecimalString, toDecimalString, type Money } from "@pps/money";

// Amounts as the channels write them: decimal major units by the currency's exponent, or digits of minor units.

/** Minor units as a decimal string by the currency's exponent (CNY 1234 → "12.34", JPY 1000 → "1000"). */
export function toDecimal(amount: number, currency: string): string {
  return toDecimalString({ amount, currency } as Money);
}

/** A decimal amount a channel wrote, in minor units; null when either is absent or not an amount of that currency. */
export function readDecimal(value: string | undefined, currency: string | undefined): Money | null {
  if (!value || !currency) return null;
  try {
    return fromDecimalString(value, currency);
  } catch {
    return null;
  }
}

/** A positive whole number of minor units a channel wrote as digits (fen); null when it is not one. */
export function readMinorUnits(value: string | undefined): number | null {
  if (!value || !/^\d+$/.test(value)) return null;
  const amount = Number(value);
  return Number.isSafeInteger(amount) && amount > 0 ? amount : null;
}
