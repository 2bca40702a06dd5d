/**
 * Wire time formats. The Chinese channels write local time in China (UTC+8, no DST) without an offset;
 * integer arithmetic on the epoch keeps this independent of the host's time zone.
 */
const CHINA_OFFSET_MS = 8 * 3_600_000;

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function chinaParts(d: Date) {
  const c = new Date(d.getTime() + CHINA_OFFSET_MS);
  return {
    y: pad(c.getUTCFullYear(), 4),
    mo: pad(c.getUTCMonth() + 1),
    d: pad(c.getUTCDate()),
    h: pad(c.getUTCHours()),
    mi: pad(c.getUTCMinutes()),
    s: pad(c.getUTCSeconds()),
  };
}

/** yyyyMMddHHmmss in China time (WeChat, UnionPay, the bank). */
export function toChinaCompact(d: Date): string {
  const p = chinaParts(d);
  return `${p.y}${p.mo}${p.d}${p.h}${p.mi}${p.s}`;
}

/** yyyy-MM-dd HH:mm:ss in China time (Alipay). */
export function toChinaDateTime(d: Date): string {
  const p = chinaParts(d);
  return `${p.y}-${p.mo}-${p.d} ${p.h}:${p.mi}:${p.s}`;
}

/** Parses either China-time format back to an instant; null when it is not one. */
export function fromChinaTime(value: string): Date | null {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})[ T]?(\d{2}):?(\d{2}):?(\d{2})$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) - CHINA_OFFSET_MS;
  return Number.isNaN(ms) ? null : new Date(ms);
}
