import { createHmac, timingSafeEqual } from "node:crypto";
import { eq } from "drizzle-orm";
import { payments } from "@pps/db/schema";
import { payPayLink, showPayLink } from "@pps/api-contract";
import { AppError } from "@pps/domain";
import { paymentEvents } from "@pps/messaging";
import { readLimitedBody, validationHook } from "@pps/runtime";
import type { Env } from "../env.ts";
import type { ApiDeps, PaymentApiApp } from "../http/context.ts";
import { assertMerchantActive, assertPayerActive } from "../payments/merchants.ts";
import { transition } from "../payments/repository.ts";
import { toApiPayment } from "../payments/payment-view.ts";

function mac(secret: string, paymentId: string, issuedAt: number): string {
  return createHmac("sha256", secret).update(`${paymentId}.${issuedAt}`).digest("base64url").slice(0, 32);
}

/** A pay link names the payment and when it was issued, signed so neither can be changed. */
export function issuePayLink(
  env: Pick<Env, "PUBLIC_BASE_URL" | "PAY_LINK_SECRET">,
  paymentId: string,
  nowMs: number,
): string {
  const issuedAt = Math.floor(nowMs / 1000);
  return `${env.PUBLIC_BASE_URL.replace(/\/$/, "")}/v1/pay/${paymentId}.${issuedAt}.${mac(env.PAY_LINK_SECRET, paymentId, issuedAt)}`;
}

export function readPayLink(
  env: Pick<Env, "PAY_LINK_SECRET" | "PAY_LINK_TTL_SECONDS">,
  token: string,
  nowMs: number,
): string {
  const match = /^(pay_[0-9A-Z]{26})\.(\d{1,12})\.([A-Za-z0-9_-]{32})$/.exec(token);
  if (!match) throw new AppError("payment.not_found", "no such pay link");
  const [, paymentId, issued, sig] = match as unknown as [string, string, string, string];
  const expected = Buffer.from(mac(env.PAY_LINK_SECRET, paymentId, Number(issued)));
  if (!timingSafeEqual(expected, Buffer.from(sig))) throw new AppError("payment.not_found", "no such pay link");
  if (nowMs / 1000 - Number(issued) > env.PAY_LINK_TTL_SECONDS) {
    throw new AppError("payment.pay_link_expired", "this pay link has expired; ask the merchant for a new one");
  }
  return paymentId;
}

/**
 * The payer opens the pay link (GET shows a confirmation page, so link previews never pay) and confirms
 * (POST). Paying checks that the order exists, is unpaid and unexpired, and that the link is fresh.
 */
export function registerPayLink(app: PaymentApiApp, deps: ApiDeps): void {
  const now = () => deps.now?.() ?? Date.now();
  const notFound = validationHook({ notFound: { code: "payment.not_found", message: "no such pay link" } });

  app.openapi(
    showPayLink,
    async (c) => {
      const paymentId = readPayLink(deps.env, c.req.valid("param").token, now());
      const [row] = await deps.db.select().from(payments).where(eq(payments.id, paymentId));
      if (!row) throw new AppError("payment.not_found", "no such payment");
      const amount = `${row.amount} ${row.currency} (minor units)`;
      c.header("cache-control", "no-store");
      return c.html(
        `<!doctype html><html><head><meta charset="utf-8"><title>Pay</title></head><body>
<h1>${escapeHtml(row.subject)}</h1><p>Amount: ${escapeHtml(amount)}</p><p>Status: ${escapeHtml(row.status)}</p>
${row.status === "awaiting_payment" ? `<form method="post"><button type="submit">Pay</button></form>` : ""}
</body></html>`,
        200,
      );
    },
    notFound,
  );

  app.openapi(
    payPayLink,
    async (c) => {
      const nowMs = now();
      const paymentId = readPayLink(deps.env, c.req.valid("param").token, nowMs);
      // The page's form posts nothing we read; the body is still bounded so it cannot hold memory.
      await readLimitedBody(c.req.raw, deps.env.MAX_BODY_BYTES);
      const result = await deps.db.transaction(async (tx) => {
        const [row] = await tx.select().from(payments).where(eq(payments.id, paymentId)).for("update");
        if (!row) throw new AppError("payment.not_found", "no such payment");
        if (row.status !== "awaiting_payment")
          throw new AppError("payment.invalid_state", `the payment is ${row.status}, not awaiting payment`);
        if (row.expiresAt.getTime() <= nowMs) throw new AppError("payment.expired", "the order has expired");
        await assertMerchantActive(deps.merchants, row.merchantId);
        await assertPayerActive(deps.frozenPayers, row.payerId);
        return transition(
          tx,
          paymentId,
          "risk_review",
          { cause: "pay_link", causeRef: c.get("requestId") },
          { onlyFrom: ["awaiting_payment"], event: paymentEvents.submitted },
        );
      });
      if (!result) throw new AppError("payment.invalid_state", "the payment changed meanwhile");
      deps.relay.notify();
      c.header("cache-control", "no-store");
      return c.json(toApiPayment(result.row), 200);
    },
    notFound,
  );
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch] ?? ch,
  );
}
