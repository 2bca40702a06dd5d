import { and, asc, inArray, lt, sql } from "drizzle-orm";
import { paymentInbox, payments } from "@pps/db/schema";
import type { PaymentStatus } from "@pps/domain";
import { pruneInbox } from "@pps/messaging";
import type { ApiDeps } from "../http/context.ts";
import { pruneReplayState } from "../http/idempotency.ts";
import { transition } from "../payments/repository.ts";
import { transitionMany } from "../payments/transitions-batch.ts";

/** States in which an unpaid payment may run out of time. `processing` is not one: a channel call is in flight. */
export const EXPIRABLE: PaymentStatus[] = [
  "awaiting_payment",
  "risk_review",
  "requires_verification",
  "requires_action",
];

/** Expires payments past their expiry, a batch at a time. Safe on every replica: each transition is conditional. */
export async function expireDuePayments(deps: Pick<ApiDeps, "db">, limit = 500): Promise<number> {
  const due = await deps.db
    .select({ id: payments.id })
    .from(payments)
    .where(and(inArray(payments.status, EXPIRABLE), lt(payments.expiresAt, sql`now()`)))
    .orderBy(asc(payments.expiresAt))
    .limit(limit);
  if (due.length === 0) return 0;
  return deps.db.transaction(async (tx) => {
    let n = 0;
    for (const { id } of due) {
      const moved = await transition(
        tx,
        id,
        "expired",
        { cause: "expiry" },
        { onlyFrom: EXPIRABLE, patch: { failureCode: "expired", failureMessage: "not paid before it expired" } },
      );
      if (moved) n++;
    }
    return n;
  });
}

/**
 * Authorizations past the channel's window: the channel has released the hold by itself, so the payment
 * is canceled (authorization_expired). One waiting on a capture or void still pending is left to its
 * result. Safe on every replica: each transition is conditional.
 */
export async function expireDueAuthorizations(deps: Pick<ApiDeps, "db">, limit = 500): Promise<number> {
  return deps.db.$client.begin(async (sql) => {
    // Locked first: a capture or void takes the same lock before it is recorded, so once we hold it the
    // next statement sees every one committed before (and none can start until we are done).
    const due = await sql<{ id: string }[]>`
      select id from payment.payments
      where status = 'requires_capture' and authorization_expires_at < now()
      order by authorization_expires_at
      limit ${limit}
      for update skip locked`;
    if (due.length === 0) return 0;
    const busy = await sql<{ payment_id: string }[]>`
      select payment_id from payment.payment_operations
      where payment_id = any(${due.map((d) => d.id)}::text[]) and kind in ('capture', 'void') and status = 'pending'`;
    const waiting = new Set(busy.map((b) => b.payment_id));
    const done = await transitionMany(
      sql,
      due
        .filter(({ id }) => !waiting.has(id))
        .map(({ id }) => ({
          paymentId: id,
          to: "canceled" as const,
          cause: { cause: "authorization_expiry" },
          onlyFrom: ["requires_capture" as const],
          patch: { failureCode: "authorization_expired", failureMessage: "not captured within the channel's window" },
        })),
    );
    return done.filter(Boolean).length;
  });
}

/** A durable-enough periodic job: its state is all in Postgres, so a restart loses nothing. */
export function createHousekeeping(deps: Pick<ApiDeps, "db" | "env" | "logger" | "relay">) {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let lastPrune = 0;
  const tick = async () => {
    try {
      const expired = await expireDuePayments(deps);
      const released = await expireDueAuthorizations(deps);
      if (released > 0) {
        deps.relay.notify();
        deps.logger.info({ released }, "released expired authorizations");
      }
      if (expired > 0) {
        deps.relay.notify();
        deps.logger.info({ expired }, "expired unpaid payments");
      }
      if (Date.now() - lastPrune > 60_000) {
        lastPrune = Date.now();
        await pruneReplayState(deps.db, {
          idempotencyHours: deps.env.IDEMPOTENCY_RETENTION_HOURS,
          nonceSeconds: deps.env.SIGNATURE_WINDOW_SECONDS * 2,
        });
        await pruneInbox(deps.db, paymentInbox);
      }
    } catch (err) {
      deps.logger.error({ err }, "housekeeping failed; will retry");
    }
  };
  return {
    name: "housekeeping",
    start: () => {
      const loop = () => {
        running = tick().finally(() => {
          timer = setTimeout(loop, deps.env.EXPIRY_SWEEP_INTERVAL_MS);
        });
      };
      loop();
    },
    stop: async () => {
      clearTimeout(timer);
      await running;
      clearTimeout(timer);
    },
  };
}
