import { createHash, randomInt, timingSafeEqual } from "node:crypto";

/** Six-digit codes from a CSPRNG; only a salted hash is stored. */
export function newOtp(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, "0");
}

export function hashOtp(paymentId: string, code: string): string {
  return createHash("sha256").update(`${paymentId}:${code}`).digest("hex");
}

export function otpMatches(paymentId: string, code: string, storedHash: string): boolean {
  const a = Buffer.from(hashOtp(paymentId, code), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

export function maskPhone(phone: string): string {
  return phone.length <= 4 ? "****" : `${phone.slice(0, 3)}****${phone.slice(-4)}`;
}
