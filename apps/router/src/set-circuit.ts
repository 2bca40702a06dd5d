import type { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "@pps/runtime";
import type { ChannelState } from "./channel-state.ts";
import { circuitView, knownChannel } from "./channel-views.ts";
import { readJsonBody } from "@pps/runtime";

export const circuitChangeSchema = z.strictObject({ state: z.enum(["open", "closed"]) });

/**
 * POST /v1/channels/{id}/circuit: an operator opens a channel's circuit (it stays open, without probes,
 * until closed here) or closes it (failure count reset).
 */
export function setCircuit(app: Hono<AppEnv>, deps: { state: ChannelState }): void {
  app.post("/v1/channels/:id/circuit", async (c) => {
    const id = knownChannel(deps.state, c.req.param("id"));
    const { state } = await readJsonBody(c, circuitChangeSchema);
    const circuit = await deps.state.forceCircuit(id, state);
    c.get("logger").warn({ channel: id, state }, "circuit set by operator");
    return c.json({ channel: id, circuit: circuitView(circuit) });
  });
}
