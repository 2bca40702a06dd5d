import { eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { merchants, payerAccounts } from "@pps/db/schema";
import { AppError, type Product } from "@pps/domain";
import type { SignFormat, SignScheme } from "@pps/signing";

export type Merchant = {
  id: string;
  name: string;
  status: "active" | "suspended" | "closed";
  signScheme: SignScheme;
  signFormat: SignFormat;
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

  constructor(
    private readonly db: Database,
    private readonly ttlMs = 1_000,
  ) {}

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

/**
 * The frozen payers, held in memory and reloaded every second: every payment checks its payer, frozen
 * payers are few, and one query per second beats one per payment. A freeze reaches this replica at once
 * (the admin API updates it) and the others within the refresh interval.
 */
export class FrozenPayers {
  private frozen = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private loaded = false;

  constructor(
    private readonly db: Database,
    private readonly refreshMs = 1_000,
  ) {}

  async refresh(): Promise<void> {
    const rows = await this.db
      .select({ id: payerAccounts.payerId })
      .from(payerAccounts)
      .where(eq(payerAccounts.status, "frozen"));
    this.frozen = new Set(rows.map((r) => r.id));
    this.loaded = true;
  }

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.refreshMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async isFrozen(payerId: string): Promise<boolean> {
    if (!this.loaded) await this.refresh();
    return this.frozen.has(payerId);
  }

  set(payerId: string, frozen: boolean): void {
    if (frozen) this.frozen.add(payerId);
    else this.frozen.delete(payerId);
  }
}

/** Every payer action, and every merchant action on a payer's payment, stops at a frozen payer. */
export async function assertPayerActive(frozenPayers: Pick<FrozenPayers, "isFrozen">, payerId: string): Promise<void> {
  if (await frozenPayers.isFrozen(payerId)) throw new AppError("payer.frozen", "the payer's account is frozen");
}

/** Payer actions (pay links) stop at a merchant that is no longer active. */
export async function assertMerchantActive(merchants: MerchantDirectory, merchantId: string): Promise<void> {
  const merchant = await merchants.get(merchantId);
  if (merchant?.status !== "active") throw new AppError("merchant.inactive", "the merchant account is not active");
}
