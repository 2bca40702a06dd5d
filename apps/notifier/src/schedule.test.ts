import { describe, expect, it } from "vitest";
import {
  attemptOffsetSeconds,
  DEFAULT_SCHEDULE_SECONDS,
  nextAfterFailure,
  parseScheduleList,
  scheduleSchema,
} from "./schedule.ts";

const fixed = (v: number) => () => v;

describe("the retry schedule", () => {
  it("defaults to 11 attempts from 0 s to 24 h", () => {
    expect(DEFAULT_SCHEDULE_SECONDS).toEqual([0, 15, 60, 300, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400]);
    expect(scheduleSchema.safeParse(DEFAULT_SCHEDULE_SECONDS).success).toBe(true);
  });

  it("parses NOTIFY_SCHEDULE_SECONDS and refuses what would hammer or never end", () => {
    expect(parseScheduleList("0,1,2,3")).toEqual({ ok: true, schedule: [0, 1, 2, 3] });
    expect(parseScheduleList(" 0, 15 ,60")).toEqual({ ok: true, schedule: [0, 15, 60] });
    expect(parseScheduleList("0,1,1")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/strictly increasing/),
    });
    expect(parseScheduleList("5,3")).toMatchObject({ ok: false });
    expect(parseScheduleList("0,-1")).toMatchObject({ ok: false });
    expect(parseScheduleList("0,1.5")).toMatchObject({ ok: false });
    expect(parseScheduleList("")).toMatchObject({ ok: false });
    expect(parseScheduleList("0,999999999")).toMatchObject({ ok: false });
    expect(parseScheduleList(Array.from({ length: 31 }, (_, i) => i).join(","))).toMatchObject({ ok: false });
  });

  it("without jitter, attempt k is due exactly at offset k from the series start", () => {
    for (let k = 0; k < DEFAULT_SCHEDULE_SECONDS.length; k++)
      expect(attemptOffsetSeconds(DEFAULT_SCHEDULE_SECONDS, k, 0)).toBe(DEFAULT_SCHEDULE_SECONDS[k]);
  });

  it("jitter moves an attempt by at most ± ratio of the gap since the previous offset", () => {
    const s = [0, 15, 60, 300];
    // random() = 0 → the earliest, 1 → the latest, 0.5 → no jitter.
    expect(attemptOffsetSeconds(s, 1, 0.1, fixed(0))).toBeCloseTo(15 - 1.5);
    expect(attemptOffsetSeconds(s, 1, 0.1, fixed(1))).toBeCloseTo(15 + 1.5);
    expect(attemptOffsetSeconds(s, 2, 0.1, fixed(0.5))).toBe(60);
    expect(attemptOffsetSeconds(s, 3, 0.1, fixed(0))).toBeCloseTo(300 - 24);
    expect(attemptOffsetSeconds([0, 1, 2, 3], 2, 0.1, fixed(1))).toBeCloseTo(2.1);
  });

  it("an immediate first attempt stays immediate, and nothing is ever negative or before its predecessor", () => {
    expect(attemptOffsetSeconds([0, 1], 0, 0.5, fixed(0))).toBe(0);
    expect(attemptOffsetSeconds([0, 1], 0, 0.5, fixed(1))).toBe(0);
    const s = [0, 1, 2, 3, 10, 11, 100];
    for (let trial = 0; trial < 300; trial++) {
      const ratio = Math.random() * 0.7; // values beyond 0.5 are clamped
      const offsets = s.map((_, k) => attemptOffsetSeconds(s, k, ratio));
      offsets.forEach((o, k) => {
        expect(o).toBeGreaterThanOrEqual(0);
        if (k > 0) expect(o).toBeGreaterThanOrEqual(s[k - 1]!); // never before the previous slot
        expect(Math.abs(o - s[k]!)).toBeLessThanOrEqual(0.5 * (s[k]! - (k ? s[k - 1]! : 0)) + 1e-9);
      });
    }
  });

  it("after a failure: the next offset while attempts remain, nothing after the last", () => {
    const s = [0, 1, 2, 3];
    expect(nextAfterFailure(s, 1, 0)).toEqual({ retry: true, offsetSeconds: 1 });
    expect(nextAfterFailure(s, 3, 0)).toEqual({ retry: true, offsetSeconds: 3 });
    expect(nextAfterFailure(s, 4, 0)).toEqual({ retry: false });
    expect(nextAfterFailure(s, 9, 0)).toEqual({ retry: false }); // a shortened merchant schedule
    expect(() => attemptOffsetSeconds(s, 4, 0)).toThrow(RangeError);
  });
});
