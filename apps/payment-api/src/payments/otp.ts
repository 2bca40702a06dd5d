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

/**
 * Texts a verification code to the payer. Called after the commit that stored the code's hash, so a code is
 * never sent for a change that did not happen; a failed send is logged and the payer can ask for a new code.
 */
export async function sendOtp(
  deps: {
    sms: { send: (phone: string, text: string) => Promise<void> };
    logger: { error: (obj: object, msg: string) => void };
  },
  input: { paymentId: string; phone: string; code: string; ttlSeconds: number },
): Promise<void> {
  const minutes = Math.max(1, Math.round(input.ttlSeconds / 60));
  await deps.sms
    .send(input.phone, `Your payment verification code is ${input.code}. It expires in ${minutes} minutes.`)
    .catch((err: unknown) => {
      deps.logger.error({ err, paymentId: input.paymentId }, "could not send the verification SMS");
    });
}
