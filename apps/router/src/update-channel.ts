import { AppError } from "@pps/domain";
import {
  BEARER_ERRORS,
  boundedJson,
  createRoute,
  errorResponses,
  json,
  JSON_BODY_ERRORS,
  noQuery,
  type ServiceApp,
  validationHook,
  z,
} from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { channelIdParams, channelSchema, channelView, knownChannel, requireKnownChannel } from "./channel-views.ts";
import { adminSecurity } from "./router-api.ts";

/** So that the setting in minor units of a three-decimal currency (KWD: ×10) stays a safe integer. */
const MAX_HUNDREDTHS = Math.floor(Number.MAX_SAFE_INTEGER / 10);
const amount = z.int().min(1).max(MAX_HUNDREDTHS);

/**
 * Fields left out keep their current value. The limits and the fixed fee are in hundredths of a major unit
 * of the payment's currency (10_000_000 = 100,000.00 of any currency), converted per currency when routing.
 */
export const channelUpdateSchema = z
  .strictObject({
    enabled: z.boolean(),
    feeFixed: z.int().min(0).max(MAX_HUNDREDTHS),
    feeRateBps: z.int().min(0).max(10_000),
    minAmount: amount,
    maxAmount: amount,
    priority: z.int().min(0).max(1_000_000),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: "at least one field is required" })
  .openapi("ChannelUpdate", {
    description:
      "Fields left out keep their current value (at least one is required). minAmount, maxAmount and feeFixed are in hundredths of a major unit of the payment's currency, whatever its exponent: 10000000 is 100,000.00 CNY, 100,000.00 USD or 100,000 JPY. Routing converts them per currency (the minimum rounded up, the maximum down, the fee half up); the channel's `limits` show the result.",
  });

export const updateChannelRoute = createRoute({
  method: "put",
  path: "/v1/channels/{id}",
  operationId: "updateChannel",
  tags: ["Channels"],
  summary: "Change a channel's operator settings",
  description:
    "This replica routes with them at once, the others within a second. minAmount must not exceed maxAmount.",
  security: adminSecurity,
  request: { params: channelIdParams, query: noQuery, body: { required: true, content: json(channelUpdateSchema) } },
  responses: {
    200: { description: "The channel with its new settings.", content: json(channelSchema) },
    ...errorResponses([...BEARER_ERRORS, ...JSON_BODY_ERRORS, "channel.unknown"]),
  },
});

/** PUT /v1/channels/{id}: changes a channel's operator settings; this replica routes with them at once, others within a second. */
export function updateChannel(app: ServiceApp, deps: { state: ChannelState }): void {
  app.openapi(
    { ...updateChannelRoute, middleware: [requireKnownChannel(deps.state), boundedJson()] },
    async (c) => {
      const id = knownChannel(deps.state, c.req.valid("param").id);
      const change = c.req.valid("json");
      const current = deps.state.config(id);
      const min = change.minAmount ?? current?.minAmount ?? 1;
      const max = change.maxAmount ?? current?.maxAmount;
      if (max !== undefined && min > max) {
        throw new AppError("request.validation_failed", "minAmount must not exceed maxAmount", [
          { path: "minAmount", message: "must not exceed maxAmount" },
        ]);
      }
      const updated = await deps.state.updateConfig(id, change);
      if (!updated) throw new AppError("channel.unknown", `channel ${id} has no settings row`);
      c.get("logger").info({ channel: id, change }, "channel settings changed");
      return c.json(channelView(deps.state, id), 200);
    },
    validationHook({ notFound: { code: "channel.unknown", message: "unknown channel" } }),
  );
}
