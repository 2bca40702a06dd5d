import { randomInt } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  channelConfigFromEnv,
  createChannelAdapters,
  type ChannelAdapter,
  type ChannelId,
  type ParsedCallback,
  type PayRequest,
} from "@pps/channels";
import { isolatedDatabase, startApp, waitFor, type AppProcess } from "@pps/test-support";

// Every channel of the real channel-sim process, driven through its adapter, with callbacks received by a
// small local HTTP server and verified by the adapter's parseCallback.

type Received = {
  channel: ChannelId;
  headers: Record<string, string>;
  rawBody: string;
  parsed: ParsedCallback;
  status: number;
  at: number;
};

const CHANNELS: ChannelId[] = ["bank_direct", "unionpay", "wechat", "alipay", "paypal", "carrier"];
const RUN = `it${Date.now().toString(36)}`;

let sim: AppProcess;
let receiver: Server;
let receiverUrl: string;
let adapters: Map<ChannelId, ChannelAdapter>;
const received: Received[] = [];
/** Attempt ids whose first callback delivery the receiver answers with a 500. */
const rejectFirst = new Set<string>();

let seq = 0;
const attemptId = (tag: string) => `${RUN}_${tag}_${++seq}`;
const phone = () => `139${String(randomInt(0, 100_000_000)).padStart(8, "0")}`;
const adapter = (ch: ChannelId) => adapters.get(ch)!;

function payRequest(ch: ChannelId, tag: string, over: Partial<PayRequest> = {}): PayRequest {
  const base: PayRequest = {
    paymentId: `pay_${RUN}_${seq}`,
    attemptId: attemptId(`${ch}_${tag}`),
    product: "online_banking",
    amount: 1234,
    currency: "CNY",
    subject: `Test ${tag}`,
    payer: { id: "payer_1", ip: "10.1.2.3", deviceId: null, phone: phone() },
    method: { bankCode: null, cardType: null, wallet: null, flow: null },
    returnUrl: "https://merchant.test/return?order=42",
    callbackUrl: `${receiverUrl}/cb/${ch}`,
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    metadata: { order: "42" },
    captureMethod: "automatic",
  };
  const perChannel: Record<ChannelId, Partial<PayRequest>> = {
    bank_direct: { method: { bankCode: "ICBC", cardType: "debit", wallet: null, flow: null } },
    unionpay: { method: { bankCode: "SPDB", cardType: null, wallet: null, flow: null } },
    wechat: { product: "platform_pay", method: { bankCode: null, cardType: null, wallet: "wechat", flow: "qr_code" } },
    alipay: { product: "platform_pay", method: { bankCode: null, cardType: null, wallet: "alipay", flow: "deeplink" } },
    paypal: {
      product: "foreign_card",
      currency: "USD",
      method: { bankCode: null, cardType: "credit", wallet: null, flow: null },
    },
    carrier: { product: "carrier_billing" },
  };
  return { ...base, ...perChannel[ch], ...over, metadata: { ...base.metadata, ...over.metadata } };
}

const callbacksOf = (ref: string) => received.filter((r) => r.rawBody.includes(ref) && r.status < 300);

async function waitCallbacks(ref: string, n: number, timeoutMs = 10_000): Promise<Received[]> {
  await waitFor(async () => callbacksOf(ref).length >= n, {
    timeoutMs,
    intervalMs: 25,
    what: `${n} callback(s) for ${ref}`,
  });
  return callbacksOf(ref);
}

async function book(
  ch: ChannelId,
  ref: string,
): Promise<{ txnId: string; status: string; amount: number; settlement: unknown }[]> {
  const res = await fetch(`${sim.url}/sim/book/${ch}?ref=${encodeURIComponent(ref)}`);
  return ((await res.json()) as { entries: { txnId: string; status: string; amount: number; settlement: unknown }[] })
    .entries;
}

async function smsCode(to: string): Promise<string> {
  const res = await fetch(`${sim.url}/sms/outbox?phone=${to}`);
  const { messages } = (await res.json()) as { messages: { text: string }[] };
  const code = /Code (\d{6})/.exec(messages[0]?.text ?? "")?.[1];
  if (!code) throw new Error(`no code texted to ${to}`);
  return code;
}

const form = (action: string) => ({
  method: "POST",
  body: `action=${action}`,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  redirect: "manual" as const,
});
const json = (body: unknown) => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "content-type": "application/json" },
});

/** What the payer does on the channel's side: the bank page, PayPal checkout, the wallet app, the SMS code. */
async function payerAct(ch: ChannelId, req: PayRequest, txnId: string, action: "pay" | "cancel"): Promise<void> {
  switch (ch) {
    case "bank_direct":
    case "unionpay": {
      const res = await fetch(
        `${sim.url}/${ch === "bank_direct" ? "bank" : "unionpay"}/pages/${txnId}`,
        form(action === "pay" ? "confirm" : "cancel"),
      );
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe(req.returnUrl);
      return;
    }
    case "paypal": {
      const res = await fetch(`${sim.url}/paypal/checkout/${txnId}`, form(action === "pay" ? "approve" : "cancel"));
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toMatch(
        new RegExp(`^https://merchant\\.test/return\\?order=42&token=${txnId}`),
      );
      return;
    }
    case "wechat":
    case "alipay": {
      const res = await fetch(`${sim.url}/${ch}/sim/scan/${txnId}`, json({ action }));
      expect(res.status).toBe(200);
      return;
    }
    case "carrier": {
      if (action === "pay") {
        const res = await fetch(`${sim.url}/carrier/confirm`, json({ txnId, code: await smsCode(req.payer.phone!) }));
        expect(await res.json()).toEqual({ status: "SUCCEEDED" });
        return;
      }
      // A subscriber who never gets the code right: three wrong tries fail the charge.
      const code = await smsCode(req.payer.phone!);
      const wrong = code === "000000" ? "111111" : "000000";
      for (const left of [2, 1, 0]) {
        const res = await fetch(`${sim.url}/carrier/confirm`, json({ txnId, code: wrong }));
        expect(res.status).toBe(422);
        expect(((await res.json()) as { attemptsLeft: number }).attemptsLeft).toBe(left);
      }
      return;
    }
  }
}

const EXPECTED_ACTION: Record<ChannelId, string> = {
  bank_direct: "redirect",
  unionpay: "redirect",
  wechat: "qr_code",
  alipay: "qr_code",
  paypal: "redirect",
  carrier: "sms_confirmation",
};

function txnOf(outcome: { status: string }): string {
  if (!("channelTxnId" in outcome) || typeof outcome.channelTxnId !== "string")
    throw new Error(`no channelTxnId in ${JSON.stringify(outcome)}`);
  return outcome.channelTxnId;
}

// A database of this file's own: fault settings and the charge book are per database, and another file's
// channel-sim (the router's tests) changes faults of the same channels.
let isolated: Awaited<ReturnType<typeof isolatedDatabase>>;

beforeAll(async () => {
  isolated = await isolatedDatabase("sim");
  receiver = createServer((req, res) => {
    let rawBody = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (rawBody += chunk));
    req.on("end", () => {
      const ch = (req.url ?? "").split("/").pop() as ChannelId;
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]),
      );
      const ref = [...rejectFirst].find((r) => rawBody.includes(r));
      if (ref) {
        rejectFirst.delete(ref);
        received.push({
          channel: ch,
          headers,
          rawBody,
          parsed: { ok: false, reason: "malformed", detail: "rejected by test" },
          status: 500,
          at: Date.now(),
        });
        res.writeHead(500).end("try later");
        return;
      }
      const parsed = adapter(ch).parseCallback({ headers, rawBody });
      // A stale (not_final) notice is acknowledged and ignored, as payment-api does.
      const ack = adapter(ch).callbackAck(parsed.ok || parsed.reason === "not_final");
      received.push({ channel: ch, headers, rawBody, parsed, status: ack.status, at: Date.now() });
      res.writeHead(ack.status, { "content-type": ack.contentType }).end(ack.body);
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  sim = await startApp("channel-sim", {
    DATABASE_URL: isolated.databaseUrl,
    SIM_CALLBACK_POLL_MS: "25",
    SIM_CALLBACK_RETRY_BASE_MS: "200",
    SIM_AUTO_PAYER_DELAY_MS: "50",
    SHUTDOWN_TIMEOUT_MS: "10000",
  });
  adapters = createChannelAdapters(channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url }));
});

afterAll(async () => {
  // Answers held back by the timeout fault must not hold up the shutdown.
  const stopped = await sim?.stop();
  receiver?.close();
  await isolated?.close();
  expect(stopped?.code).toBe(0);
});

describe.each(CHANNELS)("%s through its adapter", (ch) => {
  it("pay → requires_action; a repeat is the same transaction; query; the payer pays → one verified callback, one charge", async () => {
    const req = payRequest(ch, "happy");
    const first = await adapter(ch).pay(req);
    expect(first.status).toBe("requires_action");
    expect(first.status === "requires_action" && first.action.type).toBe(EXPECTED_ACTION[ch]);
    const txnId = txnOf(first);

    const again = await adapter(ch).pay(req);
    expect(again).toEqual(first);
    expect(await adapter(ch).query({ attemptId: req.attemptId, channelTxnId: null })).toEqual(first);

    await payerAct(ch, req, txnId, "pay");
    const [cb] = await waitCallbacks(req.attemptId, 1);
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: {
        channel: ch,
        attemptId: req.attemptId,
        channelTxnId: txnId,
        status: "succeeded",
        amount: 1234,
        currency: req.currency,
      },
    });
    if (ch === "paypal")
      expect(cb!.parsed).toMatchObject({
        ok: true,
        result: { settlement: { amount: 8860, currency: "CNY", fxRate: "7.1800" } },
      });

    const byRef = await adapter(ch).query({ attemptId: req.attemptId, channelTxnId: null });
    const byTxn = await adapter(ch).query({ attemptId: req.attemptId, channelTxnId: txnId });
    expect(byRef).toMatchObject({ status: "succeeded", channelTxnId: txnId });
    expect(byTxn).toEqual(byRef);
    expect(await adapter(ch).pay(req)).toEqual(byRef);
    const entries = await book(ch, req.attemptId);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ txnId, status: "succeeded", amount: 1234 });

    // A forged callback: the same body, one field changed.
    const forged = cb!.rawBody.replace("1234", "9234").replace("12.34", "92.34");
    expect(forged).not.toBe(cb!.rawBody);
    expect(adapter(ch).parseCallback({ headers: cb!.headers, rawBody: forged })).toMatchObject({
      ok: false,
      reason: "signature_invalid",
    });
  });

  it("the payer gives up → a verified failed callback", async () => {
    const req = payRequest(ch, "cancel");
    const txnId = txnOf(await adapter(ch).pay(req));
    await payerAct(ch, req, txnId, "cancel");
    const [cb] = await waitCallbacks(req.attemptId, 1);
    const code = ch === "carrier" ? "verification_failed" : "payer_canceled";
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { status: "failed", failureCode: code, channelTxnId: txnId },
    });
    expect(await adapter(ch).query({ attemptId: req.attemptId, channelTxnId: txnId })).toMatchObject({
      status: "failed",
      code,
    });
  });

  it("sim_payer=auto_confirm: the sim pays itself; sync success for the bank, pending elsewhere; then the callback", async () => {
    const req = payRequest(ch, "auto", { metadata: { sim_payer: "auto_confirm" } });
    const out = await adapter(ch).pay(req);
    expect(out.status).toBe(ch === "bank_direct" ? "succeeded" : "pending");
    const [cb] = await waitCallbacks(req.attemptId, 1);
    expect(cb!.parsed).toMatchObject({ ok: true, result: { status: "succeeded", channelTxnId: txnOf(out) } });
  });

  it("unknown references are not found", async () => {
    expect(await adapter(ch).query({ attemptId: attemptId("nope"), channelTxnId: null })).toEqual({
      status: "not_found",
    });
  });
});

describe.concurrent.each(CHANNELS)("%s faults", (ch) => {
  it("decline and insufficient_funds fail definitively, with one failed book entry and no callback", async () => {
    for (const [fault, code] of [
      ["decline", "card_declined"],
      ["insufficient_funds", "insufficient_funds"],
    ] as const) {
      const req = payRequest(ch, fault, { metadata: { sim_fault: fault } });
      const out = await adapter(ch).pay(req);
      expect(out).toMatchObject({ status: "failed", code });
      expect(await book(ch, req.attemptId)).toMatchObject([{ status: "failed" }]);
      expect(await adapter(ch).query({ attemptId: req.attemptId, channelTxnId: null })).toMatchObject({
        status: "failed",
        code,
      });
      // Callbacks are queued in the same transaction as the state change: none was queued for a sync decline.
      const { callbacks } = (await (await fetch(`${sim.url}/sim/callbacks/${ch}?ref=${req.attemptId}`)).json()) as {
        callbacks: unknown[];
      };
      expect(callbacks).toHaveLength(0);
    }
  });

  it("timeout: the caller sees unknown within its timeout; the charge happened once; query and the callback tell", async () => {
    const req = payRequest(ch, "timeout", { metadata: { sim_fault: "timeout" } });
    const started = Date.now();
    const out = await adapter(ch).pay(req, { timeoutMs: 800 });
    expect(out.status).toBe("unknown");
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(await adapter(ch).query({ attemptId: req.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
    });
    const [cb] = await waitCallbacks(req.attemptId, 1);
    expect(cb!.parsed).toMatchObject({ ok: true, result: { status: "succeeded" } });
    // Paying the same attempt again answers at once with the same transaction: still one charge.
    expect(await adapter(ch).pay(req, { timeoutMs: 2_000 })).toMatchObject({ status: "succeeded" });
    expect(await book(ch, req.attemptId)).toMatchObject([{ status: "succeeded" }]);
  });

  it("5xx is unknown and took nothing; 5xx_after_charge is unknown and took the money", async () => {
    const before = payRequest(ch, "5xx", { metadata: { sim_fault: "5xx" } });
    expect((await adapter(ch).pay(before)).status).toBe("unknown");
    expect(await adapter(ch).query({ attemptId: before.attemptId, channelTxnId: null })).toEqual({
      status: "not_found",
    });
    expect(await book(ch, before.attemptId)).toHaveLength(0);

    const after = payRequest(ch, "5xxac", { metadata: { sim_fault: "5xx_after_charge" } });
    expect((await adapter(ch).pay(after)).status).toBe("unknown");
    expect(await adapter(ch).query({ attemptId: after.attemptId, channelTxnId: null })).toMatchObject({
      status: "succeeded",
    });
    expect(await book(ch, after.attemptId)).toMatchObject([{ status: "succeeded" }]);
  });

  it("unavailable is a definitive channel_unavailable with nothing taken; latency only slows", async () => {
    const req = payRequest(ch, "unavail", { metadata: { sim_fault: "unavailable" } });
    expect(await adapter(ch).pay(req)).toMatchObject({ status: "failed", code: "channel_unavailable" });
    expect(await book(ch, req.attemptId)).toHaveLength(0);

    const slow = payRequest(ch, "latency", { metadata: { sim_fault: "latency:300" } });
    const started = Date.now();
    expect((await adapter(ch).pay(slow)).status).toBe("requires_action");
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it("callback_duplicated sends the same verified callback twice", async () => {
    const req = payRequest(ch, "dup", { metadata: { sim_fault: "callback_duplicated", sim_payer: "auto_confirm" } });
    await adapter(ch).pay(req);
    const cbs = await waitCallbacks(req.attemptId, 2);
    expect(cbs[0]!.rawBody).toBe(cbs[1]!.rawBody);
    for (const cb of cbs) expect(cb.parsed).toMatchObject({ ok: true, result: { status: "succeeded" } });
    expect(await book(ch, req.attemptId)).toHaveLength(1);
  });

  it("callback_out_of_order follows the final callback with a stale, earlier one that parses as not_final", async () => {
    const req = payRequest(ch, "ooo", { metadata: { sim_fault: "callback_out_of_order", sim_payer: "auto_confirm" } });
    await adapter(ch).pay(req);
    const [final, stale] = await waitCallbacks(req.attemptId, 2);
    expect(final!.parsed).toMatchObject({ ok: true, result: { status: "succeeded" } });
    expect(stale!.parsed).toMatchObject({ ok: false, reason: "not_final" });
    expect(stale!.at).toBeGreaterThanOrEqual(final!.at);
  });

  it("callback_never: no callback; only a query tells. callback_delayed holds it back", async () => {
    const never = payRequest(ch, "never", { metadata: { sim_fault: "callback_never", sim_payer: "auto_confirm" } });
    const delayed = payRequest(ch, "delayed", {
      metadata: { sim_fault: "callback_delayed:700", sim_payer: "auto_confirm" },
    });
    const started = Date.now();
    await Promise.all([adapter(ch).pay(never), adapter(ch).pay(delayed)]);
    const [cb] = await waitCallbacks(delayed.attemptId, 1);
    expect(cb!.at - started).toBeGreaterThanOrEqual(700);
    await waitFor(
      async () => (await adapter(ch).query({ attemptId: never.attemptId, channelTxnId: null })).status === "succeeded",
      { what: "auto payer" },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(callbacksOf(never.attemptId)).toHaveLength(0);
  });
});

describe("callback delivery", () => {
  it("retries a callback the merchant did not accept and records every delivery", async () => {
    const req = payRequest("wechat", "retry", { metadata: { sim_payer: "auto_confirm" } });
    rejectFirst.add(req.attemptId);
    await adapter("wechat").pay(req);
    const [cb] = await waitCallbacks(req.attemptId, 1);
    expect(cb!.parsed).toMatchObject({ ok: true });
    type Deliveries = { callbacks: { status: string; deliveries: { httpStatus: number; accepted: boolean }[] }[] };
    let callbacks: Deliveries["callbacks"] = [];
    // The sim records the delivery once the receiver's answer is in, a moment after the test saw the callback.
    await waitFor(
      async () => {
        ({ callbacks } = (await (
          await fetch(`${sim.url}/sim/callbacks/wechat?ref=${req.attemptId}`)
        ).json()) as Deliveries);
        return callbacks[0]?.status === "delivered";
      },
      { what: "delivery recorded" },
    );
    expect(callbacks).toHaveLength(1);
    expect(callbacks[0]!.status).toBe("delivered");
    expect(callbacks[0]!.deliveries.map((d) => [d.httpStatus, d.accepted])).toEqual([
      [500, false],
      [200, true],
    ]);
  });
});

describe("channel-wide faults (scoped to this run's references)", () => {
  it("PUT applies to matching references only, per operation; DELETE clears", async () => {
    const scope = `${RUN}_scoped_`;
    const put = await fetch(`${sim.url}/sim/faults/alipay`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ faults: ["unavailable"], ops: ["pay", "query"], refPrefix: scope }),
    });
    expect(put.status).toBe(200);
    const hit = { ...payRequest("alipay", "x"), attemptId: `${scope}1` };
    const miss = payRequest("alipay", "miss");
    expect(await adapter("alipay").pay(hit)).toMatchObject({ status: "failed", code: "channel_unavailable" });
    expect((await adapter("alipay").pay(miss)).status).toBe("requires_action");
    // A busy query tells nothing about the payment: unknown, never failed.
    expect((await adapter("alipay").query({ attemptId: hit.attemptId, channelTxnId: null })).status).toBe("unknown");
    expect(
      ((await (await fetch(`${sim.url}/sim/faults`)).json()) as { faults: { channel: string }[] }).faults.map(
        (f) => f.channel,
      ),
    ).toContain("alipay");

    expect((await fetch(`${sim.url}/sim/faults/alipay`, { method: "DELETE" })).status).toBe(204);
    expect((await adapter("alipay").pay(hit)).status).toBe("requires_action");
  });

  it("refuses unknown directives and channels", async () => {
    const bad = await fetch(`${sim.url}/sim/faults/wechat`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fault: "explode" }),
    });
    expect(bad.status).toBe(400);
    const unknown = await fetch(`${sim.url}/sim/faults/nochannel`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fault: "5xx" }),
    });
    expect(unknown.status).toBe(404);
  });
});

describe("channel specifics", () => {
  it("a channel that cannot be reached is channel_unavailable (nothing was sent)", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = createChannelAdapters(channelConfigFromEnv({ CHANNEL_BASE_URL: `http://127.0.0.1:${port}` })).get(
      "wechat",
    )!;
    expect(await dead.pay(payRequest("wechat", "dead"))).toMatchObject({
      status: "failed",
      code: "channel_unavailable",
    });
    expect((await dead.query({ attemptId: "x", channelTxnId: null })).status).toBe("unknown");
  });

  it("an adapter with the wrong key cannot be answered: the channel rejects it, nothing is taken", async () => {
    const wrong = createChannelAdapters({
      endpoints: {
        ...channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url }).endpoints,
        bank_direct: {
          ...channelConfigFromEnv({ CHANNEL_BASE_URL: sim.url }).endpoints.bank_direct,
          signingKey: "wrong",
        },
      },
    }).get("bank_direct")!;
    const req = payRequest("bank_direct", "wrongkey");
    expect(await wrong.pay(req)).toMatchObject({ status: "failed", code: "channel_rejected" });
    expect(await book("bank_direct", req.attemptId)).toHaveLength(0);
  });

  it("bank pages are real HTML forms; unsupported banks and currencies are refused", async () => {
    const req = payRequest("bank_direct", "page");
    const out = await adapter("bank_direct").pay(req);
    const url = out.status === "requires_action" && out.action.type === "redirect" ? out.action.url : "";
    const page = await fetch(url);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const html = await page.text();
    expect(html).toContain('<form method="post"');
    expect(html).toContain("12.34 CNY");
    expect(
      await adapter("bank_direct").pay(
        payRequest("bank_direct", "bank", { method: { bankCode: "HSBC", cardType: null, wallet: null, flow: null } }),
      ),
    ).toMatchObject({ status: "failed", code: "bank_not_supported" });
    expect(await adapter("wechat").pay(payRequest("wechat", "usd", { currency: "USD" }))).toMatchObject({
      status: "failed",
      code: "currency_not_supported",
    });
  });

  it("paypal settles JPY (exponent 0) in CNY at the fixed rate", async () => {
    const req = payRequest("paypal", "jpy", { currency: "JPY", amount: 1000, metadata: { sim_payer: "auto_confirm" } });
    await adapter("paypal").pay(req);
    const [cb] = await waitCallbacks(req.attemptId, 1);
    expect(cb!.parsed).toMatchObject({
      ok: true,
      result: { amount: 1000, currency: "JPY", settlement: { amount: 4800, currency: "CNY", fxRate: "0.0480" } },
    });
  });

  it("carrier refuses amounts over 500.00 CNY", async () => {
    expect(await adapter("carrier").pay(payRequest("carrier", "big", { amount: 50_001 }))).toMatchObject({
      status: "failed",
      code: "amount_limit_exceeded",
    });
  });

  it("the SMS gateway sends and its outbox is readable, newest first", async () => {
    const to = phone();
    for (const text of ["first 111111", "second 222222"]) {
      const res = await fetch(`${sim.url}/sms/send`, json({ phone: to, text }));
      expect(res.status).toBe(201);
      expect(((await res.json()) as { messageId: string }).messageId).toMatch(/^sms_/);
    }
    const { messages } = (await (await fetch(`${sim.url}/sms/outbox?phone=${to}`)).json()) as {
      messages: { text: string }[];
    };
    expect(messages.map((m) => m.text)).toEqual(["second 222222", "first 111111"]);
    expect((await fetch(`${sim.url}/sms/send`, json({ phone: "x", text: "t" }))).status).toBe(400);
  });
});
