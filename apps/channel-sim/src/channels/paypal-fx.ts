import { currencyExponent, isCurrencyCode } from "@pps/money";

/**
 * The simulated acquirer's fixed rate table: CNY per one unit of the currency, as exact decimal strings.
 * Documented in the README; the settled amount is rounded half up to a whole fen.
 */
export const PAYPAL_FX_RATES: Readonly<Record<string, string>> = {
  USD: "7.1800",
  EUR: "7.8000",
  GBP: "9.1000",
  JPY: "0.0480",
  HKD: "0.9200",
  AUD: "4.7000",
  CAD: "5.2500",
  SGD: "5.3500",
};

export const SETTLEMENT_CURRENCY = "CNY";

/**
 * Converts minor units of `currency` to CNY minor units with integer arithmetic only:
 * cny = amount × rate × 10^expCNY / 10^expSrc, rate given as digits × 10^-scale, rounded half up.
 */
export function convertToCny(amount: number, currency: string): { amount: number; currency: string; fxRate: string } {
  const rate = PAYPAL_FX_RATES[currency];
  if (!rate || !isCurrencyCode(currency)) throw new Error(`no rate for ${currency}`);
  if (!Number.isSafeInteger(amount) || amount < 0)
    throw new Error("amount must be a non-negative integer of minor units");
  const [whole, frac = ""] = rate.split(".") as [string, string | undefined];
  const scaledRate = BigInt(`${whole}${frac}`);
  const num = BigInt(amount) * scaledRate * 10n ** BigInt(currencyExponent("CNY"));
  const den = 10n ** BigInt(currencyExponent(currency) + frac.length);
  const settled = (num * 2n + den) / (2n * den);
  if (settled > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("settled amount overflows");
  return { amount: Number(settled), currency: SETTLEMENT_CURRENCY, fxRate: rate };
}
