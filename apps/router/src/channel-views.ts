import type { MiddlewareHandler } from "hono";
import { CHANNEL_IDS, type ChannelId, isChannelId } from "@pps/channels";
import { AppError, PRODUCTS } from "@pps/domain";
import { isCurrencyCode } from "@pps/money";
import { z } from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { CIRCUIT_STATES, type Circuit } from "./circuit-breaker.ts";
import { HEALTH_WINDOW_MS } from "./health-stats.ts";
import { limitsIn } from "./ranking.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const timestamp = z.string().openapi({ format: "date-time" });
const minorUnits = z.int().openapi({ description: "Minor units of the currency." });
const hundredths = z.int().openapi({
  description:
    "Hundredths of a major unit of the payment's currency, whatever its exponent: 10000000 = 100,000.00 CNY, USD or JPY (converted per currency in `limits`).",
});

const flowsSchema = z
  .object({
    cutoffMinutes: z
      .int()
      .openapi({ description: "Daily cut-off of the channel's settlement day, minutes after midnight Beijing time." }),
    authorize: z.object({ windowMs: z.int() }).optional(),
    capture: z.object({ partial: z.boolean() }).optional(),
    void: z.object({}).optional(),
    cancel: z.object({}).optional(),
    refund: z
      .object({
        partial: z.boolean(),
        afterSettlementOnly: z.boolean(),
        windowDays: z.int(),
        maxPerPayment: z.int().nullable(),
        smallAmountMax: z.int().optional(),
        samePeriodOnly: z.boolean().optional(),
        async: z.boolean(),
      })
      .optional(),
  })
  .openapi("ChannelFlows", {
    description: "What the channel can do after a payment (a flow absent here is not offered), with its rules.",
  });

const limitsSchema = z
  .object({
    currency: z.string(),
    minAmount: minorUnits,
    maxAmount: minorUnits,
    feeFixed: minorUnits,
  })
  .openapi("ChannelLimits", {
    description:
      "The operator limits and fixed fee in minor units of one currency the channel takes, as routing applies them (minimum rounded up, maximum down, fee half up).",
  });

export const channelIdSchema = z.enum(CHANNEL_IDS).openapi("ChannelId");

/** A channel named in the path; one this router has no adapter for is answered like an unknown one. */
export const channelIdParams = z.object({ id: channelIdSchema });

export const circuitSchema = z
  .object({
    state: z.enum(CIRCUIT_STATES),
    consecutiveFailures: z.int(),
    openedAt: timestamp.nullable(),
    probeStartedAt: timestamp.nullable(),
    forced: z.boolean().openapi({ description: "Opened by an operator: no probes until an operator closes it." }),
  })
  .openapi("Circuit");

export const channelSchema = z
  .object({
    id: channelIdSchema,
    configured: z.boolean().openapi({ description: "false: no settings row yet, so the channel is never chosen." }),
    enabled: z.boolean(),
    feeFixed: hundredths.nullable(),
    feeRateBps: z.int().nullable(),
    minAmount: hundredths.nullable(),
    maxAmount: hundredths.nullable(),
    limits: z
      .array(limitsSchema)
      .openapi({ description: "The settings per currency the channel takes, in its minor units." }),
    priority: z.int().nullable().openapi({ description: "Lower wins a tie after fee, success rate and latency." }),
    capabilities: z
      .object({
        products: z.array(z.enum(PRODUCTS)).readonly(),
        currencies: z.array(z.string()).readonly(),
        banks: z
          .array(z.string())
          .readonly()
          .optional()
          .openapi({ description: 'online_banking: the banks it reaches ("*": any bank).' }),
        wallets: z
          .array(z.enum(["wechat", "alipay"]))
          .readonly()
          .optional(),
        maxAmount: minorUnits
          .optional()
          .openapi({ description: "The channel's own cap per payment, in minor units of CNY (carrier billing)." }),
        flows: flowsSchema,
      })
      .nullable(),
    circuit: circuitSchema,
  })
  .openapi("Channel");
export type ChannelBody = z.output<typeof channelSchema>;

export const channelListSchema = z.object({ data: z.array(channelSchema) }).openapi("ChannelList");

export const channelHealthSchema = z
  .object({
    channel: channelIdSchema,
    circuit: circuitSchema,
    window: z.object({
      seconds: z.number(),
      calls: z.int(),
      succeeded: z.int(),
      declined: z.int(),
      failed: z.int(),
      unknown: z.int(),
      accepted: z.int(),
      latencyMsSum: z.int(),
      successRate: z.number().nullable(),
      avgLatencyMs: z.int().nullable(),
    }),
    ranking: z
      .object({ successRate: z.number().nullable(), avgLatencyMs: z.number().nullable() })
      .openapi({ description: "What ranking uses (null below the minimum number of calls)." }),
  })
  .openapi("ChannelHealth");
export type ChannelHealthBody = z.output<typeof channelHealthSchema>;

export const channelHealthListSchema = z.object({ data: z.array(channelHealthSchema) }).openapi("ChannelHealthList");

export function circuitView(c: Circuit): z.output<typeof circuitSchema> {
  return {
    state: c.state,
    consecutiveFailures: c.consecutiveFailures,
    openedAt: iso(c.openedAt),
    probeStartedAt: iso(c.probeStartedAt),
    forced: c.forced,
  };
}

/** A channel as the admin API shows it: operator settings, static capabilities, circuit. */
export function channelView(state: ChannelState, id: ChannelId): ChannelBody {
  const config = state.config(id);
  const capabilities = state.capabilities(id);
  return {
    id,
    configured: config !== undefined,
    enabled: config?.enabled ?? false,
    feeFixed: config?.feeFixed ?? null,
    feeRateBps: config?.feeRateBps ?? null,
    minAmount: config?.minAmount ?? null,
    maxAmount: config?.maxAmount ?? null,
    priority: config?.priority ?? null,
    limits:
      config && capabilities
        ? capabilities.currencies.filter(isCurrencyCode).map((currency) => limitsIn(config, currency))
        : [],
    capabilities: capabilities ?? null,
    circuit: circuitView(state.circuit(id)),
  };
}

export function healthView(state: ChannelState, id: ChannelId): ChannelHealthBody {
  const counts = state.windowCounts(id);
  const ranking = state.health(id);
  return {
    channel: id,
    circuit: circuitView(state.circuit(id)),
    window: {
      seconds: HEALTH_WINDOW_MS / 1000,
      ...counts,
      successRate: counts.calls > 0 ? (counts.calls - counts.failed - counts.unknown) / counts.calls : null,
      avgLatencyMs: counts.calls > 0 ? Math.round(counts.latencyMsSum / counts.calls) : null,
    },
    ranking: { successRate: ranking.successRate, avgLatencyMs: ranking.avgLatencyMs },
  };
}

/** A channel id from the path that this router has an adapter for, or 404. */
export function knownChannel(state: ChannelState, id: string): ChannelId {
  if (!isChannelId(id) || !state.channelIds().includes(id))
    throw new AppError("channel.unknown", `unknown channel ${id}`);
  return id;
}

/** Route middleware: an unknown channel is answered before the body is read or validated. */
export function requireKnownChannel(state: ChannelState): MiddlewareHandler {
  return async (c, next) => {
    knownChannel(state, c.req.param("id") ?? "");
    await next();
  };
}
