import { eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { merchants, payerAccounts } from "@pps/db/schema";
import type { Product } from "@pps/domain";
import type { SignScheme } from "@pps/signing";

export type Merchant = {
  id: string;
  name: string;
  status: "active" | "suspended" | "closed";
  signScheme: SignScheme;
  secretKey: string;
  publicKey: string | null;
  enabledProducts: Product[];
};

/**
 * Merchant lookups with a short in-process cache: every request needs the merchant, and a second of
 * staleness for a status or key change is acceptable (the admin API invalidates its own replica at once).
 */
export class MerchantDirectory {
  private readonly cache = new Map<string, { merchant: Merchant | null; at: number }>();

  constructor(private readonly db: Database, private readonly ttlMs = 1_000) {}

  async get(id: string): Promise<Merchant | null> {
    if (id.length > 64) return null;
    const hit = this.cache.get(id);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.merchant;
    const [row] = await this.db.select().from(merchants).where(eq(merchants.id, id));
    const merchant = row ? (row as Merchant) : null;
    this.cache.set(id, { merchant, at: Date.now() });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value as string);
    return merchant;
  }

  invalidate(id: string): void {
    this.cache.delete(id);
  }
}

export async function isPayerFrozen(db: Database, payerId: string): Promise<boolean> {
  const [row] = await db.select({ status: payerAccounts.status }).from(payerAccounts).where(eq(payerAccounts.payerId, payerId));
  return row?.status === "frozen";
}
