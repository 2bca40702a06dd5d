import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { ResolvedAddress } from "./destination-guard.ts";
import { pinnedLookup } from "./pinned-lookup.ts";

export type DestinationAgentsOptions = {
  /** An idle kept-alive connection is closed after this long: below the 5 s most servers keep one open. */
  idleSocketMs?: number;
  /** An agent unused this long is destroyed (its destination went quiet or its addresses changed). */
  idleAgentMs?: number;
  /** Idle connections kept per destination. */
  maxFreeSockets?: number;
};

type Entry = { agent: HttpAgent; lastUsed: number };

/**
 * Keep-alive connection pools, one per destination and set of approved addresses. Every connection of a pool
 * was opened through the pinned lookup of exactly those addresses, so a reused connection never reaches an
 * address the guard did not approve; when DNS answers differently the key changes and a new pool connects
 * to the new (checked) addresses, while the old one idles out.
 */
export class DestinationAgents {
  private readonly agents = new Map<string, Entry>();
  private lastSweep = Date.now();
  private readonly idleSocketMs: number;
  private readonly idleAgentMs: number;
  private readonly maxFreeSockets: number;

  constructor({ idleSocketMs = 4_000, idleAgentMs = 60_000, maxFreeSockets = 256 }: DestinationAgentsOptions = {}) {
    this.idleSocketMs = idleSocketMs;
    this.idleAgentMs = idleAgentMs;
    this.maxFreeSockets = maxFreeSockets;
  }

  get(url: URL, addresses: ResolvedAddress[]): HttpAgent {
    const now = Date.now();
    if (now - this.lastSweep > 10_000) this.sweep(now);
    const pinned = addresses.map((a) => `${a.family}/${a.address}`).sort();
    const key = `${url.protocol}//${url.host} ${pinned.join(",")}`;
    let entry = this.agents.get(key);
    if (!entry) {
      const options = {
        keepAlive: true,
        // lifo: the busiest connections stay warm; the surplus of a burst idles out.
        scheduling: "lifo" as const,
        maxFreeSockets: this.maxFreeSockets,
        timeout: this.idleSocketMs,
        lookup: pinnedLookup(addresses),
      };
      entry = { agent: url.protocol === "https:" ? new HttpsAgent(options) : new HttpAgent(options), lastUsed: now };
      this.agents.set(key, entry);
    }
    entry.lastUsed = now;
    return entry.agent;
  }

  get size(): number {
    return this.agents.size;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, entry] of this.agents)
      if (now - entry.lastUsed > this.idleAgentMs) {
        entry.agent.destroy();
        this.agents.delete(key);
      }
  }

  destroy(): void {
    for (const entry of this.agents.values()) entry.agent.destroy();
    this.agents.clear();
  }
}
