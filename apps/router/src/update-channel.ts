import type { Hono } from "hono";
import { z } from "zod";
import { AppError } from "@pps/domain";
import type { AppEnv } from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { channelView, knownChannel } from "./channel-views.ts";
import { readJsonBody } from "@pps/runtime";

const amount = z.int().min(1).max(Number.MAX_SAFE_INTEGER);

/** Fields left out keep their current value. Amounts and the fixed fee are minor units. */
export const channelUpdateSchema = z
  .strictObject({
    enabled: z.boolean(),
    feeFixed: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
    feeRateBps: z.int().min(0).max(10_000),
    minAmount: amount,
    maxAmount: amount,
    priority: z.int().min(0).max(1_000_000),
  })
  .partial()
  .refine((v) => Object.keys(v).length > 0, { message: "at least one field is required" });

/** PUT /v1/channels/{id}: changes a channel's operator settings; this replica routes with them at once, others within a second. */
export function updateChannel(app: Hono<AppEnv>, deps: { state: ChannelState }): void {
  app.put("/v1/channels/:id", async (c) => {
    const id = knownChannel(deps.state, c.req.param("id"));
    const change = await readJsonBody(c, channelUpdateSchema);
    const current = deps.state.config(id);
    const min = change.minAmount ?? current?.minAmount ?? 1;
    const max = change.maxAmount ?? current?.maxAmount;
    if (max !== undefined && min > max) {
      throw new AppError("request.validation_failed", "minAmount must not exceed maxAmount", [{ path: "minAmount", message: "must not exceed maxAmount" }]);
    }
    const updated = await deps.state.updateConfig(id, change);
    if (!updated) throw new AppError("channel.unknown", `channel ${id} has no settings row`);
    c.get("logger").info({ channel: id, change }, "channel settings changed");
    return c.json(channelView(deps.state, id));
  });
}
