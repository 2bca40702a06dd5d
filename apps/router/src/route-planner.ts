import type { PaymentSnapshot } from "@pps/messaging";
import type { ChannelState } from "./channel-state.ts";
import { type Candidate, rankChannels, type RoutingInput } from "./ranking.ts";

export type Plan = { candidates: Candidate[]; winner: Candidate | null };

export function routingInputOf(p: PaymentSnapshot): RoutingInput {
  return {
    product: p.product,
    amount: p.amount,
    currency: p.currency,
    bankCode: p.method.bankCode,
    wallet: p.method.wallet,
    // Absent on snapshots from before manual capture: those were all captured at once.
    captureMethod: p.captureMethod ?? "automatic",
  };
}

/**
 * Ranks the channels from the in-memory state (operator limits and fixed fees converted to the payment's
 * currency, see `limitsIn`) and picks the first usable one. A channel whose circuit
 * allows a half-open probe is used only if this call wins the probe slot (a database round trip, but only
 * then); otherwise it is skipped as `circuit_probe_in_flight`.
 */
export class RoutePlanner {
  constructor(private readonly state: ChannelState) {}

  async plan(input: RoutingInput, tried: readonly string[] = []): Promise<Plan> {
    const candidates = rankChannels(input, this.state.views(), Date.now(), this.state.circuitConfig, tried);
    let winner: Candidate | null = null;
    for (const c of candidates) {
      if (c.rank === null) break;
      if (!c.needsProbe || (await this.state.claimProbe(c.channel))) {
        winner = c;
        break;
      }
      c.excludedReason = "circuit_probe_in_flight";
      c.rank = null;
      c.needsProbe = false;
    }
    // Keep ranks dense after any lost probe.
    let rank = 1;
    for (const c of candidates) if (c.rank !== null) c.rank = rank++;
    return { candidates, winner };
  }
}
