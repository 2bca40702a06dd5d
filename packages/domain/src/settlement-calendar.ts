/**
 * The channels' settlement calendar. A channel's business day closes at its daily cut-off (23:00 Beijing
 * time by default): a transaction belongs to the settlement day on which it happened if it happened before
 * the cut-off, to the next one otherwise. It is settled once its settlement day has closed, and a same-day
 * cancel (撤销) is possible only until then. Beijing time is UTC+8 all year (no daylight saving).
 */
export const BEIJING_OFFSET_MS = 8 * 3_600_000;
export const DEFAULT_CUTOFF_MINUTES = 23 * 60;

/** The settlement day (YYYY-MM-DD, Beijing) a moment belongs to, for a cut-off in minutes after midnight Beijing time. */
export function settlementDay(at: Date, cutoffMinutes = DEFAULT_CUTOFF_MINUTES): string {
  const shifted = new Date(at.getTime() + BEIJING_OFFSET_MS + (24 * 60 - cutoffMinutes) * 60_000);
  return shifted.toISOString().slice(0, 10);
}

/** When the settlement day of `at` closes (its cut-off), as a moment. */
export function settlementCutoff(at: Date, cutoffMinutes = DEFAULT_CUTOFF_MINUTES): Date {
  const day = settlementDay(at, cutoffMinutes);
  // Midnight Beijing of that day, plus the cut-off.
  return new Date(Date.parse(`${day}T00:00:00Z`) - BEIJING_OFFSET_MS + cutoffMinutes * 60_000);
}

/** Whether a transaction that happened at `at` has been settled by `now`. */
export function isSettled(at: Date, now: Date, cutoffMinutes = DEFAULT_CUTOFF_MINUTES): boolean {
  return now.getTime() >= settlementCutoff(at, cutoffMinutes).getTime();
}
