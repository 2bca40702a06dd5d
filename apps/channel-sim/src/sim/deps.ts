import type { ChannelId } from "@pps/channels";
import type { Database } from "@pps/db";
import type { Logger } from "@pps/logger";
import type { ChannelProtocol } from "../channels/protocol.ts";
import type { ChargeWriter } from "./charge-writer.ts";
import type { FaultStore } from "./faults.ts";

export type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
/**
 * The raw postgres.js client, for the set-based statements of the hot paths. Drizzle replaces its
 * timestamp (and timestamp array) serializers with pass-throughs, so arrays of timestamps are sent as ISO
 * text (`::text[]::timestamptz[]`).
 */
export type Sql = Database["$client"];

export type SimConfig = {
  /** Base for payer-facing URLs; null = the request's own origin. */
  publicUrl: string | null;
  timeoutHoldMs: number;
  autoPayerDelayMs: number;
  callbackPollMs: number;
  callbackMaxAttempts: number;
  callbackRetryBaseMs: number;
  callbackTimeoutMs: number;
  /** How long after it was accepted an async channel's operation (a refund) completes by itself [300 ms]. */
  operationCompleteDelayMs?: number;
};

export const DEFAULT_OPERATION_COMPLETE_DELAY_MS = 300;

/** What the simulator's handlers and loops share. */
export type SimDeps = {
  db: Database;
  logger: Logger;
  faults: FaultStore;
  /** Creates the charges of pay requests, concurrent ones in one statement. */
  charges: ChargeWriter;
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
