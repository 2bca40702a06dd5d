import { BEARER_ERRORS, createRoute, errorResponses, json, noQuery, type ServiceApp } from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { channelHealthListSchema, healthView } from "./channel-views.ts";
import { adminSecurity } from "./router-api.ts";

export const getChannelsHealthRoute = createRoute({
  method: "get",
  path: "/v1/channels/health",
  operationId: "getChannelsHealth",
  tags: ["Channels"],
  summary: "Circuit and rolling call stats per channel",
  description: "As every replica sees them (±1 s): the window counts every replica's calls.",
  security: adminSecurity,
  request: { query: noQuery },
  responses: {
    200: { description: "One entry per channel.", content: json(channelHealthListSchema) },
    ...errorResponses(BEARER_ERRORS),
  },
});

/** GET /v1/channels/health: circuit and rolling call stats per channel, as every replica sees them (±1 s). */
export function getChannelsHealth(app: ServiceApp, deps: { state: ChannelState }): void {
  app.openapi(getChannelsHealthRoute, (c) =>
    c.json({ data: deps.state.channelIds().map((id) => healthView(deps.state, id)) }, 200),
  );
}
