import { and, eq } from "drizzle-orm";
import { payments } from "@pps/db/schema";
import { listPaymentNotifications, resendNotification } from "@pps/api-contract";
import { AppError } from "@pps/domain";
import { validationHook } from "@pps/runtime";
import { type ApiDeps, type PaymentApiApp, signedCall } from "../http/context.ts";
import { requestHash, runIdempotent } from "../http/idempotency.ts";

/** Calls the notifier's internal API; its failures become a 503 the merchant may retry. */
async function notifier(
  deps: ApiDeps,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(`${deps.env.NOTIFIER_URL.replace(/\/$/, "")}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${deps.env.INTERNAL_TOKEN}`, "content-type": "application/json" },
      signal: AbortSignal.timeout(5_000),
    });
  } catch (err) {
    deps.logger.error({ err }, "notifier unreachable");
    throw new AppError("internal.unavailable", "notifications are temporarily unavailable");
  }
  const body = await res.json().catch(() => null);
  if (res.status >= 500) throw new AppError("internal.unavailable", "notifications are temporarily unavailable");
  return { status: res.status, body };
}

/** Merchant-facing notification calls; the notifier owns the data and answers over its internal API. */
export function registerNotifications(app: PaymentApiApp, deps: ApiDeps): void {
  app.openapi(
    { ...listPaymentNotifications, middleware: signedCall(deps, { mutating: false, body: "none" }) },
    async (c) => {
      const { id } = c.req.valid("param");
      const { merchant } = c.get("auth");
      const [row] = await deps.db
        .select({ id: payments.id })
        .from(payments)
        .where(and(eq(payments.id, id), eq(payments.merchantId, merchant.id)));
      if (!row) throw new AppError("payment.not_found", "no such payment");
      const res = await notifier(
        deps,
        `/internal/v1/notifications?merchant_id=${encodeURIComponent(merchant.id)}&payment_id=${encodeURIComponent(id)}`,
      );
      return c.json(res.body as never, res.status as 200);
    },
    validationHook({ notFound: { code: "payment.not_found", message: "no such payment" } }),
  );

  app.openapi(
    { ...resendNotification, middleware: signedCall(deps, { mutating: true, body: "none" }) },
    async (c) => {
      const { id } = c.req.valid("param");
      const { merchant, nonce, idempotencyKey } = c.get("auth");
      // The resend itself happens at the notifier; the idempotency record keeps a retried call from
      // scheduling a second series.
      const result = await runIdempotent(
        deps.db,
        {
          merchantId: merchant.id,
          key: idempotencyKey!,
          hash: requestHash(c.req.method, c.req.path, c.get("rawBody")),
          nonce,
        },
        async () => {
          const res = await notifier(deps, `/internal/v1/notifications/${encodeURIComponent(id)}/resend`, {
            method: "POST",
            body: JSON.stringify({ merchant_id: merchant.id }),
          });
          if (res.status === 404) throw new AppError("request.not_found", "no such notification");
          return res;
        },
      );
      if (result.replayed) c.header("idempotent-replayed", "true");
      return c.json(result.body as never, result.status as 200);
    },
    validationHook({ notFound: { code: "request.not_found", message: "no such notification" } }),
  );
}
