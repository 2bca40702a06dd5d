import { ERROR_CODES, httpStatusFor } from "@pps/domain";

/** The parts of payment-api's OpenAPI document that are not routes: what it is, how to sign, the error catalogue. */
export const paymentApiDocumentInfo = {
  openapi: "3.1.0",
  info: {
    title: "Payment product service — merchant API",
    version: "1.0.0",
    description: [
      "One API for online banking, platform (wallet) pay, foreign cards and carrier billing.",
      "",
      "**Signing.** Every merchant call carries `X-Merchant-Id`, `X-Timestamp` (unix seconds), `X-Nonce` (mutating calls) and `X-Signature`.",
      "The signature covers the method, the exact path, the exact query string and the SHA-256 of the exact body bytes (format v2);",
      "docs/signing.md in the repository has the exact string, the three schemes (HMAC-SHA256, MD5 legacy, RSA-SHA256) and test vectors. packages/sdk does all of it.",
      "Responses and notifications carry `X-Timestamp` and `X-Signature` over `timestamp.body`.",
      "",
      "**Amounts** are integers of minor units of the currency. **Idempotency:** every mutating call needs an `Idempotency-Key`.",
      "**Errors** always have the shape `{ error: { code, message, requestId, details? } }`; codes are stable and listed under `x-error-codes`.",
    ].join("\n"),
  },
  tags: [
    { name: "Payments", description: "Pay, query and verify." },
    { name: "Events", description: "The event feed of your payments." },
    { name: "Notifications", description: "What we sent to your notify_url, and resends." },
    { name: "Signing", description: "Keys to verify our signatures." },
    { name: "Payer", description: "Pages the payer opens (pay links)." },
    { name: "Channels", description: "Channels' asynchronous results." },
    { name: "Admin", description: "Operators (Bearer ADMIN_TOKEN)." },
    { name: "Internal", description: "Service to service, inside the cluster." },
  ],
} as const;

export const paymentApiSecuritySchemes = {
  MerchantSignature: {
    type: "apiKey",
    in: "header",
    name: "X-Signature",
    description: "With X-Merchant-Id, X-Timestamp and X-Nonce: see docs/signing.md.",
  },
  AdminToken: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN" },
  InternalToken: { type: "http", scheme: "bearer", description: "INTERNAL_TOKEN" },
} as const;

export const errorCatalogue = ERROR_CODES.map((code) => ({ code, status: httpStatusFor(code) }));
