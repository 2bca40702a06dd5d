import { and, type Column, desc, eq, inArray, lt, lte, sql } from "drizzle-orm";
import type { ChannelFlows, ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import { simCharges, simOperations } from "@pps/db/schema";
import type { Charge } from "../channels/protocol.ts";
import type { Tx } from "./deps.ts";

export type NewCharge = typeof simCharges.$inferInsert;

/** The money columns of a charge, as they are when the payer paid (at `now`) or before. */
export type ChargeMoney = Pick<
  Charge,
  "status" | "authorizedAmount" | "authExpiresAt" | "capturedAmount" | "capturedAt" | "paidAt"
>;

/**
 * What paying does to a charge: a sale (auto) is captured at once; a manual one is only authorized, held
 * for the channel's authorization window, and waits for a capture or a void. paid_at is when the payer
 * paid in both cases (the statements' day).
 */
export function paidState(charge: Pick<Charge, "captureMode" | "amount">, flows: ChannelFlows, now: Date): ChargeMoney {
  if (charge.captureMode === "manual") {
    // A manual charge exists only on a channel that offers authorize (handlePay refuses it otherwise).
    const windowMs = flows.authorize?.windowMs ?? 0;
    return {
      status: "authorized",
      authorizedAmount: charge.amount,
      authExpiresAt: new Date(now.getTime() + windowMs),
      capturedAmount: 0,
      capturedAt: null,
      paidAt: now,
    };
  }
  return {
    status: "succeeded",
    authorizedAmount: charge.amount,
    authExpiresAt: null,
    capturedAmount: charge.amount,
    capturedAt: now,
    paidAt: now,
  };
}

/** The money columns of a charge nobody paid (yet). */
export const UNPAID_MONEY: ChargeMoney = {
  status: "awaiting_payer",
  authorizedAmount: 0,
  authExpiresAt: null,
  capturedAmount: 0,
  capturedAt: null,
  paidAt: null,
};

/** What an authorization that ran out becomes: released by the channel by itself, without a callback. */
const EXPIRED_AUTHORIZATION = { status: "voided", failureReason: "expired" } as const;

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

/**
 * Closes an unpaid transaction whose time is up, and releases an authorization past its window (the
 * channels do both silently: no callback).
 */
export async function expireIfDue(db: Database | Tx, charge: Charge): Promise<Charge> {
  if (charge.status === "authorized") return releaseIfExpired(db, charge);
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

/** Releases an authorization whose window has passed (conditional: a capture or void made meanwhile wins). */
async function releaseIfExpired(db: Database | Tx, charge: Charge): Promise<Charge> {
  const now = new Date();
  if (!charge.authExpiresAt || charge.authExpiresAt.getTime() > now.getTime()) return charge;
  const [row] = await db
    .update(simCharges)
    .set({ ...EXPIRED_AUTHORIZATION, closedAt: now, updatedAt: now })
    .where(and(eq(simCharges.id, charge.id), eq(simCharges.status, "authorized"), lte(simCharges.authExpiresAt, now)))
    .returning();
  if (row) return row;
  // Someone else moved it first: what they left is the truth.
  const [current] = await db.select().from(simCharges).where(eq(simCharges.id, charge.id));
  return current ?? charge;
}

/**
 * Releases the authorizations past their window, a bounded number per call (the dispatcher's sweep, for
 * those nobody touches). Skips rows other replicas hold. Returns how many it released.
 */
export async function releaseExpiredAuthorizations(db: Database, limit: number): Promise<number> {
  const rows = await db.$client<{ id: string }[]>`
    update sim.charges set status = ${EXPIRED_AUTHORIZATION.status}, failure_reason = ${EXPIRED_AUTHORIZATION.failureReason},
      closed_at = now(), updated_at = now()
    where id in (select id from sim.charges where status = 'authorized' and auth_expires_at <= now()
      limit ${limit} for update skip locked)
    returning id`;
  return rows.length;
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

/**
 * Moves a transaction and its operations `hours` into the past, every time they hold, as if all of it had
 * happened that much earlier (tests put a payment on an earlier settlement day, past a cut-off or a window
 * this way). Whole milliseconds, like every time the simulator writes. null: no such transaction.
 */
export async function ageCharge(db: Database, channel: ChannelId, id: string, hours: number): Promise<Charge | null> {
  const by = sql`(${Math.round(hours * 3_600_000)} * interval '1 millisecond')`;
  const back = (col: Column) => sql`${col} - ${by}`;
  return db.transaction(async (tx) => {
    const [charge] = await tx
      .update(simCharges)
      .set({
        createdAt: back(simCharges.createdAt),
        paidAt: back(simCharges.paidAt),
        capturedAt: back(simCharges.capturedAt),
        closedAt: back(simCharges.closedAt),
        expiresAt: back(simCharges.expiresAt),
        authExpiresAt: back(simCharges.authExpiresAt),
        autoActionAt: back(simCharges.autoActionAt),
        // A change like any other: the batched payer actions, which compare it, look again.
        updatedAt: new Date(),
      })
      .where(and(eq(simCharges.channel, channel), eq(simCharges.id, id)))
      .returning();
    if (!charge) return null;
    await tx
      .update(simOperations)
      .set({
        createdAt: back(simOperations.createdAt),
        completedAt: back(simOperations.completedAt),
        completeAt: back(simOperations.completeAt),
        updatedAt: new Date(),
      })
      .where(eq(simOperations.chargeId, id));
    return charge;
  });
}
