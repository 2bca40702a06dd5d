import { BEARER_ERRORS, createRoute, errorResponses, json, noQuery, type ServiceApp } from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { channelListSchema, channelView } from "./channel-views.ts";
import { adminSecurity } from "./router-api.ts";

export const listChannelsRoute = createRoute({
  method: "get",
  path: "/v1/channels",
  operationId: "listChannels",
  tags: ["Channels"],
  summary: "Every channel with its settings, capabilities and circuit",
  security: adminSecurity,
  request: { query: noQuery },
  responses: {
    200: { description: "One entry per channel this router has an adapter for.", content: json(channelListSchema) },
    ...errorResponses(BEARER_ERRORS),
  },
});

/** GET /v1/channels: every channel with its settings, capabilities and circuit. */
export function listChannels(app: ServiceApp, deps: { state: ChannelState }): void {
  app.openapi(listChannelsRoute, (c) =>
    c.json({ data: deps.state.channelIds().map((id) => channelView(deps.state, id)) }, 200),
  );
}
