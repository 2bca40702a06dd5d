import { signBodyForMerchant } from "@pps/signing";
import { createMiddleware } from "hono/factory";
import type { PaymentApiEnv } from "./auth.ts";

/**
 * Signs every response to an authenticated merchant call, so the merchant (the SDK) can tell the answer
 * came from us unchanged: X-Timestamp and X-Signature (HMAC-SHA256 over `timestamp.body` with the
 * merchant's secret key), plus X-Signature-Legacy in the merchant's MD5 or RSA scheme (RSA with our
 * platform private key, published at /v1/platform-key). Notifications are signed the same way.
 */
export function signResponses({ platformPrivateKey }: { platformPrivateKey: string }) {
  return createMiddleware<PaymentApiEnv>(async (c, next) => {
    await next();
    const merchant = c.get("merchant");
    if (!merchant) return;
    // The response is replaced below, so its body is read as it is (a clone would tee the stream).
    const body = await c.res.text();
    const headers = new Headers(c.res.headers);
    const signed = signBodyForMerchant({
      scheme: merchant.signScheme,
      secretKey: merchant.secretKey,
      platformPrivateKey,
      body,
      timestamp: String(Math.floor(Date.now() / 1000)),
    });
    for (const [k, v] of Object.entries(signed)) headers.set(k, v);
    c.res = new Response(body, { status: c.res.status, headers });
  });
}
