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
import {
  channelIdParams,
  channelIdSchema,
  circuitSchema,
  circuitView,
  knownChannel,
  requireKnownChannel,
} from "./channel-views.ts";
import { adminSecurity } from "./router-api.ts";

export const circuitChangeSchema = z.strictObject({ state: z.enum(["open", "closed"]) }).openapi("CircuitChange");

export const setCircuitRoute = createRoute({
  method: "post",
  path: "/v1/channels/{id}/circuit",
  operationId: "setCircuit",
  tags: ["Channels"],
  summary: "Open or close a channel's circuit",
  description:
    "Opened here, a circuit stays open, without probes, until closed here. Closing resets the failure count.",
  security: adminSecurity,
  request: { params: channelIdParams, query: noQuery, body: { required: true, content: json(circuitChangeSchema) } },
  responses: {
    200: {
      description: "The circuit now.",
      content: json(z.object({ channel: channelIdSchema, circuit: circuitSchema }).openapi("ChannelCircuit")),
    },
    ...errorResponses([...BEARER_ERRORS, ...JSON_BODY_ERRORS, "channel.unknown"]),
  },
});

/**
 * POST /v1/channels/{id}/circuit: an operator opens a channel's circuit (it stays open, without probes,
 * until closed here) or closes it (failure count reset).
 */
export function setCircuit(app: ServiceApp, deps: { state: ChannelState }): void {
  app.openapi(
    { ...setCircuitRoute, middleware: [requireKnownChannel(deps.state), boundedJson()] },
    async (c) => {
      const id = knownChannel(deps.state, c.req.valid("param").id);
      const { state } = c.req.valid("json");
      const circuit = await deps.state.forceCircuit(id, state);
      c.get("logger").warn({ channel: id, state }, "circuit set by operator");
      return c.json({ channel: id, circuit: circuitView(circuit) }, 200);
    },
    validationHook({ notFound: { code: "channel.unknown", message: "unknown channel" } }),
  );
}
