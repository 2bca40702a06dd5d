import type { Product } from "./payment.ts";

/**
 * What each product accepts at the API, before routing. The limits are in hundredths of a major unit of the
 * payment currency, so they mean the same amount of money in every currency: 10_000_000 is 100,000.00
 * USD (10,000,000 cents) or 100,000 JPY (100,000 yen). `fromHundredths` (@pps/money) turns them into minor
 * units by the currency's ISO 4217 exponent. Channels may be narrower still; the router checks their own limits.
 */
export type ProductRule = {
  currencies: readonly string[];
  minAmount: number;
  maxAmount: number;
  /** Fields of `payer` or `method` the product cannot work without. */
  requires: readonly ("payer.phone" | "method.bankCode" | "method.wallet")[];
};

const FOREIGN = ["USD", "EUR", "GBP", "JPY", "HKD", "AUD", "CAD", "SGD"] as const;

/** Products this release accepts through POST /v1/payments and /v1/orders. The others come with their own issues. */
export const API_PRODUCTS = [
  "online_banking",
  "platform_pay",
  "foreign_card",
  "carrier_billing",
] as const satisfies readonly Product[];
export type ApiProduct = (typeof API_PRODUCTS)[number];

export const PRODUCT_RULES: Record<ApiProduct, ProductRule> = {
  online_banking: { currencies: ["CNY"], minAmount: 1, maxAmount: 100_000_000, requires: ["method.bankCode"] },
  platform_pay: { currencies: ["CNY"], minAmount: 1, maxAmount: 50_000_000, requires: ["method.wallet"] },
  foreign_card: { currencies: FOREIGN, minAmount: 1, maxAmount: 10_000_000, requires: [] },
  // Carrier billing is for small monthly amounts (CNY 500.00 at most) and needs the phone to bill.
  carrier_billing: { currencies: ["CNY"], minAmount: 1, maxAmount: 50_000, requires: ["payer.phone"] },
};

export function productRule(product: Product): ProductRule | undefined {
  return (API_PRODUCTS as readonly Product[]).includes(product) ? PRODUCT_RULES[product as ApiProduct] : undefined;
}
