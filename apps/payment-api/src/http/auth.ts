import type { Context } from "hono";
import { AppError } from "@pps/domain";
import { isSignScheme, requestSigningPayload, verify } from "@pps/signing";
import type { AppEnv } from "@pps/runtime";
import type { Merchant, MerchantDirectory } from "../payments/merchants.ts";

export type MerchantAuth = { merchant: Merchant; nonce: string | null };
export type PaymentApiEnv = { Variables: AppEnv["Variables"] & { rawBody: string; body: unknown; merchant?: Merchant } };

const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

export type AuthOptions = {
  merchants: MerchantDirectory;
  windowSeconds: number;
  /** Mutating calls need a nonce (recorded to refuse replays); reads are covered by the timestamp window. */
  requireNonce: boolean;
  now?: (() => number) | undefined;
};

/**
 * Authenticates a merchant request: X-Merchant-Id, X-Timestamp (unix seconds), X-Nonce, X-Signature
 * (and optionally X-Sign-Type, which must match the merchant's configured scheme). The nonce is only
 * checked for format here; it is recorded in the same transaction as the request's effect.
 */
export async function merchantAuthenticate(c: Context<PaymentApiEnv>, { merchants, windowSeconds, requireNonce, now = () => Date.now() }: AuthOptions): Promise<MerchantAuth> {
  const merchantId = c.req.header("x-merchant-id");
  const timestamp = c.req.header("x-timestamp");
  const nonce = c.req.header("x-nonce") ?? null;
  const signature = c.req.header("x-signature");
  const signType = c.req.header("x-sign-type");
  if (!merchantId || !timestamp || !signature || (requireNonce && !nonce)) {
    throw new AppError("auth.signature_missing", `X-Merchant-Id, X-Timestamp, ${requireNonce ? "X-Nonce " : ""}and X-Signature headers are required`);
  }
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(now() / 1000 - Number(timestamp)) > windowSeconds) {
    throw new AppError("auth.timestamp_out_of_window", `X-Timestamp must be unix seconds within ${windowSeconds} s of our clock`);
  }
  if (nonce !== null && !NONCE.test(nonce)) {
    throw new AppError("auth.signature_invalid", "X-Nonce must be 16 to 64 characters of [A-Za-z0-9_-]");
  }
  const merchant = await merchants.get(merchantId);
  if (!merchant) throw new AppError("merchant.unknown", "unknown merchant");
  if (signType && (!isSignScheme(signType) || signType !== merchant.signScheme)) {
    throw new AppError("auth.signature_invalid", "X-Sign-Type does not match the merchant's signing scheme");
  }
  const body = c.get("body");
  const params: Record<string, unknown> = { ...c.req.query(), ...(body && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : {}) };
  const payload = requestSigningPayload({ method: c.req.method, path: c.req.path, merchantId, timestamp, nonce, params });
  const key = merchant.signScheme === "RSA_SHA256" ? (merchant.publicKey ?? "") : merchant.secretKey;
  if (!verify(merchant.signScheme, payload, signature, key)) {
    throw new AppError("auth.signature_invalid", "signature does not match");
  }
  c.set("merchant", merchant);
  return { merchant, nonce };
}
