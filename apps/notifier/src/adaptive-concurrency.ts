import type { DeliveryResult } from "./http-delivery.ts";

/**
 * What one attempt says about the destination's capacity. `overload`: it timed out, dropped or refused the
 * connection, or answered 5xx, 408 or 429; `fast`: a 2xx close to the fastest answers seen; `slow`: a 2xx
 * well above them (queueing at the merchant: do not push harder); `neutral`: nothing about capacity (a 4xx
 * the merchant meant, a destination we refused).
 */
export type CapacitySignal = "fast" | "slow" | "overload" | "neutral";

export type AdaptiveLimitOptions = {
  /** Never below this (at least one delivery in flight, or the endpoint could never show it recovered). */
  floor: number;
  /** Where a destination starts. */
  initial: number;
  /** The merchant's ceiling (its `max_concurrency` or the default); updated from every claim. */
  ceiling: number;
};

const OVERLOAD_ERRORS = new Set(["timeout", "connection_refused", "connection_reset", "connection_error"]);

/** Reads an attempt as a capacity signal, relative to the fastest recent answer (`baselineMs`). */
export function capacitySignal(result: DeliveryResult, baselineMs: number | null): CapacitySignal {
  if (result.outcome === "refused") return "neutral";
  if (result.outcome === "failed") {
    const s = result.statusCode;
    if (s !== null) return s >= 500 || s === 429 || s === 408 ? "overload" : "neutral";
    return OVERLOAD_ERRORS.has(result.error ?? "") ? "overload" : "neutral";
  }
  if (baselineMs === null) return "fast";
  // Generous, because our own event loop and a shared CPU add noise to every latency we measure.
  return result.latencyMs <= Math.max(4 * baselineMs, baselineMs + 200) ? "fast" : "slow";
}

/**
 * One destination's concurrency window, AIMD as in TCP: it starts at `initial`, doubles per round of fast
 * answers until the first overload (slow start), then grows by about one per window of fast answers, and
 * halves on an overload. Only attempts started after the last decrease can decrease it again: the failures
 * of one burst (sent under the old window) count once, so a hanging endpoint goes from its window to the
 * floor in a few timeouts, not instantly to nothing nor never.
 */
export class AdaptiveLimit {
  private window: number;
  private slowStart = true;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  private fastestMs: number | null = null;

  constructor(private opts: AdaptiveLimitOptions) {
    this.window = Math.max(opts.floor, Math.min(opts.initial, opts.ceiling));
  }

  /** Deliveries this destination may have in flight now. */
  get limit(): number {
    return Math.max(this.opts.floor, Math.min(this.opts.ceiling, Math.floor(this.window)));
  }

  /** The fastest recent answer, drifting up slowly so a destination that got slower for good is re-learnt. */
  get baselineMs(): number | null {
    return this.fastestMs;
  }

  setCeiling(ceiling: number): void {
    this.opts = { ...this.opts, ceiling };
    this.window = Math.min(this.window, Math.max(this.opts.floor, ceiling));
  }

  /** Feeds one finished attempt that started at `startedAt` (ms, same clock as every call). */
  observe(result: DeliveryResult, startedAt: number): CapacitySignal {
    const signal = capacitySignal(result, this.fastestMs);
    if (result.outcome === "delivered")
      this.fastestMs =
        this.fastestMs === null
          ? result.latencyMs
          : Math.min(result.latencyMs, this.fastestMs + (result.latencyMs - this.fastestMs) * 0.01);
    if (signal === "fast") {
      this.window = this.slowStart ? this.window + 1 : this.window + 1 / Math.max(1, this.window);
      // Growing far beyond the ceiling would only delay the next decrease.
      this.window = Math.min(this.window, this.opts.ceiling + 1);
    } else if (signal === "overload" && startedAt > this.lastDecreaseAt) {
      this.slowStart = false;
      this.window = Math.max(this.opts.floor, Math.min(this.limit, this.window) / 2);
      this.lastDecreaseAt = Date.now();
    }
    return signal;
  }
}
