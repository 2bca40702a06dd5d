import { eq, inArray, sql } from "drizzle-orm";
import { simCallbackDeliveries, simCallbacks, simCharges } from "@pps/db/schema";
import { PollingLoop, type Component } from "@pps/runtime";
import { protocolOf, type SimDeps } from "./deps.ts";
import { applyPayerAction } from "./payer-actions.ts";

/** While a claimed row is being worked on, other replicas leave it alone for this long. */
const LEASE = "30 seconds";
/** Rows claimed per round; a full round is followed by another at once, so a backlog drains without pauses. */
const BATCH = 100;

type CallbackRow = typeof simCallbacks.$inferSelect;

/**
 * The callback sender and payer robot: polls Postgres for due callbacks and automated payer actions.
 * Rows are claimed with FOR UPDATE SKIP LOCKED and a lease, so several replicas share the work and a
 * crashed replica's rows come back after the lease.
 */
export function createDispatcher(deps: SimDeps): Component & { tick: () => Promise<boolean> } {
  const { db, logger, config } = deps;

  async function deliver(row: CallbackRow): Promise<void> {
    const proto = protocolOf(deps, row.channel);
    let httpStatus: number | null = null;
    let responseBody: string | null = null;
    let error: string | null = null;
    try {
      const res = await fetch(row.url, { method: "POST", headers: row.headers, body: row.body, signal: AbortSignal.timeout(config.callbackTimeoutMs), redirect: "manual" });
      httpStatus = res.status;
      responseBody = (await res.text()).slice(0, 2_000);
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const accepted = httpStatus !== null && proto.ackAccepted(httpStatus, responseBody ?? "");
    const giveUp = !accepted && row.attempts >= config.callbackMaxAttempts;
    const retryMs = Math.min(30_000, config.callbackRetryBaseMs * 2 ** Math.max(0, row.attempts - 1));
    await db.transaction(async (tx) => {
      await tx.insert(simCallbackDeliveries).values({ callbackId: row.id, attempt: row.attempts, httpStatus, responseBody, error, accepted: accepted ? "yes" : "no" });
      await tx
        .update(simCallbacks)
        .set(
          accepted
            ? { status: "delivered", deliveredAt: new Date(), lastError: null }
            : giveUp
              ? { status: "abandoned", lastError: error ?? `HTTP ${httpStatus}` }
              : { dueAt: new Date(Date.now() + retryMs), lastError: error ?? `HTTP ${httpStatus}` },
        )
        .where(eq(simCallbacks.id, row.id));
    });
    if (!accepted) logger.info({ callbackId: row.id, channel: row.channel, attempt: row.attempts, httpStatus, error, giveUp }, "callback not accepted");
  }

  async function sendDueCallbacks(): Promise<number> {
    const rows = await db.execute<{ id: number }>(sql`
      update ${simCallbacks} set attempts = attempts + 1, due_at = now() + ${LEASE}::interval
      where id in (
        select id from ${simCallbacks} where status = 'pending' and due_at <= now()
        order by due_at, id limit ${BATCH} for update skip locked)
      returning id`);
    if (rows.length === 0) return 0;
    const claimed = await db
      .select()
      .from(simCallbacks)
      .where(inArray(simCallbacks.id, rows.map((r) => Number(r.id))));
    await Promise.all(claimed.map((row) => deliver(row).catch((err: unknown) => logger.error({ err, callbackId: row.id }, "callback delivery bookkeeping failed"))));
    return claimed.length;
  }

  async function runAutomatedPayers(): Promise<number> {
    const rows = await db.execute<{ id: string; auto_action: string }>(sql`
      update ${simCharges} set auto_action_at = now() + ${LEASE}::interval
      where id in (
        select id from ${simCharges} where auto_action is not null and auto_action_at <= now()
        order by auto_action_at limit ${BATCH} for update skip locked)
      returning id, auto_action`);
    await Promise.all(
      rows.map((r) =>
        applyPayerAction(deps, r.id, r.auto_action === "cancel" ? { type: "cancel" } : { type: "pay" }).catch((err: unknown) =>
          logger.error({ err, chargeId: r.id }, "automated payer action failed"),
        ),
      ),
    );
    return rows.length;
  }

  /** One round of both duties; true when either claimed a full batch (more is probably due). */
  async function tick(): Promise<boolean> {
    const [callbacks, payers] = await Promise.all([sendDueCallbacks(), runAutomatedPayers()]);
    return callbacks >= BATCH || payers >= BATCH;
  }

  const loop = new PollingLoop({ name: "callback dispatcher", logger, idleMs: config.callbackPollMs, round: tick });

  return {
    name: "callback-dispatcher",
    tick,
    start: () => loop.start(),
    stop: () => loop.stop(),
  };
}
