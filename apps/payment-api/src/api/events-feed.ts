import { and, asc, eq, gt, lt, sql } from "drizzle-orm";
import { paymentTransitions } from "@pps/db/schema";
import { type EventEnvelope, listEvents } from "@pps/api-contract";
import { type ApiDeps, type PaymentApiApp, signedCall } from "../http/context.ts";

/** Rows younger than this are not served yet, so a transaction that commits late cannot be skipped by a cursor. */
const SETTLE_MS = 1_000;

/**
 * GET /v1/events?after=<cursor>: every event about the merchant's payments, oldest first, so a merchant can
 * pull what it missed. The cursor is opaque; keep the `next_cursor` of the last page. Events are the
 * same envelopes published to Kafka and sent as notifications.
 */
export function registerEventsFeed(app: PaymentApiApp, deps: ApiDeps): void {
  app.openapi({ ...listEvents, middleware: signedCall(deps, { mutating: false, body: "none" }) }, async (c) => {
    const query = c.req.valid("query");
    const { merchant } = c.get("auth");
    const rows = await deps.db
      .select({ id: paymentTransitions.id, envelope: paymentTransitions.envelope })
      .from(paymentTransitions)
      .where(
        and(
          eq(paymentTransitions.merchantId, merchant.id),
          query.after ? gt(paymentTransitions.id, Number(query.after)) : undefined,
          lt(paymentTransitions.at, sql`now() - make_interval(secs => ${SETTLE_MS / 1000})`),
        ),
      )
      .orderBy(asc(paymentTransitions.id))
      .limit(query.limit);
    const last = rows.at(-1);
    return c.json(
      {
        data: rows.map((r) => r.envelope as EventEnvelope),
        next_cursor: last ? String(last.id) : (query.after ?? null),
        has_more: rows.length === query.limit,
      },
      200,
    );
  });
}
