import { and, asc, eq, gt, lt, sql } from "drizzle-orm";
import { paymentTransitions } from "@pps/db/schema";
import { parseOrThrow } from "@pps/runtime";
import type { Hono } from "hono";
import { z } from "zod";
import type { PaymentApiEnv } from "../http/auth.ts";
import { authenticate, type ApiDeps } from "../http/context.ts";

const feedQuery = z.strictObject({
  after: z.string().regex(/^\d{1,18}$/, "a cursor from a previous page").optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** Rows younger than this are not served yet, so a transaction that commits late cannot be skipped by a cursor. */
const SETTLE_MS = 1_000;

/**
 * GET /v1/events?after=<cursor>: every event about the merchant's payments, oldest first, so a merchant can
 * pull what it missed. The cursor is opaque; keep the `next_cursor` of the last page. Events are the
 * same envelopes published to Kafka and sent as notifications.
 */
export function registerEventsFeed(app: Hono<PaymentApiEnv>, deps: ApiDeps): void {
  app.get("/v1/events", async (c) => {
    const query = parseOrThrow(feedQuery, c.req.query(), "request fields are invalid");
    const { merchant } = await authenticate(c, deps, { requireNonce: false });
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
    return c.json({ data: rows.map((r) => r.envelope), next_cursor: last ? String(last.id) : (query.after ?? null), has_more: rows.length === query.limit });
  });
}
