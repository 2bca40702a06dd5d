import { describe, expect, it } from "vitest";
import {
  NO_RECORD_CODE,
  NOT_FOUND_GIVE_UP_MS,
  nextStuckQuery,
  resolveQuery,
  type ResolvingAttempt,
} from "./resolution-policy.ts";

const T0 = 1_800_000_000_000;
const unknownAttempt: ResolvingAttempt = { status: "unknown", queryCount: 1, createdAt: T0, expiresAt: T0 + 900_000 };

describe("resolving unknown outcomes by query", () => {
  it("publishes the channel's definitive answer and stops querying", () => {
    const r = resolveQuery(
      unknownAttempt,
      { status: "succeeded", channelTxnId: "T1", amount: 10_000, currency: "CNY", settlement: null },
      T0 + 2_000,
    );
    expect(r).toMatchObject({ status: "succeeded", publish: true, nextQueryAt: null });
    const f = resolveQuery(
      unknownAttempt,
      { status: "failed", channelTxnId: null, code: "insufficient_funds", message: "x" },
      T0 + 2_000,
    );
    expect(f).toMatchObject({ status: "failed", publish: true, failure: { code: "insufficient_funds" } });
  });

  it("takes an authorization (manual capture) as final, like a success", () => {
    const r = resolveQuery(
      unknownAttempt,
      { status: "authorized", channelTxnId: "T1", amount: 10_000, currency: "CNY", expiresAt: "2030-01-01T00:00:00Z" },
      T0 + 2_000,
    );
    expect(r).toMatchObject({ status: "authorized", publish: true, nextQueryAt: null, gaveUp: false });
    const watched = resolveQuery(
      { ...unknownAttempt, status: "requires_action" },
      { status: "authorized", channelTxnId: "T1", amount: 10_000, currency: "CNY", expiresAt: "2030-01-01T00:00:00Z" },
      T0 + 60_000,
    );
    expect(watched).toMatchObject({ status: "authorized", publish: true, nextQueryAt: null });
  });

  it("backs off 1 s, 2 s, 5 s, 10 s, 30 s, then every minute while the answer stays unknown", () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map(
      (n) =>
        resolveQuery({ ...unknownAttempt, queryCount: n }, { status: "unknown", reason: "timeout" }, T0).nextQueryAt! -
        T0,
    );
    expect(delays).toEqual([2_000, 5_000, 10_000, 30_000, 60_000, 60_000, 60_000]);
    expect(resolveQuery(unknownAttempt, { status: "unknown", reason: "timeout" }, T0).publish).toBe(false);
  });

  it("an attempt left `sending` by a crash becomes unknown (announced once) and is queried", () => {
    const r = resolveQuery({ ...unknownAttempt, status: "sending" }, { status: "not_found" }, T0 + 15_000);
    expect(r).toMatchObject({ status: "unknown", publish: true, nextQueryAt: T0 + 16_000 });
  });

  it("while the channel has no record, looks again exactly when it may give up, not a backoff step later", () => {
    // Queries at 48 s and 108 s after sending found nothing; the backoff would say 168 s, the limit is 120 s.
    const at108 = resolveQuery({ ...unknownAttempt, queryCount: 6 }, { status: "not_found" }, T0 + 108_000);
    expect(at108).toMatchObject({ status: "unknown", nextQueryAt: T0 + NOT_FOUND_GIVE_UP_MS, gaveUp: false });
    const unknownAnswer = resolveQuery(
      { ...unknownAttempt, queryCount: 6 },
      { status: "unknown", reason: "timeout" },
      T0 + 108_000,
    );
    expect(unknownAnswer.nextQueryAt).toBe(T0 + 168_000);
    const at120 = resolveQuery({ ...unknownAttempt, queryCount: 7 }, { status: "not_found" }, at108.nextQueryAt!);
    expect(at120).toMatchObject({ status: "failed", failure: { code: NO_RECORD_CODE } });
  });

  it("no record at the channel long after sending means it never arrived: failed, not failed over", () => {
    const r = resolveQuery(unknownAttempt, { status: "not_found" }, T0 + NOT_FOUND_GIVE_UP_MS);
    expect(r).toMatchObject({ status: "failed", publish: true, nextQueryAt: null, failure: { code: NO_RECORD_CODE } });
  });
});

describe("watching stuck pending / requires_action attempts", () => {
  const pending: ResolvingAttempt = { status: "pending", queryCount: 1, createdAt: T0, expiresAt: T0 + 600_000 };

  it("keeps querying on a longer schedule without re-announcing the same status", () => {
    const r = resolveQuery(pending, { status: "pending", channelTxnId: "T1" }, T0 + 60_000);
    expect(r).toMatchObject({ status: "pending", publish: false, nextQueryAt: T0 + 180_000 });
  });

  it("announces a change (pending → succeeded)", () => {
    expect(
      resolveQuery(
        pending,
        { status: "succeeded", channelTxnId: "T1", amount: 10_000, currency: "CNY", settlement: null },
        T0 + 60_000,
      ),
    ).toMatchObject({ status: "succeeded", publish: true });
  });

  it("stops at the payment's expiry (one last look at the expiry itself)", () => {
    expect(nextStuckQuery(0, T0, T0 + 900_000)).toBe(T0 + 60_000);
    // A configured schedule (ROUTER_STUCK_QUERY_DELAYS_MS) replaces the default; its last delay repeats.
    expect(nextStuckQuery(0, T0, T0 + 900_000, [3_000, 5_000])).toBe(T0 + 3_000);
    expect(nextStuckQuery(7, T0, T0 + 900_000, [3_000, 5_000])).toBe(T0 + 5_000);
    expect(nextStuckQuery(0, T0, T0 + 5_000)).toBe(T0 + 5_000);
    expect(nextStuckQuery(0, T0 + 5_000, T0 + 5_000)).toBeNull();
    expect(resolveQuery(pending, { status: "pending", channelTxnId: "T1" }, T0 + 600_000).nextQueryAt).toBeNull();
  });
});
