import { describe, expect, it } from "vitest";
import {
  AppError,
  assertTransition,
  ERROR_CODES,
  httpStatusFor,
  IllegalTransitionError,
  newId,
  paymentStateMachine,
} from "./index.ts";

describe("payment state machine", () => {
  it("allows the happy path and refuses leaving a terminal state", () => {
    const m = paymentStateMachine;
    expect(m.canTransition("risk_review", "processing")).toBe(true);
    expect(m.canTransition("processing", "succeeded")).toBe(true);
    expect(m.canTransition("succeeded", "failed")).toBe(false);
    expect(m.canTransition("failed", "processing")).toBe(false);
    expect(() => assertTransition(m, "expired", "processing")).toThrow(IllegalTransitionError);
    // Only canceled is a dead end: a late success leaves failed and expired, a same-day cancel succeeded.
    expect([...m.terminal].sort()).toEqual(["canceled"]);
    expect(m.canTransition("expired", "succeeded")).toBe(true); // a late confirmed charge is never lost
    expect(m.canTransition("expired", "failed")).toBe(false);
  });

  it("lists the sources of a target state for conditional updates", () => {
    expect(paymentStateMachine.sourcesOf("succeeded").sort()).toEqual([
      "expired",
      "failed",
      "processing",
      "requires_action",
      "requires_capture",
      "requires_review",
    ]);
  });
});

describe("errors", () => {
  it("maps every code to a 4xx or 5xx status", () => {
    for (const code of ERROR_CODES) {
      const status = httpStatusFor(code);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
    expect(new AppError("payment.not_found", "no such payment").status).toBe(404);
  });
});

describe("newId", () => {
  it("is prefixed, fixed-length and ordered by time", () => {
    const a = newId("pay", 1_700_000_000_000);
    const b = newId("pay", 1_700_000_000_001);
    expect(a).toMatch(/^pay_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => newId("x"))).size).toBe(1000);
  });
});
