import { sql } from "drizzle-orm";
import { nodeHttpTransport } from "@pps/channels";
import { simCallbacks, simCharges } from "@pps/db/schema";
import { PollingLoop, type Component } from "@pps/runtime";
import type { Charge } from "../channels/protocol.ts";
import { releaseExpiredAuthorizations } from "./book.ts";
import { protocolOf, type SimDeps } from "./deps.ts";
import { completeDueOperations } from "./operations.ts";
import { applyPayerAction, applyPayerActionsAtOnce, type PayerAction } from "./payer-actions.ts";

/** While a claimed row is being worked on, other replicas leave it alone for this long. */
const LEASE = "30 seconds";
/** Rows claimed per round; a full round is followed by another at once, so a backlog drains without pauses. */
const BATCH = 100;
/**
 * How often the sweep releases the authorizations nobody touched past their window (touching one releases
 * it at once): it scans the charges, so not every round.
 */
const EXPIRY_SWEEP_MS = 5_000;

type CallbackRow = typeof simCallbacks.$inferSelect;

const actionOf = (charge: Charge): PayerAction =>
  charge.autoAction === "cancel" ? { type: "cancel" } : { type: "pay" };

/** One delivery attempt's result and what it means for its callback (null: left as it is). */
type Delivery = {
  callbackId: number;
  attempt: number;
  httpStatus: number | null;
  responseBody: string | null;
  error: string | null;
  accepted: boolean;
  status: "delivered" | "abandoned" | null;
  deliveredAt: Date | null;
  dueAt: Date | null;
  lastError: string | null;
};

/**
 * Records a round's delivery attempts in one statement: a row in callback_deliveries each, and its callback
 * delivered, abandoned or due again. The callbacks are distinct: a round claims each once.
 */
async function recordDeliveries(deps: SimDeps, ds: Delivery[]): Promise<void> {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  await deps.db.$client`
    with u as (
      select * from unnest(${ds.map((d) => d.callbackId)}::bigint[], ${ds.map((d) => d.attempt)}::int[], ${ds.map((d) => d.httpStatus)}::int[],
        ${ds.map((d) => d.responseBody)}::text[], ${ds.map((d) => d.error)}::text[], ${ds.map((d) => (d.accepted ? "yes" : "no"))}::text[],
        ${ds.map((d) => d.status)}::text[], ${ds.map((d) => iso(d.deliveredAt))}::text[]::timestamptz[], ${ds.map((d) => iso(d.dueAt))}::text[]::timestamptz[],
        ${ds.map((d) => d.lastError)}::text[])
        as u(callback_id, attempt, http_status, response_body, error, accepted, status, delivered_at, due_at, last_error)
    ), recorded as (
      insert into sim.callback_deliveries (callback_id, attempt, http_status, response_body, error, accepted)
      select callback_id, attempt, http_status, response_body, error, accepted from u
    )
    update sim.callbacks c set status = coalesce(u.status, c.status), delivered_at = coalesce(u.delivered_at, c.delivered_at),
      due_at = coalesce(u.due_at, c.due_at), last_error = u.last_error
    from u where c.id = u.callback_id`;
}

/**
 * The callback sender and payer robot: polls Postgres for due callbacks, automated payer actions and async
 * operations to complete (whose notifications it then sends), and now and then releases expired
 * authorizations.
 * Rows are claimed with FOR UPDATE SKIP LOCKED and a lease, so several replicas share the work and a
 * crashed replica's rows come back after the lease.
 */
export function createDispatcher(deps: SimDeps): Component & { tick: () => Promise<boolean> } {
  const { db, logger, config } = deps;

  /** Sends one callback; what came of it is recorded with the rest of the round. */
  async function deliver(row: CallbackRow): Promise<Delivery> {
    const proto = protocolOf(deps, row.channel);
    let httpStatus: number | null = null;
    let responseBody: string | null = null;
    let error: string | null = null;
    // node:http with keep-alive (redirects are not followed), like the channel clients.
    const res = await nodeHttpTransport(
      { url: row.url, method: "POST", headers: row.headers, body: row.body },
      config.callbackTimeoutMs,
    );
    if (res.kind === "answer") {
      httpStatus = res.status;
      responseBody = res.body.slice(0, 2_000);
    } else error = res.detail;
    const accepted = httpStatus !== null && proto.ackAccepted(httpStatus, responseBody ?? "");
    const giveUp = !accepted && row.attempts >= config.callbackMaxAttempts;
    const retryMs = Math.min(30_000, config.callbackRetryBaseMs * 2 ** Math.max(0, row.attempts - 1));
    const lastError = accepted ? null : (error ?? `HTTP ${httpStatus}`);
    if (!accepted)
      logger.info(
        { callbackId: row.id, channel: row.channel, attempt: row.attempts, httpStatus, error, giveUp },
        "callback not accepted",
      );
    return {
      callbackId: row.id,
      attempt: row.attempts,
      httpStatus,
      responseBody,
      error,
      accepted,
      status: accepted ? "delivered" : giveUp ? "abandoned" : null,
      deliveredAt: accepted ? new Date() : null,
      dueAt: accepted || giveUp ? null : new Date(Date.now() + retryMs),
      lastError,
    };
  }

  /** Claims the due callbacks and reads them in one statement, sends them, records the results in one statement. */
  async function sendDueCallbacks(): Promise<number> {
    const claimed = await db
      .update(simCallbacks)
      .set({ attempts: sql`attempts + 1`, dueAt: sql`now() + ${LEASE}::interval` })
      .where(
        sql`${simCallbacks.id} in (
          select id from ${simCallbacks} where status = 'pending' and due_at <= now()
          order by due_at, id limit ${BATCH} for update skip locked)`,
      )
      .returning();
    if (claimed.length === 0) return 0;
    // A charge's callbacks claimed together (a duplicate, a stale one after the final, when the round came
    // late) go out one after another, in the order they were queued.
    const byCharge = new Map<string, CallbackRow[]>();
    for (const row of claimed.sort((a, b) => a.id - b.id)) {
      byCharge.set(row.chargeId, [...(byCharge.get(row.chargeId) ?? []), row]);
    }
    const deliveries = await Promise.all(
      [...byCharge.values()].map(async (rows) => {
        const done: Delivery[] = [];
        for (const row of rows) done.push(await deliver(row));
        return done;
      }),
    );
    // Unrecorded, the callbacks come back after the lease and are sent again: a callback is sent at least once.
    await recordDeliveries(deps, deliveries.flat()).catch((err: unknown) =>
      logger.error({ err, callbackIds: claimed.map((r) => r.id) }, "callback delivery bookkeeping failed"),
    );
    return claimed.length;
  }

  /** Claims the due payer actions; settles those it can in one statement, the others one by one. */
  async function runAutomatedPayers(): Promise<number> {
    const claimed = await db
      .update(simCharges)
      .set({ autoActionAt: sql`now() + ${LEASE}::interval` })
      .where(
        sql`${simCharges.id} in (
          select id from ${simCharges} where auto_action is not null and auto_action_at <= now()
          order by auto_action_at limit ${BATCH} for update skip locked)`,
      )
      .returning();
    const actions = claimed.map((charge) => ({ charge, action: actionOf(charge) }));
    const settled = await applyPayerActionsAtOnce(deps, actions).catch((err: unknown) => {
      logger.error({ err }, "automated payer actions failed as a batch; applying them one by one");
      return new Set<string>();
    });
    await Promise.all(
      actions
        .filter(({ charge }) => !settled.has(charge.id))
        .map(({ charge, action }) =>
          applyPayerAction(deps, charge.id, action).catch((err: unknown) =>
            logger.error({ err, chargeId: charge.id }, "automated payer action failed"),
          ),
        ),
    );
    return claimed.length;
  }

  let lastSweep = 0;
  async function sweepExpiredAuthorizations(): Promise<number> {
    if (Date.now() - lastSweep < EXPIRY_SWEEP_MS) return 0;
    lastSweep = Date.now();
    return releaseExpiredAuthorizations(db, BATCH * 10).catch((err: unknown) => {
      logger.error({ err }, "expired authorizations sweep failed; next time");
      return 0;
    });
  }

  /** One round of every duty; true when one claimed a full batch (more is probably due). */
  async function tick(): Promise<boolean> {
    const [callbacks, payers, operations] = await Promise.all([
      sendDueCallbacks(),
      runAutomatedPayers(),
      completeDueOperations(deps, BATCH),
      sweepExpiredAuthorizations(),
    ]);
    return callbacks >= BATCH || payers >= BATCH || operations >= BATCH;
  }

  const loop = new PollingLoop({ name: "callback dispatcher", logger, idleMs: config.callbackPollMs, round: tick });

  return {
    name: "callback-dispatcher",
    tick,
    start: () => loop.start(),
    stop: () => loop.stop(),
  };
}
