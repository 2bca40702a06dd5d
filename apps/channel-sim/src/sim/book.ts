import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import { simCharges } from "@pps/db/schema";
import type { Charge } from "../channels/protocol.ts";
import type { Tx } from "./deps.ts";

export type NewCharge = typeof simCharges.$inferInsert;

/**
 * Inserts the transaction unless one with the same (channel, merchant, reference) exists, in which case
 * that one comes back: the unique index, not a read-then-write, is what prevents a second charge.
 */
export async function createOrGetCharge(tx: Tx, values: NewCharge): Promise<{ charge: Charge; created: boolean }> {
  const [inserted] = await tx.insert(simCharges).values(values).onConflictDoNothing().returning();
  if (inserted) return { charge: inserted, created: true };
  const [existing] = await tx
    .select()
    .from(simCharges)
    .where(
      and(
        eq(simCharges.channel, values.channel),
        eq(simCharges.merchantId, values.merchantId),
        eq(simCharges.merchantRef, values.merchantRef),
      ),
    );
  if (!existing) throw new Error("charge vanished after a unique conflict");
  return { charge: existing, created: false };
}

export type ChargeRef = { merchantRef?: string | null; txnId?: string | null };

export async function findCharge(
  db: Database | Tx,
  channel: ChannelId,
  merchantId: string,
  ref: ChargeRef,
): Promise<Charge | null> {
  const by = ref.txnId
    ? eq(simCharges.id, ref.txnId)
    : ref.merchantRef
      ? eq(simCharges.merchantRef, ref.merchantRef)
      : null;
  if (!by) return null;
  const [row] = await db
    .select()
    .from(simCharges)
    .where(and(eq(simCharges.channel, channel), eq(simCharges.merchantId, merchantId), by));
  return row ?? null;
}

export async function findChargeById(db: Database | Tx, channel: ChannelId, id: string): Promise<Charge | null> {
  const [row] = await db
    .select()
    .from(simCharges)
    .where(and(eq(simCharges.channel, channel), eq(simCharges.id, id)));
  return row ?? null;
}

export async function lockCharge(tx: Tx, id: string): Promise<Charge | null> {
  const [row] = await tx.select().from(simCharges).where(eq(simCharges.id, id)).for("update");
  return row ?? null;
}

export async function updateCharge(tx: Tx, id: string, set: Partial<NewCharge>): Promise<Charge> {
  const [row] = await tx
    .update(simCharges)
    .set({ ...set, updatedAt: new Date() })
    .where(eq(simCharges.id, id))
    .returning();
  return row!;
}

/** Closes an unpaid transaction whose time is up (the channels close silently: no callback). */
export async function expireIfDue(db: Database, charge: Charge): Promise<Charge> {
  if ((charge.status !== "awaiting_payer" && charge.status !== "paying") || charge.expiresAt.getTime() > Date.now())
    return charge;
  const [row] = await db
    .update(simCharges)
    .set({
      status: "closed",
      failureReason: "expired",
      closedAt: new Date(),
      autoAction: null,
      autoActionAt: null,
      updatedAt: new Date(),
    })
    .where(
      and(
        eq(simCharges.id, charge.id),
        inArray(simCharges.status, ["awaiting_payer", "paying"]),
        lt(simCharges.expiresAt, sql`now()`),
      ),
    )
    .returning();
  return row ?? charge;
}

export async function listBook(
  db: Database,
  channel: ChannelId,
  merchantRef: string | null,
  limit: number,
): Promise<Charge[]> {
  const where = merchantRef
    ? and(eq(simCharges.channel, channel), eq(simCharges.merchantRef, merchantRef))
    : eq(simCharges.channel, channel);
  return db.select().from(simCharges).where(where).orderBy(desc(simCharges.createdAt)).limit(limit);
}
