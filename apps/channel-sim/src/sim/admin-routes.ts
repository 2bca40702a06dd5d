import { asc, eq, inArray } from "drizzle-orm";
import type { MiddlewareHandler } from "hono";
import { CHANNEL_IDS, isChannelId } from "@pps/channels";
import { AppError } from "@pps/domain";
import { simCallbackDeliveries, simCallbacks, simOperations } from "@pps/db/schema";
import {
  boundedJson,
  createRoute,
  createRouteGroup,
  errorResponses,
  json,
  JSON_BODY_ERRORS,
  noQuery,
  REQUEST_ERRORS,
  validationHook,
  z,
} from "@pps/runtime";
import type { Charge, SimOperation } from "../channels/protocol.ts";
import { ageCharge, listBook } from "./book.ts";
import type { SimDeps } from "./deps.ts";
import { FAULT_OPS, parseFaults } from "./faults.ts";

const faultBody = z
  .object({
    /** One directive, a comma-separated list, or an array. */
    faults: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .openapi({ description: "One directive, a comma-separated list, or an array." }),
    fault: z.string().optional().openapi({ description: "One directive (or a comma-separated list)." }),
    ops: z.array(z.enum(FAULT_OPS)).min(1).default(["pay"]).openapi({
      description:
        "Which requests: pay, query (payments), capture, void, cancel, refund, query_operation (operation queries).",
    }),
    percent: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(100)
      .openapi({ description: "Share of the matching requests affected." }),
    /** Only merchant references starting with this (a test run's or a benchmark's own attempts). */
    refPrefix: z.string().min(1).max(128).nullable().default(null).openapi({
      description:
        "Only merchant references starting with this (a test run's or a benchmark's own attempts); null: every request.",
    }),
  })
  .openapi("FaultChange", {
    description:
      "Directives: decline, insufficient_funds, timeout, 5xx, 5xx_after_charge, unavailable, callback_duplicated, callback_out_of_order, callback_never, latency:<ms>, callback_delayed:<ms> (ms up to 120000).",
  });

const timestamp = z.string().openapi({ format: "date-time" });

const faultSettingSchema = z
  .object({
    channel: z.string(),
    faults: z.array(z.string()),
    ops: z.array(z.string()),
    percent: z.int(),
    refPrefix: z.string().nullable(),
    updatedAt: timestamp,
  })
  .openapi("FaultSetting");

const operationSchema = z
  .object({
    opId: z.string().openapi({ description: "The channel's id of the operation (refund id, …)." }),
    kind: z.enum(["capture", "void", "cancel", "refund"]),
    ref: z.string().openapi({ description: "Our request number (the operation id)." }),
    amount: z.int(),
    currency: z.string(),
    status: z.enum(["processing", "succeeded", "failed"]),
    failureReason: z.string().nullable(),
    reason: z.string().nullable(),
    createdAt: timestamp,
    completedAt: timestamp.nullable(),
  })
  .openapi("BookOperation");

const bookEntrySchema = z
  .object({
    txnId: z.string(),
    channel: z.string(),
    merchantId: z.string(),
    ref: z.string().openapi({ description: "Our merchant reference at the channel (the router's attempt id)." }),
    product: z.string(),
    amount: z.int(),
    currency: z.string(),
    settlement: z
      .object({ amount: z.int().nullable(), currency: z.string().nullable(), fxRate: z.string().nullable() })
      .nullable(),
    status: z.enum(["awaiting_payer", "paying", "authorized", "succeeded", "failed", "closed", "voided", "canceled"]),
    failureReason: z.string().nullable(),
    captureMode: z.enum(["auto", "manual"]).openapi({ description: "manual: authorized, captured later." }),
    authorizedAmount: z.int().openapi({ description: "Held by the authorization (the amount, for a sale)." }),
    authExpiresAt: timestamp.nullable().openapi({ description: "When the channel releases the hold by itself." }),
    capturedAmount: z.int().openapi({ description: "Taken from the payer." }),
    capturedAt: timestamp.nullable(),
    refundedAmount: z
      .int()
      .openapi({ description: "Returned by refunds that succeeded or are in flight, or by the cancel." }),
    refundableAmount: z.int().openapi({ description: "What refunds may still return (captured − refunded)." }),
    refundCount: z.int().openapi({ description: "Refunds accepted (in flight or succeeded)." }),
    createdAt: timestamp,
    paidAt: timestamp.nullable(),
    closedAt: timestamp.nullable(),
    operations: z
      .array(operationSchema)
      .openapi({ description: "Captures, voids, cancels and refunds, oldest first." }),
  })
  .openapi("BookEntry");

const callbackSchema = z
  .object({
    id: z.int(),
    operationId: z
      .string()
      .nullable()
      .openapi({ description: "The channel's operation id, for the notification of an operation's result." }),
    kind: z.string(),
    status: z.string(),
    attempts: z.int(),
    url: z.string(),
    dueAt: timestamp,
    deliveredAt: timestamp.nullable(),
    lastError: z.string().nullable(),
    deliveries: z.array(
      z.object({
        attempt: z.int(),
        httpStatus: z.int().nullable(),
        accepted: z.boolean(),
        error: z.string().nullable(),
        at: timestamp,
      }),
    ),
  })
  .openapi("CallbackRecord");

const channelParams = z.object({ channel: z.enum(CHANNEL_IDS).openapi("SimChannelId") });
const UNKNOWN_CHANNEL = { code: "request.not_found", message: "unknown channel" } as const;

/** An unknown channel is answered before the body is read, as it always was. */
const knownChannelFirst: MiddlewareHandler = async (c, next) => {
  const value = c.req.param("channel") ?? "";
  if (!isChannelId(value)) throw new AppError("request.not_found", `unknown channel ${value}`);
  await next();
};

const listFaults = createRoute({
  method: "get",
  path: "/faults",
  operationId: "listFaults",
  tags: ["Faults"],
  summary: "The channel-wide fault settings in force",
  request: { query: noQuery },
  responses: {
    200: {
      description: "One per channel that has any.",
      content: json(z.object({ faults: z.array(faultSettingSchema) })),
    },
    ...errorResponses(REQUEST_ERRORS),
  },
});

const setFaults = createRoute({
  method: "put",
  path: "/faults/{channel}",
  operationId: "setFaults",
  tags: ["Faults"],
  summary: "Make a channel misbehave, for some operations and references",
  description:
    "Replaces the channel's setting; in force on every replica before this answers. Per-request faults go in the payment's metadata (`sim_fault`).",
  middleware: [knownChannelFirst, boundedJson()],
  request: { params: channelParams, query: noQuery, body: { required: true, content: json(faultBody) } },
  responses: {
    200: { description: "The setting now.", content: json(faultSettingSchema) },
    ...errorResponses([...REQUEST_ERRORS, ...JSON_BODY_ERRORS, "request.not_found"]),
  },
});

const clearChannelFaults = createRoute({
  method: "delete",
  path: "/faults/{channel}",
  operationId: "clearChannelFaults",
  tags: ["Faults"],
  summary: "Clear a channel's fault setting",
  request: { params: channelParams, query: noQuery },
  responses: { 204: { description: "Cleared." }, ...errorResponses([...REQUEST_ERRORS, "request.not_found"]) },
});

const clearAllFaults = createRoute({
  method: "delete",
  path: "/faults",
  operationId: "clearAllFaults",
  tags: ["Faults"],
  summary: "Clear every channel's fault setting",
  request: { query: noQuery },
  responses: { 204: { description: "Cleared." }, ...errorResponses(REQUEST_ERRORS) },
});

const getBook = createRoute({
  method: "get",
  path: "/book/{channel}",
  operationId: "getBook",
  tags: ["Book"],
  summary: "A channel's transactions, newest first",
  request: {
    params: channelParams,
    query: z.strictObject({
      ref: z.string().min(1).optional().openapi({ description: "Only this merchant reference." }),
      limit: z.coerce.number().int().min(1).max(1_000).default(100),
    }),
  },
  responses: {
    200: {
      description: "The transactions.",
      content: json(z.object({ entries: z.array(bookEntrySchema) }).openapi("Book")),
    },
    ...errorResponses([...REQUEST_ERRORS, "request.not_found"]),
  },
});

const ageBody = z
  .strictObject({
    hours: z
      .number()
      .positive()
      .max(24 * 800)
      .openapi({ description: "How far into the past the transaction moves, in hours (fractions allowed)." }),
  })
  .openapi("AgeChange");

const ageTransaction = createRoute({
  method: "post",
  path: "/book/{channel}/{txnId}/age",
  operationId: "ageTransaction",
  tags: ["Book"],
  summary: "Move a transaction and its operations into the past",
  description:
    "Every time of the transaction (created, paid, captured, closed, expiry, authorization expiry) and of its operations moves `hours` into the past, as if it all had happened that much earlier: onto an earlier settlement day, past a cut-off, an authorization window or a refund window. The channels' rules are then judged by the simulator's clock as usual.",
  middleware: [knownChannelFirst, boundedJson()],
  request: {
    params: channelParams.extend({
      txnId: z.string().min(1).openapi({ description: "The channel's transaction id." }),
    }),
    query: noQuery,
    body: { required: true, content: json(ageBody) },
  },
  responses: {
    200: { description: "The transaction after the move.", content: json(bookEntrySchema) },
    ...errorResponses([...REQUEST_ERRORS, ...JSON_BODY_ERRORS, "request.not_found"]),
  },
});

const getCallbacks = createRoute({
  method: "get",
  path: "/callbacks/{channel}",
  operationId: "getCallbacks",
  tags: ["Callbacks"],
  summary: "The callbacks queued for a merchant reference, with every delivery attempt",
  request: {
    params: channelParams,
    query: z.strictObject({ ref: z.string().min(1).openapi({ description: "The merchant reference." }) }),
  },
  responses: {
    200: {
      description: "In the order they were queued.",
      content: json(z.object({ callbacks: z.array(callbackSchema) }).openapi("Callbacks")),
    },
    ...errorResponses([...REQUEST_ERRORS, "request.not_found"]),
  },
});

type BookEntry = z.output<typeof bookEntrySchema>;

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** A book entry as shown to operators and tests: the channel's neutral record, amounts and operations. */
function bookEntryOf(r: Charge, ops: SimOperation[]): BookEntry {
  return {
    txnId: r.id,
    channel: r.channel,
    merchantId: r.merchantId,
    ref: r.merchantRef,
    product: r.product,
    amount: r.amount,
    currency: r.currency,
    settlement:
      r.settleAmount !== null ? { amount: r.settleAmount, currency: r.settleCurrency, fxRate: r.fxRate } : null,
    // The simulator's neutral states and modes (ChargeStatus, …): the only values its writers set.
    status: r.status as BookEntry["status"],
    failureReason: r.failureReason,
    captureMode: r.captureMode as BookEntry["captureMode"],
    authorizedAmount: r.authorizedAmount,
    authExpiresAt: iso(r.authExpiresAt),
    capturedAmount: r.capturedAmount,
    capturedAt: iso(r.capturedAt),
    refundedAmount: r.refundedAmount,
    refundableAmount: r.status === "succeeded" ? r.capturedAmount - r.refundedAmount : 0,
    refundCount: r.refundCount,
    createdAt: r.createdAt.toISOString(),
    paidAt: iso(r.paidAt),
    closedAt: iso(r.closedAt),
    operations: ops.map((o) => ({
      opId: o.id,
      kind: o.kind as BookEntry["operations"][number]["kind"],
      ref: o.merchantRef,
      amount: o.amount,
      currency: o.currency,
      status: o.status as BookEntry["operations"][number]["status"],
      failureReason: o.failureReason,
      reason: o.reason,
      createdAt: o.createdAt.toISOString(),
      completedAt: iso(o.completedAt),
    })),
  };
}

/** The operations of these charges, oldest first, by charge. */
async function operationsByCharge(deps: SimDeps, chargeIds: string[]): Promise<Map<string, SimOperation[]>> {
  const byCharge = new Map<string, SimOperation[]>();
  if (chargeIds.length === 0) return byCharge;
  const rows = await deps.db
    .select()
    .from(simOperations)
    .where(inArray(simOperations.chargeId, chargeIds))
    .orderBy(asc(simOperations.createdAt), asc(simOperations.id));
  for (const o of rows) byCharge.set(o.chargeId, [...(byCharge.get(o.chargeId) ?? []), o]);
  return byCharge;
}

/** The simulator's own controls and inspection: faults, the books (and their clock), callback deliveries. */
export function adminRoutes(deps: SimDeps) {
  const app = createRouteGroup();
  const unknownChannel = validationHook({ notFound: UNKNOWN_CHANNEL });

  app.openapi(listFaults, async (c) => c.json({ faults: await deps.faults.list() }, 200));
  app.openapi(
    setFaults,
    async (c) => {
      const { channel } = c.req.valid("param");
      const body = c.req.valid("json");
      const raw = [body.fault ?? [], body.faults ?? []].flat();
      const { faults, invalid } = parseFaults(raw);
      if (invalid.length || faults.length === 0)
        throw new AppError(
          "request.validation_failed",
          `unknown fault directives: ${invalid.join(", ") || "(none given)"}`,
        );
      return c.json(await deps.faults.set(channel, faults, body.ops, body.percent, body.refPrefix), 200);
    },
    unknownChannel,
  );
  app.openapi(
    clearChannelFaults,
    async (c) => {
      await deps.faults.clear(c.req.valid("param").channel);
      return c.body(null, 204);
    },
    unknownChannel,
  );
  app.openapi(clearAllFaults, async (c) => {
    await deps.faults.clear();
    return c.body(null, 204);
  });

  app.openapi(
    getBook,
    async (c) => {
      const { channel } = c.req.valid("param");
      const { ref, limit } = c.req.valid("query");
      const rows = await listBook(deps.db, channel, ref ?? null, limit);
      const ops = await operationsByCharge(
        deps,
        rows.map((r) => r.id),
      );
      return c.json({ entries: rows.map((r) => bookEntryOf(r, ops.get(r.id) ?? [])) }, 200);
    },
    unknownChannel,
  );

  app.openapi(
    ageTransaction,
    async (c) => {
      const { channel, txnId } = c.req.valid("param");
      const aged = await ageCharge(deps.db, channel, txnId, c.req.valid("json").hours);
      if (!aged) throw new AppError("request.not_found", `no transaction ${txnId} at ${channel}`);
      const ops = await operationsByCharge(deps, [aged.id]);
      return c.json(bookEntryOf(aged, ops.get(aged.id) ?? []), 200);
    },
    unknownChannel,
  );

  app.openapi(
    getCallbacks,
    async (c) => {
      const { channel } = c.req.valid("param");
      const { ref } = c.req.valid("query");
      const rows = await deps.db
        .select()
        .from(simCallbacks)
        .where(eq(simCallbacks.merchantRef, ref))
        .orderBy(asc(simCallbacks.id));
      const mine = rows.filter((r) => r.channel === channel);
      const deliveries = mine.length
        ? await deps.db
            .select()
            .from(simCallbackDeliveries)
            .where(
              inArray(
                simCallbackDeliveries.callbackId,
                mine.map((r) => r.id),
              ),
            )
            .orderBy(asc(simCallbackDeliveries.id))
        : [];
      return c.json(
        {
          callbacks: mine.map((r) => ({
            id: r.id,
            operationId: r.operationId,
            kind: r.kind,
            status: r.status,
            attempts: r.attempts,
            url: r.url,
            dueAt: r.dueAt.toISOString(),
            deliveredAt: r.deliveredAt?.toISOString() ?? null,
            lastError: r.lastError,
            deliveries: deliveries
              .filter((d) => d.callbackId === r.id)
              .map((d) => ({
                attempt: d.attempt,
                httpStatus: d.httpStatus,
                accepted: d.accepted === "yes",
                error: d.error,
                at: d.at.toISOString(),
              })),
          })),
        },
        200,
      );
    },
    unknownChannel,
  );
  return app;
}
