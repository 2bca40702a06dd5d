import { CURRENCY_EXPONENTS } from "@pps/money";

/**
 * The kinds of account, each with who owns it, its floor and its shards. Sign convention for all: a credit
 * is positive, a debit negative, and the balance is credits minus debits. So a wallet with money in it is
 * positive (we owe the payer), a credit line in use is negative (the payer owes us, down to minus the
 * limit), and a channel's clearing account is negative while the channel owes us what it collected.
 *
 * Accounts with a floor have one shard, where every debit checks it. The others are spread over several
 * shards, because every payment touches them (channel clearing, fee income, a busy merchant): on one row
 * they would serialise all postings, Formance's hot `@world` account.
 */
export const ACCOUNT_KINDS = {
  /** Account pay (账户支付): what a payer has topped up. Never below zero. */
  payer_wallet: { owner: "payer", floor: "zero", shards: 1, unit: "money" },
  /** Virtual currency (虚币支付): a payer's coins, in a coin code. Never below zero. */
  payer_coins: { owner: "payer", floor: "zero", shards: 1, unit: "coins" },
  /** Credit pay (信用支付): spending draws it down to minus the limit; repayment restores it. */
  payer_credit: { owner: "payer", floor: "limit", shards: 1, unit: "money" },
  /** A merchant's funds the channel has not settled yet. */
  merchant_pending: { owner: "merchant", floor: null, shards: 16, unit: "money" },
  /** A merchant's settled funds. */
  merchant_available: { owner: "merchant", floor: null, shards: 16, unit: "money" },
  /** What a channel owes us for what it collected (negative), until it settles. */
  channel_clearing: { owner: "channel", floor: null, shards: 32, unit: "money" },
  /** Our fee income. */
  platform_fees: { owner: "platform", floor: null, shards: 32, unit: "money" },
  /** What channels charge us. */
  channel_fees: { owner: "platform", floor: null, shards: 32, unit: "money" },
  /** Where granted or sold coins come from (its balance is minus the coins in circulation). */
  coin_issuance: { owner: "platform", floor: null, shards: 32, unit: "coins" },
  /** The other side of operators' adjustments. */
  platform_adjustments: { owner: "platform", floor: null, shards: 4, unit: "money" },
  /** The other side of operators' adjustments in coins. */
  coin_adjustments: { owner: "platform", floor: null, shards: 4, unit: "coins" },
} as const satisfies Record<
  string,
  {
    owner: "payer" | "merchant" | "channel" | "platform";
    floor: "zero" | "limit" | null;
    shards: number;
    unit: "money" | "coins";
  }
>;
export type AccountKind = keyof typeof ACCOUNT_KINDS;
export const ACCOUNT_KIND_NAMES = Object.keys(ACCOUNT_KINDS) as AccountKind[];

/** The owner id of platform accounts. */
export const PLATFORM_OWNER = "platform";

/**
 * Money accounts are in an ISO 4217 currency we accept; coin accounts in a code of three capitals that is
 * not one (coins are never money, so they can never be mixed up with it).
 */
export function currencyFitsKind(kind: AccountKind, currency: string): boolean {
  if (!/^[A-Z]{3}$/.test(currency)) return false;
  const isMoney = Object.hasOwn(CURRENCY_EXPONENTS, currency);
  return ACCOUNT_KINDS[kind].unit === "money" ? isMoney : !isMoney;
}

export type AccountStatus = "active" | "frozen" | "closed";

/** An account as a whole (its shards summed). */
export type AccountBalance = {
  id: string;
  kind: AccountKind;
  ownerId: string;
  currency: string;
  status: AccountStatus;
  /** Credits minus debits posted. */
  balance: number;
  /** Reserved by live holds. */
  held: number;
  /** null: unbounded. */
  floor: number | null;
  /** What can still be spent: balance - held - floor (null when unbounded). */
  available: number | null;
  /** Credit lines: the limit, and how much of it is in use. */
  creditLimit: number | null;
  creditUsed: number | null;
};
