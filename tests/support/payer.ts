import type { PaymentDetail } from "@pps/sdk";

/** The simulated channels' mount points in channel-sim (see apps/channel-sim/README.md). */
const MOUNT: Record<string, string> = {
  bank_direct: "/bank",
  unionpay: "/unionpay",
  wechat: "/wechat",
  alipay: "/alipay",
  paypal: "/paypal",
  carrier: "/carrier",
};

function lastTxn(p: PaymentDetail): { channel: string; txnId: string } {
  const attempt = [...p.attempts].reverse().find((a) => a.channel_txn_id);
  if (!attempt?.channel_txn_id) throw new Error(`payment ${p.id} has no channel transaction yet`);
  return { channel: attempt.channel, txnId: attempt.channel_txn_id };
}

/** Opens the channel's HTML page from a redirect action and submits its form with the first (confirm) or second (cancel) button. */
export async function submitPayerPage(url: string, choice: "confirm" | "cancel"): Promise<Response> {
  const page = await fetch(url);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`payer page answered ${page.status}`);
  const action = /<form[^>]*action="([^"]+)"/i.exec(html)?.[1];
  const buttons = [...html.matchAll(/<button[^>]*name="action"[^>]*value="([^"]+)"/gi)].map((m) => m[1]!);
  if (!action || buttons.length < 2) throw new Error("the payer page has no confirm/cancel form");
  const target = new URL(action.replace(/&amp;/g, "&"), url);
  return fetch(target, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ action: choice === "confirm" ? buttons[0]! : buttons[1]! }).toString(),
    redirect: "manual",
  });
}

/** Does what the payer would for the payment's next action: confirm on the bank page, scan the QR code, type the SMS code. */
export async function actAsPayer(
  simUrl: string,
  p: PaymentDetail,
  choice: "confirm" | "cancel" = "confirm",
  opts: { smsCode?: string } = {},
): Promise<Response> {
  const action = p.next_action;
  if (!action) throw new Error(`payment ${p.id} needs no payer action (status ${p.status})`);
  const { channel, txnId } = lastTxn(p);
  switch (action.type) {
    case "redirect":
      return submitPayerPage(action.url, choice);
    case "qr_code":
      return fetch(`${simUrl}${MOUNT[channel]}/sim/scan/${txnId}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ action: choice === "confirm" ? "pay" : "cancel" }),
      });
    case "sms_confirmation": {
      if (!opts.smsCode) throw new Error("carrier confirmation needs the SMS code");
      return fetch(`${simUrl}/carrier/confirm`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ txnId, code: opts.smsCode }),
      });
    }
  }
}

/** The newest SMS to a phone from channel-sim's outbox, with the first 6-digit code in it. */
export async function latestSmsCode(
  simUrl: string,
  phone: string,
  opts: { contains?: string } = {},
): Promise<string | null> {
  const res = await fetch(`${simUrl}/sms/outbox?phone=${encodeURIComponent(phone)}`);
  const { messages } = (await res.json()) as { messages: { text: string }[] };
  const msg = messages.find((m) => !opts.contains || m.text.includes(opts.contains));
  return msg ? (/\b(\d{6})\b/.exec(msg.text)?.[1] ?? null) : null;
}
