import { type CreatePaymentBody, createOrder, createPayment } from "@pps/api-contract";
import { AppError, newId, productRule } from "@pps/domain";
import { fromHundredths } from "@pps/money";
import { canAuthorize } from "../payments/operation-rules.ts";
import type { MiddlewareHandler } from "hono";
import type { PaymentApiEnv } from "../http/auth.ts";
import { type ApiDeps, type Ctx, type PaymentApiApp, signedCall } from "../http/context.ts";
import { requestHash } from "../http/idempotency.ts";
import type { Merchant } from "../payments/merchants.ts";
import { type Acceptor, createAcceptor } from "../payments/accept-batch.ts";
import { issuePayLink } from "./pay-link.ts";

/** Product-level checks that zod cannot express: currency, amount limits, required payer/method fields. */
function checkProductRules(req: CreatePaymentBody): void {
  const rule = productRule(req.product);
  if (!rule)
    throw new AppError("payment.product_not_supported", `product ${req.product} is not available through this call`);
  if (!rule.currencies.includes(req.currency)) {
    throw new AppError("payment.currency_not_supported", `${req.product} accepts ${rule.currencies.join(", ")}`);
  }
  // Limits are set in hundredths of a major unit, so they mean the same in every currency (ISO 4217 exponents).
  const min = fromHundredths(rule.minAmount, req.currency, "up");
  const max = fromHundredths(rule.maxAmount, req.currency, "down");
  if (req.amount < Math.max(1, min) || req.amount > max) {
    throw new AppError(
      "payment.amount_out_of_range",
      `${req.product} accepts amounts from ${Math.max(1, min)} to ${max} minor units of ${req.currency}`,
    );
  }
  if (req.capture_method === "manual" && !canAuthorize(req.product, req.method.wallet ?? null))
    throw new AppError(
      "operation.flow_not_supported",
      `no channel offers pre-authorization (capture_method manual) for ${req.product}${req.method.wallet ? ` with ${req.method.wallet}` : ""}`,
    );
  const missing = rule.requires.filter((field) => {
    if (field === "payer.phone") return !req.payer.phone;
    if (field === "method.bankCode") return !req.method.bank_code;
    return !req.method.wallet;
  });
  if (missing.length > 0) {
    const wire = missing.map(
      (f) =>
        ({ "payer.phone": "payer.phone", "method.bankCode": "method.bank_code", "method.wallet": "method.wallet" })[f],
    );
    throw new AppError(
      "request.validation_failed",
      `${req.product} needs ${wire.join(", ")}`,
      wire.map((path) => ({ path, message: "is required for this product" })),
    );
  }
}

/** The merchant is active (checked with the signature); here, its products and the payer. */
async function checkAccounts(deps: ApiDeps, merchant: Merchant, req: CreatePaymentBody): Promise<void> {
  if (!merchant.enabledProducts.includes(req.product))
    throw new AppError("merchant.product_not_enabled", `the merchant is not enabled for ${req.product}`);
  if (await deps.frozenPayers.isFrozen(req.payer.id))
    throw new AppError("payer.frozen", "the payer's account is frozen");
}

/**
 * POST /v1/payments (pay now) and POST /v1/orders (pre-order with a pay link). By the time this runs the
 * signature, the merchant's status and the fields have been checked (signedCall, then the route's schema);
 * then come the product's rules, account status, and the order itself. Nothing about merchants, payers or
 * order numbers is told to a caller whose signature did not verify.
 */
async function submit(
  c: Ctx,
  req: CreatePaymentBody,
  deps: ApiDeps,
  acceptor: Acceptor,
  kind: "payment" | "order",
): Promise<Response> {
  checkProductRules(req);
  const { merchant, nonce, idempotencyKey } = c.get("auth");
  const key = idempotencyKey!;
  await checkAccounts(deps, merchant, req);

  const now = deps.now?.() ?? Date.now();
  const id = newId("pay", now);
  const expiresAt = new Date(now + (req.expires_in ?? deps.env.PAYMENT_TTL_SECONDS) * 1000);
  const result = await acceptor.submit({
    merchantId: merchant.id,
    key,
    hash: requestHash(c.req.method, c.req.path, c.get("rawBody")),
    nonce,
    requestId: c.get("requestId"),
    payUrl: kind === "order" ? issuePayLink(deps.env, id, now) : undefined,
    values: {
      id,
      merchantId: merchant.id,
      merchantOrderNo: req.merchant_order_no,
      product: req.product,
      amount: req.amount,
      currency: req.currency,
      subject: req.subject,
      status: kind === "payment" ? "risk_review" : "awaiting_payment",
      payerId: req.payer.id,
      payerIp: req.payer.ip ?? null,
      payerDeviceId: req.payer.device_id ?? null,
      payerPhone: req.payer.phone ?? null,
      method: {
        bankCode: req.method.bank_code ?? null,
        cardType: req.method.card_type ?? null,
        wallet: req.method.wallet ?? null,
        flow: req.method.flow ?? null,
      },
      notifyUrl: req.notify_url,
      returnUrl: req.return_url,
      metadata: req.metadata,
      expiresAt,
      captureMethod: req.capture_method,
    },
  });
  if (!result.replayed) deps.relay.notify();
  else c.header("idempotent-replayed", "true");
  return c.json(result.body as object, result.status as 201);
}

export function registerCreatePayment(app: PaymentApiApp, deps: ApiDeps): void {
  // Requests that arrive together are written together (group commit): see accept-batch.ts.
  const acceptor = createAcceptor(deps.db);
  // Load shedding: past the limit a request is refused before any work, even reading its body (see ACCEPT_MAX_IN_FLIGHT).
  let inFlight = 0;
  const shed: MiddlewareHandler<PaymentApiEnv> = async (c, next) => {
    if (inFlight >= deps.env.ACCEPT_MAX_IN_FLIGHT) {
      c.header("retry-after", "1");
      throw new AppError(
        "internal.overloaded",
        "too many payments are being accepted right now; retry shortly with the same Idempotency-Key",
      );
    }
    inFlight++;
    try {
      await next();
    } finally {
      inFlight--;
    }
  };
  const middleware = [shed, ...signedCall(deps, { mutating: true, body: "json" })];
  app.openapi(
    { ...createPayment, middleware },
    (c) => submit(c, c.req.valid("json"), deps, acceptor, "payment") as never,
  );
  app.openapi({ ...createOrder, middleware }, (c) => submit(c, c.req.valid("json"), deps, acceptor, "order") as never);
}
