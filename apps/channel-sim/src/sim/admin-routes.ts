import { asc, eq, inArray } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { isChannelId, type ChannelId } from "@pps/channels";
import { AppError } from "@pps/domain";
import { simCallbackDeliveries, simCallbacks } from "@pps/db/schema";
import type { AppEnv } from "@pps/runtime";
import { listBook } from "./book.ts";
import type { SimDeps } from "./deps.ts";
import { FAULT_OPS, parseFaults } from "./faults.ts";

const faultBody = z.object({
  /** One directive, a comma-separated list, or an array. */
  faults: z.union([z.string(), z.array(z.string())]).optional(),
  fault: z.string().optional(),
  ops: z.array(z.enum(FAULT_OPS)).min(1).default(["pay"]),
  percent: z.number().int().min(1).max(100).default(100),
  /** Only merchant references starting with this (a test run's or a benchmark's own attempts). */
  refPrefix: z.string().min(1).max(128).nullable().default(null),
});

function channelParam(value: string | undefined): ChannelId {
  if (!value || !isChannelId(value)) throw new AppError("request.not_found", `unknown channel ${value ?? ""}`);
  return value;
}

/** The simulator's own controls and inspection: faults, the books, callback deliveries. */
export function adminRoutes(deps: SimDeps) {
  const app = new Hono<AppEnv>();

  app.get("/faults", async (c) => c.json({ faults: await deps.faults.list() }));
  app.put("/faults/:channel", async (c) => {
    const channel = channelParam(c.req.param("channel"));
    const parsed = faultBody.safeParse(await c.req.json());
    if (!parsed.success) throw new AppError("request.validation_failed", "invalid fault setting", parsed.error.issues);
    const raw = [parsed.data.fault ?? [], parsed.data.faults ?? []].flat();
    const { faults, invalid } = parseFaults(raw);
    if (invalid.length || faults.length === 0) throw new AppError("request.validation_failed", `unknown fault directives: ${invalid.join(", ") || "(none given)"}`);
    return c.json(await deps.faults.set(channel, faults, parsed.data.ops, parsed.data.percent, parsed.data.refPrefix));
  });
  app.delete("/faults/:channel", async (c) => {
    await deps.faults.clear(channelParam(c.req.param("channel")));
    return c.body(null, 204);
  });
  app.delete("/faults", async (c) => {
    await deps.faults.clear();
    return c.body(null, 204);
  });

  app.get("/book/:channel", async (c) => {
    const channel = channelParam(c.req.param("channel"));
    const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 100) || 100, 1), 1_000);
    const rows = await listBook(deps.db, channel, c.req.query("ref") ?? null, limit);
    return c.json({
      entries: rows.map((r) => ({
        txnId: r.id,
        channel: r.channel,
        merchantId: r.merchantId,
        ref: r.merchantRef,
        product: r.product,
        amount: r.amount,
        currency: r.currency,
        settlement: r.settleAmount !== null ? { amount: r.settleAmount, currency: r.settleCurrency, fxRate: r.fxRate } : null,
        status: r.status,
        failureReason: r.failureReason,
        createdAt: r.createdAt.toISOString(),
        paidAt: r.paidAt?.toISOString() ?? null,
        closedAt: r.closedAt?.toISOString() ?? null,
      })),
    });
  });

  app.get("/callbacks/:channel", async (c) => {
    const channel = channelParam(c.req.param("channel"));
    const ref = c.req.query("ref");
    if (!ref) throw new AppError("request.validation_failed", "query parameter ref is required");
    const rows = await deps.db
      .select()
      .from(simCallbacks)
      .where(eq(simCallbacks.merchantRef, ref))
      .orderBy(asc(simCallbacks.id));
    const mine = rows.filter((r) => r.channel === channel);
    const deliveries = mine.length
      ? await deps.db.select().from(simCallbackDeliveries).where(inArray(simCallbackDeliveries.callbackId, mine.map((r) => r.id))).orderBy(asc(simCallbackDeliveries.id))
      : [];
    return c.json({
      callbacks: mine.map((r) => ({
        id: r.id,
        kind: r.kind,
        status: r.status,
        attempts: r.attempts,
        url: r.url,
        dueAt: r.dueAt.toISOString(),
        deliveredAt: r.deliveredAt?.toISOString() ?? null,
        lastError: r.lastError,
        deliveries: deliveries
          .filter((d) => d.callbackId === r.id)
          .map((d) => ({ attempt: d.attempt, httpStatus: d.httpStatus, accepted: d.accepted === "yes", error: d.error, at: d.at.toISOString() })),
      })),
    });
  });
  return app;
}
