import type { Hono } from "hono";
import type { AppEnv } from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { channelView } from "./channel-views.ts";

/** GET /v1/channels: every channel with its settings, capabilities and circuit. */
export function listChannels(app: Hono<AppEnv>, deps: { state: ChannelState }): void {
  app.get("/v1/channels", (c) => c.json({ data: deps.state.channelIds().map((id) => channelView(deps.state, id)) }));
}
