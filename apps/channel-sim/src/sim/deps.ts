import type { ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import type { Logger } from "@pps/logger";
import type { ChannelProtocol } from "../channels/protocol.ts";
import type { FaultStore } from "./faults.ts";

export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

export type SimConfig = {
  /** Base for payer-facing URLs; null = the request's own origin. */
  publicUrl: string | null;
  timeoutHoldMs: number;
  autoPayerDelayMs: number;
  callbackPollMs: number;
  callbackMaxAttempts: number;
  callbackRetryBaseMs: number;
  callbackTimeoutMs: number;
};

/** What the simulator's handlers and loops share. */
export type SimDeps = {
  db: Database;
  logger: Logger;
  faults: FaultStore;
  protocols: ReadonlyMap<ChannelId, ChannelProtocol>;
  config: SimConfig;
  /** Aborted at shutdown: releases answers held back by `timeout` / `latency`. */
  shutdown: AbortSignal;
};

export function protocolOf(deps: SimDeps, channel: string): ChannelProtocol {
  const p = deps.protocols.get(channel as ChannelId);
  if (!p) throw new Error(`no protocol for channel ${channel}`);
  return p;
}
