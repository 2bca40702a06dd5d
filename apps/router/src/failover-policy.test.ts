import { describe, expect, it } from "vitest";
import type { ChannelOutcome } from "@pps/channels";
import { callHealth, MAX_ATTEMPTS, nextStep } from "./failover-policy.ts";

const unavailable: ChannelOutcome = {
  status: "failed",
  channelTxnId: null,
  code: "channel_unavailable",
  message: "503 busy",
};
const declined: ChannelOutcome = {
  status: "failed",
  channelTxnId: "T1",
  code: "insufficient_funds",
  message: "no money",
};
const unknown: ChannelOutcome = { status: "unknown", reason: "timeout after 1000 ms" };
const succeeded: ChannelOutcome = {
  status: "succeeded",
  channelTxnId: "T2",
  amount: 10_000,
  currency: "CNY",
  settlement: null,
};
const authorized: ChannelOutcome = {
  status: "authorized",
  channelTxnId: "T4",
  amount: 10_000,
  currency: "CNY",
  expiresAt: "2030-01-08T00:00:00.000Z",
};
const pending: ChannelOutcome = { status: "pending", channelTxnId: "T3" };

describe("failover policy", () => {
  it("fails over only when the channel was unavailable and another candidate exists", () => {
    expect(nextStep(unavailable, 1, true)).toEqual({ kind: "failover" });
    expect(nextStep(unavailable, 1, false)).toEqual({ kind: "publish", willRetry: false });
    expect(nextStep(unavailable, MAX_ATTEMPTS, true)).toEqual({ kind: "publish", willRetry: false });
  });

  it("never fails over on a decline: the payer's answer stands", () => {
    expect(nextStep(declined, 1, true)).toEqual({ kind: "publish", willRetry: false });
    for (const code of [
      "card_declined",
      "insufficient_funds",
      "payer_canceled",
      "amount_limit_exceeded",
      "channel_rejected",
    ]) {
      expect(nextStep({ ...declined, code }, 1, true).kind).toBe("publish");
    }
  });

  it("never fails over on unknown: the channel may have the money, so it is resolved by query", () => {
    expect(nextStep(unknown, 1, true)).toEqual({ kind: "resolve" });
    expect(nextStep(unknown, 1, false)).toEqual({ kind: "resolve" });
  });

  it("publishes success, authorization and pending as they are", () => {
    expect(nextStep(succeeded, 1, true)).toEqual({ kind: "publish", willRetry: false });
    // Held at the channel: as final as a success, never tried elsewhere.
    expect(nextStep(authorized, 1, true)).toEqual({ kind: "publish", willRetry: false });
    expect(nextStep(pending, 1, true)).toEqual({ kind: "publish", willRetry: false });
  });

  it("feeds the circuit breaker technical failures only", () => {
    expect(callHealth(unavailable)).toBe("technical_failure");
    expect(callHealth(unknown)).toBe("technical_failure");
    expect(callHealth(declined)).toBe("healthy");
    expect(callHealth(succeeded)).toBe("healthy");
    expect(callHealth(authorized)).toBe("healthy");
  });
});
