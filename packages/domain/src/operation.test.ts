import { describe, expect, it } from "vitest";
import { newId } from "./ids.ts";
import { attemptIdOf, operationStateMachine, parseAttemptId } from "./operation.ts";
import { paymentStateMachine } from "./payment.ts";
import { isSettled, settlementCutoff, settlementDay } from "./settlement-calendar.ts";

describe("the settlement calendar (23:00 Beijing cut-off)", () => {
  it("puts a transaction before the cut-off on its own day and one after it on the next", () => {
    expect(settlementDay(new Date("2026-12-01T14:59:59Z"))).toBe("2026-12-01"); // 22:59:59 Beijing
    expect(settlementDay(new Date("2026-12-01T15:00:00Z"))).toBe("2026-12-02"); // 23:00 Beijing
    expect(settlementDay(new Date("2026-11-30T16:30:00Z"))).toBe("2026-12-01"); // 00:30 Beijing, Dec 1
  });

  it("settles a day when its cut-off passes", () => {
    const paid = new Date("2026-12-01T02:00:00Z"); // 10:00 Beijing
    expect(settlementCutoff(paid).toISOString()).toBe("2026-12-01T15:00:00.000Z");
    expect(isSettled(paid, new Date("2026-12-01T14:59:59Z"))).toBe(false);
    expect(isSettled(paid, new Date("2026-12-01T15:00:00Z"))).toBe(true);
  });

  it("honours another cut-off", () => {
    // 18:00 Beijing cut-off: 18:30 Beijing belongs to the next day.
    expect(settlementDay(new Date("2026-12-01T10:30:00Z"), 18 * 60)).toBe("2026-12-02");
    expect(settlementDay(new Date("2026-12-01T09:59:00Z"), 18 * 60)).toBe("2026-12-01");
  });
});

describe("attempt ids", () => {
  it("name their payment and number, and parse back", () => {
    const paymentId = newId("pay");
    const id = attemptIdOf(paymentId, 2);
    expect(id).toMatch(/^at2_[0-9A-Z]{26}$/);
    expect(id.length).toBeLessThanOrEqual(32);
    expect(parseAttemptId(id)).toEqual({ paymentId, attemptNo: 2 });
    expect(parseAttemptId("att_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX")).toBeNull();
    expect(parseAttemptId("at0_01JDW6W3W9Q4T1H3ZB0Y4KQ8MX")).toBeNull();
  });
});

describe("state machines", () => {
  it("let a late success out of failed and expired, and nothing out of canceled", () => {
    expect(paymentStateMachine.canTransition("failed", "succeeded")).toBe(true);
    expect(paymentStateMachine.canTransition("expired", "requires_capture")).toBe(true);
    expect(paymentStateMachine.canTransition("canceled", "succeeded")).toBe(false);
    expect(paymentStateMachine.canTransition("requires_capture", "succeeded")).toBe(true);
    expect(paymentStateMachine.canTransition("succeeded", "canceled")).toBe(true);
    expect(paymentStateMachine.canTransition("succeeded", "failed")).toBe(false);
  });

  it("end an operation once, except that a late success beats a failure", () => {
    expect(operationStateMachine.sourcesOf("succeeded").sort()).toEqual(["failed", "pending", "requires_review"]);
    expect(operationStateMachine.canTransition("succeeded", "failed")).toBe(false);
    expect(operationStateMachine.terminal.has("succeeded")).toBe(true);
  });
});
