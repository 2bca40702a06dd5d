import { ERROR_CODES, httpStatusFor } from "@pps/domain";
import type { Hono } from "hono";
import { z } from "zod";
import type { PaymentApiEnv } from "../http/auth.ts";
import { createPaymentSchema, errorResponseSchema, paymentDetailSchema, paymentResponseSchema, verifyPaymentSchema } from "../http/wire.ts";

const json = (schema: z.ZodType, io: "input" | "output" = "output") => ({ "application/json": { schema: z.toJSONSchema(schema, { io, unrepresentable: "any" }) } });

const signedHeaders = (mutating: boolean) => [
  { name: "X-Merchant-Id", in: "header", required: true, schema: { type: "string" } },
  { name: "X-Timestamp", in: "header", required: true, schema: { type: "string" }, description: "Unix seconds; must be within the signature window." },
  ...(mutating ? [{ name: "X-Nonce", in: "header", required: true, schema: { type: "string", pattern: "^[A-Za-z0-9_-]{16,64}$" }, description: "Never reused." }] : []),
  { name: "X-Signature", in: "header", required: true, schema: { type: "string" }, description: "See the signing section of the description." },
  { name: "X-Sign-Type", in: "header", required: false, schema: { type: "string", enum: ["HMAC_SHA256", "MD5", "RSA_SHA256"] } },
  ...(mutating ? [{ name: "Idempotency-Key", in: "header", required: true, schema: { type: "string", maxLength: 255 } }] : []),
];

const errors = { default: { description: "An error with a stable code (see x-error-codes).", content: json(errorResponseSchema) } };

/** The OpenAPI 3.1 document, built from the same zod schemas that validate requests. */
export function buildOpenApi() {
  return {
    openapi: "3.1.0",
    info: {
      title: "Payment product service — merchant API",
      version: "1.0.0",
      description: [
        "One API for online banking, platform (wallet) pay, foreign cards and carrier billing.",
        "",
        "Signing: build the parameter string from every JSON body field and query parameter plus merchant_id, timestamp, nonce (empty for reads), http_method and http_path; leave out empty values; sort keys by byte order; join `k=v` with `&` (nested values as canonical JSON with sorted keys).",
        "HMAC_SHA256 (default): lowercase hex HMAC-SHA256 of that string with your secret key. MD5 (legacy): uppercase hex MD5 of `string&key=<secret key>`. RSA_SHA256: base64 PKCS#1 v1.5 signature with your private key. packages/sdk does all of this.",
        "Amounts are integers of minor units of the currency. Every mutating call needs an Idempotency-Key: the same key and body return the first response; the same key with another body is refused (409).",
      ].join("\n"),
    },
    paths: {
      "/v1/payments": {
        post: {
          operationId: "createPayment",
          summary: "Create a payment and start paying it",
          parameters: signedHeaders(true),
          requestBody: { required: true, content: json(createPaymentSchema, "input") },
          responses: { "201": { description: "Accepted; the result follows asynchronously (query it, or receive a notification).", content: json(paymentResponseSchema) }, ...errors },
        },
        get: {
          operationId: "getPaymentByOrderNo",
          summary: "Find a payment by your order number",
          parameters: [...signedHeaders(false), { name: "merchant_order_no", in: "query", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "The payment with attempts and timeline", content: json(paymentDetailSchema) }, ...errors },
        },
      },
      "/v1/orders": {
        post: {
          operationId: "createOrder",
          summary: "Create a pre-order and a pay link for the payer",
          parameters: signedHeaders(true),
          requestBody: { required: true, content: json(createPaymentSchema, "input") },
          responses: { "201": { description: "The unpaid order with pay_url", content: json(paymentResponseSchema) }, ...errors },
        },
      },
      "/v1/payments/{id}": {
        get: {
          operationId: "getPayment",
          summary: "Get a payment",
          parameters: [...signedHeaders(false), { name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "The payment with attempts and timeline", content: json(paymentDetailSchema) }, ...errors },
        },
      },
      "/v1/payments/{id}/verify": {
        post: {
          operationId: "verifyPayment",
          summary: "Submit the SMS code for a payment that requires verification",
          parameters: [...signedHeaders(true), { name: "id", in: "path", required: true, schema: { type: "string" } }],
          requestBody: { required: true, content: json(verifyPaymentSchema, "input") },
          responses: { "200": { description: "Verified; the payment goes on", content: json(paymentResponseSchema) }, ...errors },
        },
      },
      "/v1/payments/{id}/verification/resend": {
        post: {
          operationId: "resendVerification",
          summary: "Send a new SMS code for a payment that requires verification (at most OTP_MAX_RESENDS times)",
          parameters: [...signedHeaders(true), { name: "id", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "A new code was sent; the previous one no longer works" }, ...errors },
        },
      },
      "/v1/pay/{token}": {
        get: { operationId: "showPayLink", summary: "Payer-facing page of a pay link", parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "HTML page" }, ...errors } },
        post: {
          operationId: "payPayLink",
          summary: "The payer confirms a pre-order",
          parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" } }],
          responses: { "200": { description: "Submitted for payment", content: json(paymentResponseSchema) }, ...errors },
        },
      },
    },
    "x-error-codes": ERROR_CODES.map((code) => ({ code, status: httpStatusFor(code) })),
  };
}

type Operation = { operationId: string; summary: string; parameters?: { name: string; in: string; required: boolean }[] };

function renderReference(doc: ReturnType<typeof buildOpenApi>): string {
  const esc = (s: string) => s.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c] ?? c);
  const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods as Record<string, Operation>).map(
      ([method, op]) =>
        `<section><h2><code>${method.toUpperCase()} ${esc(path)}</code></h2><p>${esc(op.summary)} <small>(${op.operationId})</small></p>` +
        `<p>Parameters: ${(op.parameters ?? []).map((p) => `<code>${esc(p.name)}</code> (${p.in}${p.required ? ", required" : ""})`).join(", ") || "none"}</p></section>`,
    ),
  );
  const codes = doc["x-error-codes"].map((e) => `<tr><td><code>${e.code}</code></td><td>${e.status}</td></tr>`).join("");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(doc.info.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}section{border-top:1px solid #ddd}pre{white-space:pre-wrap}</style></head>
<body><h1>${esc(doc.info.title)}</h1><pre>${esc(doc.info.description)}</pre><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (schemas for every body).</p>
${ops.join("\n")}<h2>Error codes</h2><table>${codes}</table></body></html>`;
}

export function registerOpenApi(app: Hono<PaymentApiEnv>): void {
  const doc = buildOpenApi();
  const html = renderReference(doc);
  app.get("/openapi.json", (c) => c.json(doc));
  app.get("/docs", (c) => c.html(html));
}
