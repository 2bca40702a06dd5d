import type { Hono } from "hono";
import { money, toDecimalString } from "@pps/money";
import type { AppEnv } from "@pps/runtime";
import type { Charge, ChannelProtocol } from "../channels/protocol.ts";
import { expireIfDue, findChargeById } from "./book.ts";
import type { SimDeps } from "./deps.ts";
import { renderPayerPage } from "./html.ts";
import { applyPayerAction } from "./payer-actions.ts";

export type PayerPageOptions = {
  /** Route below the channel's mount point, with :txnId. */
  path: string;
  brand: string;
  color: string;
  confirm: { value: string; label: string };
  cancel: { value: string; label: string };
  /** Where the browser goes after the payer acted (null: stay on the page). */
  returnTo: (charge: Charge, action: "pay" | "cancel") => string | null;
};

const STATUS_TEXT: Record<string, string> = {
  awaiting_payer: "Waiting for your confirmation",
  paying: "Processing",
  succeeded: "Paid",
  failed: "Declined",
  closed: "Closed",
};

export function formatAmount(charge: Pick<Charge, "amount" | "currency">): string {
  return `${toDecimalString(money(charge.amount, charge.currency))} ${charge.currency}`;
}

/**
 * A real HTML page where the payer confirms or cancels (a `<form method=post>`): confirming charges and
 * queues the callback, then the browser is sent back to the merchant's return URL.
 */
export function mountPayerPages(app: Hono<AppEnv>, deps: SimDeps, proto: ChannelProtocol, o: PayerPageOptions): void {
  const page = (charge: Charge, action: string) =>
    renderPayerPage({
      title:
        charge.status === "awaiting_payer" ? "Confirm your payment" : (STATUS_TEXT[charge.status] ?? charge.status),
      brand: o.brand,
      color: o.color,
      rows: [
        ["Merchant", charge.merchantId],
        ["Order", charge.merchantRef],
        ["Description", charge.subject],
        ["Amount", formatAmount(charge)],
        ...(charge.bankCode ? ([["Bank", charge.bankCode]] as [string, string][]) : []),
        ["Transaction", charge.id],
        ["Status", STATUS_TEXT[charge.status] ?? charge.status],
      ],
      form:
        charge.status === "awaiting_payer"
          ? {
              action,
              buttons: [
                { value: o.confirm.value, label: o.confirm.label },
                { value: o.cancel.value, label: o.cancel.label },
              ],
            }
          : null,
      note: "Simulated channel: no real money moves.",
    });

  app.get(o.path, async (c) => {
    const found = await findChargeById(deps.db, proto.id, c.req.param("txnId") ?? "");
    if (!found) return c.html("<!doctype html><title>Not found</title><h1>No such transaction</h1>", 404);
    return c.html(page(await expireIfDue(deps.db, found), c.req.path));
  });

  app.post(o.path, async (c) => {
    const txnId = c.req.param("txnId") ?? "";
    const form = new URLSearchParams(await c.req.text());
    const choice = form.get("action");
    const action = choice === o.confirm.value ? "pay" : choice === o.cancel.value ? "cancel" : null;
    if (!action) return c.html("<!doctype html><title>Bad request</title><h1>Choose confirm or cancel</h1>", 400);
    const result = await applyPayerAction(deps, txnId, action === "pay" ? { type: "pay" } : { type: "cancel" });
    if (!result.charge || result.charge.channel !== proto.id)
      return c.html("<!doctype html><title>Not found</title><h1>No such transaction</h1>", 404);
    const target = o.returnTo(result.charge, action);
    return target ? c.redirect(target, 303) : c.html(page(result.charge, c.req.path));
  });
}
