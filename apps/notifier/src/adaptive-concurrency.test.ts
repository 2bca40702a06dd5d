import { describe, expect, it } from "vitest";
import { AdaptiveLimit, capacitySignal } from "./adaptive-concurrency.ts";
import { type DeliveryResult, parseRetryAfter } from "./http-delivery.ts";

const ok = (latencyMs = 20): DeliveryResult => ({
  outcome: "delivered",
  statusCode: 200,
  latencyMs,
  responseBody: "ok",
  error: null,
  errorDetail: null,
});
const status = (statusCode: number): DeliveryResult => ({
  outcome: "failed",
  statusCode,
  latencyMs: 20,
  responseBody: "",
  error: "unexpected_status",
  errorDetail: `HTTP ${statusCode}`,
});
const timeout: DeliveryResult = {
  outcome: "failed",
  statusCode: null,
  latencyMs: 2_000,
  responseBody: null,
  error: "timeout",
  errorDetail: "no response",
};

describe("capacity signals", () => {
  it("reads overload from timeouts, dropped connections, 5xx, 408 and 429; a 4xx the merchant meant says nothing", () => {
    expect(capacitySignal(timeout, 20)).toBe("overload");
    expect(capacitySignal({ ...timeout, error: "connection_reset" }, 20)).toBe("overload");
    for (const s of [500, 502, 503, 408, 429]) expect(capacitySignal(status(s), 20)).toBe("overload");
    for (const s of [301, 400, 401, 404]) expect(capacitySignal(status(s), 20)).toBe("neutral");
    expect(capacitySignal({ ...timeout, outcome: "refused", error: "destination_not_allowed" }, 20)).toBe("neutral");
    expect(capacitySignal({ ...timeout, error: "dns_failed" }, 20)).toBe("neutral");
  });

  it("calls a 2xx slow when it is far above the fastest answers seen", () => {
    expect(capacitySignal(ok(30), 20)).toBe("fast");
    expect(capacitySignal(ok(215), 20)).toBe("fast");
    expect(capacitySignal(ok(400), 20)).toBe("slow");
    expect(capacitySignal(ok(400), null)).toBe("fast");
  });
});

describe("the adaptive window", () => {
  it("doubles per round of fast answers up to the ceiling, then halves once per burst of overloads down to the floor", () => {
    const limit = new AdaptiveLimit({ floor: 1, initial: 2, ceiling: 32 });
    expect(limit.limit).toBe(2);
    let t = 0;
    const round = (result: DeliveryResult) => {
      const n = limit.limit;
      const started = ++t;
      for (let i = 0; i < n; i++) limit.observe(result, started);
    };
    round(ok());
    expect(limit.limit).toBe(4);
    round(ok());
    expect(limit.limit).toBe(8);
    for (let i = 0; i < 5; i++) round(ok());
    expect(limit.limit).toBe(32);

    // Every attempt of one burst failed: the window halves once, not once per failure.
    const burstStart = Date.now() - 1;
    for (let i = 0; i < 32; i++) limit.observe(timeout, burstStart);
    expect(limit.limit).toBe(16);
    // Attempts started after that decrease may decrease it again.
    limit.observe(timeout, Date.now() + 1);
    expect(limit.limit).toBe(8);
    for (let i = 0; i < 10; i++) limit.observe(status(503), Date.now() + 10 + i);
    expect(limit.limit).toBe(1);

    // After an overload it grows by about one per window of fast answers (congestion avoidance).
    for (let i = 0; i < 3; i++) limit.observe(ok(), Date.now());
    expect(limit.limit).toBe(2);
  });

  it("holds on slow answers and on answers that say nothing about capacity", () => {
    const limit = new AdaptiveLimit({ floor: 1, initial: 4, ceiling: 64 });
    limit.observe(ok(10), 0);
    expect(limit.limit).toBe(5);
    for (let i = 0; i < 10; i++) limit.observe(ok(2_000), 0);
    for (let i = 0; i < 10; i++) limit.observe(status(404), Date.now() + 1);
    expect(limit.limit).toBe(5);
  });

  it("never exceeds a lowered ceiling and starts within it", () => {
    const limit = new AdaptiveLimit({ floor: 1, initial: 8, ceiling: 3 });
    expect(limit.limit).toBe(3);
    for (let i = 0; i < 20; i++) limit.observe(ok(), 0);
    expect(limit.limit).toBe(3);
    limit.setCeiling(2);
    expect(limit.limit).toBe(2);
    limit.setCeiling(10);
    for (let i = 0; i < 3; i++) limit.observe(ok(), 0);
    expect(limit.limit).toBeGreaterThan(2);
  });
});

describe("Retry-After", () => {
  it("reads delay-seconds and HTTP dates; ignores anything else", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter("-5", now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
