import { SIGN_SCHEMES, type SignScheme } from "@pps/signing";
import { z } from "zod";

/** What payment-api's internal endpoint answers. The secret key is never logged. */
const signingResponseSchema = z.object({
  merchant_id: z.string(),
  status: z.string(),
  sign_scheme: z.enum(SIGN_SCHEMES),
  secret_key: z.string().min(1),
});

const errorCodeSchema = z.object({ error: z.object({ code: z.string() }) });

export type MerchantSigning = { merchantId: string; status: string; scheme: SignScheme; secretKey: string };

export type SigningLookup =
  | { ok: true; signing: MerchantSigning }
  | { ok: false; reason: "unknown_merchant" | "unavailable"; detail: string };

export type MerchantSigningOptions = {
  paymentApiUrl: string;
  internalToken: string;
  /** How long a merchant's scheme and key are reused before asking again (a rotated key applies after this). */
  ttlMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
};

/**
 * Reads merchants' signing scheme and secret key from payment-api (the owner of merchants), cached in memory
 * for a minute so a burst of notifications costs one call per merchant. Concurrent misses share one call.
 */
export class MerchantSigningClient {
  private readonly cache = new Map<string, { signing: MerchantSigning; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<SigningLookup>>();
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: MerchantSigningOptions) {
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  async get(merchantId: string): Promise<SigningLookup> {
    const hit = this.cache.get(merchantId);
    if (hit && hit.expiresAt > Date.now()) return { ok: true, signing: hit.signing };
    let call = this.pending.get(merchantId);
    if (!call) {
      call = this.load(merchantId).finally(() => this.pending.delete(merchantId));
      this.pending.set(merchantId, call);
    }
    return call;
  }

  private async load(merchantId: string): Promise<SigningLookup> {
    const url = `${this.opts.paymentApiUrl}/internal/v1/merchants/${encodeURIComponent(merchantId)}/signing`;
    let res: Response;
    try {
      res = await this.fetch(url, {
        headers: { authorization: `Bearer ${this.opts.internalToken}` },
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 3_000),
      });
    } catch (err) {
      return { ok: false, reason: "unavailable", detail: `payment-api unreachable: ${(err as Error).name}` };
    }
    if (!res.ok) {
      // payment-api refuses an unknown merchant with the error code `merchant.unknown` (a 401 there).
      const code = errorCodeSchema.safeParse(await res.json().catch(() => null)).data?.error.code;
      if (code === "merchant.unknown" || res.status === 404)
        return { ok: false, reason: "unknown_merchant", detail: "payment-api does not know this merchant" };
      return {
        ok: false,
        reason: "unavailable",
        detail: `payment-api answered ${res.status}${code ? ` ${code}` : ""}`,
      };
    }
    const parsed = signingResponseSchema.safeParse(await res.json().catch(() => null));
    if (!parsed.success || parsed.data.merchant_id !== merchantId)
      return { ok: false, reason: "unavailable", detail: "payment-api answered an unexpected body" };
    const signing: MerchantSigning = {
      merchantId,
      status: parsed.data.status,
      scheme: parsed.data.sign_scheme,
      secretKey: parsed.data.secret_key,
    };
    this.cache.set(merchantId, { signing, expiresAt: Date.now() + (this.opts.ttlMs ?? 60_000) });
    return { ok: true, signing };
  }
}
