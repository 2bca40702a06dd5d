import { describe, expect, it } from "vitest";
import {
  nextPendingOperationQuery,
  OPERATION_NO_RECORD_CODE,
  operationUpdateFor,
  resolveOperationQuery,
  type ResolvingOperationCall,
} from "./operation-policy.ts";
import { NOT_FOUND_GIVE_UP_MS, UNKNOWN_GIVE_UP_MS } from "./resolution-policy.ts";

const T0 = 1_800_000_000_000;
const unknownCall: ResolvingOperationCall = { status: "unknown", queryCount: 1, createdAt: T0 };
const pendingCall: ResolvingOperationCall = { status: "pending", queryCount: 1, createdAt: T0 };
const refunded = { status: "succeeded", channelOpId: "R1", amount: 2_500, currency: "CNY" } as const;

describe("an operation call's own answer", () => {
  it("is final when it succeeded or failed, queried soon when unknown, later when pending", () => {
    expect(operationUpdateFor(refunded, T0)).toMatchObject({
      status: "succeeded",
      channelOpId: "R1",
      nextQueryAt: null,
    });
    expect(
      operationUpdateFor({ status: "failed", code: "refund_window_closed", message: "too late" }, T0),
    ).toMatchObject({
      status: "failed",
      failureCode: "refund_window_closed",
      lastError: "too late",
      nextQueryAt: null,
    });
    expect(operationUpdateFor({ status: "unknown", reason: "timeout" }, T0)).toMatchObject({
      status: "unknown",
      lastError: "timeout",
      nextQueryAt: T0 + 1_000,
    });
    expect(operationUpdateFor({ status: "pending", channelOpId: "R2" }, T0)).toMatchObject({
      status: "pending",
      channelOpId: "R2",
      nextQueryAt: T0 + 60_000,
    });
    // A configured stuck schedule (ROUTER_STUCK_QUERY_DELAYS_MS) applies to operations too.
    expect(operationUpdateFor({ status: "pending", channelOpId: null }, T0, [2_000]).nextQueryAt).toBe(T0 + 2_000);
  });
});

describe("resolving an operation by query", () => {
  it("publishes the channel's definitive answer and stops querying", () => {
    expect(resolveOperationQuery(unknownCall, refunded, T0 + 2_000)).toMatchObject({
      status: "succeeded",
      publish: true,
      nextQueryAt: null,
    });
    expect(
      resolveOperationQuery(unknownCall, { status: "failed", code: "invalid_state", message: "x" }, T0 + 2_000),
    ).toMatchObject({ status: "failed", publish: true, failure: { code: "invalid_state" } });
  });

  it("backs off 1 s, 2 s, 5 s, 10 s, 30 s, then every minute while the answer stays unknown, reporting it once", () => {
    const delays = [1, 2, 3, 4, 5, 6].map(
      (n) =>
        resolveOperationQuery({ ...unknownCall, queryCount: n }, { status: "unknown", reason: "timeout" }, T0)
          .nextQueryAt! - T0,
    );
    expect(delays).toEqual([2_000, 5_000, 10_000, 30_000, 60_000, 60_000]);
    expect(resolveOperationQuery(unknownCall, { status: "unknown", reason: "timeout" }, T0).publish).toBe(false);
  });

  it("a call left `sending` by a crash becomes unknown (announced once); no record is not a failure yet", () => {
    const r = resolveOperationQuery({ ...unknownCall, status: "sending" }, { status: "not_found" }, T0 + 15_000);
    expect(r).toMatchObject({ status: "unknown", publish: true, nextQueryAt: T0 + 16_000 });
    expect(resolveOperationQuery(unknownCall, { status: "not_found" }, T0 + NOT_FOUND_GIVE_UP_MS - 1)).toMatchObject({
      status: "unknown",
      publish: false,
    });
  });

  it("no record long after sending means the channel never got it: failed, nothing moved", () => {
    const r = resolveOperationQuery(unknownCall, { status: "not_found" }, T0 + NOT_FOUND_GIVE_UP_MS);
    expect(r).toMatchObject({
      status: "failed",
      publish: true,
      nextQueryAt: null,
      failure: { code: OPERATION_NO_RECORD_CODE },
    });
    expect(OPERATION_NO_RECORD_CODE).toBe("channel_unavailable");
  });

  it("watches a pending operation on the stuck schedule; a failed look or a missing record changes nothing", () => {
    expect(resolveOperationQuery(pendingCall, { status: "pending", channelOpId: "R1" }, T0 + 60_000)).toMatchObject({
      status: "pending",
      publish: false,
      nextQueryAt: T0 + 180_000,
    });
    expect(resolveOperationQuery(pendingCall, { status: "not_found" }, T0 + NOT_FOUND_GIVE_UP_MS * 10)).toMatchObject({
      status: "pending",
      publish: false,
      failure: null,
    });
    expect(resolveOperationQuery(pendingCall, refunded, T0 + 60_000)).toMatchObject({
      status: "succeeded",
      publish: true,
    });
    // unknown → pending is news (the channel has it); it starts the stuck schedule.
    expect(resolveOperationQuery(unknownCall, { status: "pending", channelOpId: "R1" }, T0 + 5_000)).toMatchObject({
      status: "pending",
      publish: true,
      nextQueryAt: T0 + 65_000,
    });
  });

  it("gives up after the window, unknown or pending alike (reconciliation settles it)", () => {
    const late = T0 + UNKNOWN_GIVE_UP_MS;
    expect(resolveOperationQuery(unknownCall, { status: "unknown", reason: "timeout" }, late)).toMatchObject({
      nextQueryAt: null,
      gaveUp: true,
      publish: false,
    });
    expect(resolveOperationQuery(pendingCall, { status: "pending", channelOpId: null }, late)).toMatchObject({
      nextQueryAt: null,
      gaveUp: true,
    });
    // The last look is at the end of the window, not past it.
    expect(nextPendingOperationQuery(3, late - 1_000, T0)).toBe(late);
  });
});
