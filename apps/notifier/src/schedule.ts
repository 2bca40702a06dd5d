import { z } from "zod";

/**
 * The default retry schedule: offsets in seconds from the start of a series (the notification's creation,
 * or a resend) at which attempt 1, 2, … go out. 11 attempts over a day; the last at 24 h.
 */
export const DEFAULT_SCHEDULE_SECONDS: readonly number[] = [
  0, 15, 60, 300, 900, 1800, 3600, 7200, 21_600, 43_200, 86_400,
];

/** A schedule longer than this is an operator mistake, not a policy. */
export const MAX_SCHEDULE_LENGTH = 30;
/** No attempt later than a week after its series started. */
export const MAX_SCHEDULE_OFFSET_SECONDS = 7 * 86_400;

/**
 * A valid schedule: 1..30 integer offsets in seconds, strictly increasing (two attempts at the same offset
 * would hammer the merchant), none beyond a week.
 */
export const scheduleSchema = z
  .array(z.int().min(0).max(MAX_SCHEDULE_OFFSET_SECONDS))
  .min(1)
  .max(MAX_SCHEDULE_LENGTH)
  .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), "offsets must be strictly increasing");

/** Parses NOTIFY_SCHEDULE_SECONDS ("0,15,60,…"); returns an error message instead of throwing. */
export function parseScheduleList(text: string): { ok: true; schedule: number[] } | { ok: false; message: string } {
  const parts = text.split(",").map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p)))
    return { ok: false, message: "must be comma-separated whole seconds, e.g. 0,15,60" };
  const parsed = scheduleSchema.safeParse(parts.map(Number));
  if (!parsed.success) return { ok: false, message: parsed.error.issues[0]?.message ?? "invalid schedule" };
  return { ok: true, schedule: parsed.data };
}

/**
 * When attempt `index` (0-based within its series) is due, in seconds after the series started.
 *
 * Jitter spreads retries so that many notifications that failed together (a merchant outage) do not come
 * back at the same instant. It moves an attempt by up to ±ratio of the gap since the previous scheduled
 * offset (the first attempt's gap is its own offset, so an immediate first attempt stays immediate). With
 * ratio ≤ 0.5 an attempt therefore never moves before its predecessor's slot, never before the series start
 * (never negative), and the jitter stays proportional: ±0.1 s for a 1 s step, ±2.4 h for the 24 h step.
 */
export function attemptOffsetSeconds(
  schedule: readonly number[],
  index: number,
  jitterRatio: number,
  random: () => number = Math.random,
): number {
  const offset = schedule[index];
  if (offset === undefined) throw new RangeError(`attempt ${index} is beyond a schedule of ${schedule.length}`);
  const gap = offset - (index === 0 ? 0 : schedule[index - 1]!);
  const ratio = Math.min(Math.max(jitterRatio, 0), 0.5);
  const jitter = (random() * 2 - 1) * ratio * gap;
  return Math.max(0, offset + jitter);
}

/** What happens after a failed attempt: the next one's offset, or nothing left (the notification goes dead). */
export function nextAfterFailure(
  schedule: readonly number[],
  attemptsInSeries: number,
  jitterRatio: number,
  random: () => number = Math.random,
): { retry: true; offsetSeconds: number } | { retry: false } {
  if (attemptsInSeries >= schedule.length) return { retry: false };
  return { retry: true, offsetSeconds: attemptOffsetSeconds(schedule, attemptsInSeries, jitterRatio, random) };
}
