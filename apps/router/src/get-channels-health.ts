import type { Hono } from "hono";
import type { AppEnv } from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { healthView } from "./channel-views.ts";

/** GET /v1/channels/health: circuit and rolling call stats per channel, as every replica sees them (±1 s). */
export function getChannelsHealth(app: Hono<AppEnv>, deps: { state: ChannelState }): void {
  app.get("/v1/channels/health", (c) => c.json({ data: deps.state.channelIds().map((id) => healthView(deps.state, id)) }));
}
