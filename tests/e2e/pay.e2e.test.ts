import { randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { count, eq } from "drizzle-orm";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, createDb, type Database } from "@pps/db";
import { channelCallbacks, paymentTransitions } from "@pps/db/schema";
import {
  bodySignatureFromHeaders,
  PaymentsClient,
  verifyNotification,
  type CreatePaymentParams,
  type PaymentDetail,
} from "@pps/sdk";
import {
  createTestMerchant,
  TEST_ADMIN_TOKEN,
  TEST_KAFKA_BROKERS,
  waitFor,
  type TestMerchant,
} from "@pps/test-support";
import { actAsPayer, latestSmsCode } from "../support/payer.ts";
import { paymentUntil } from "../support/until.ts";
import { startPlatform, type Platform } from "../support/platform.ts";

/**
 * The pay pipeline end to end: all six apps as real processes, real Kafka and Postgres, the channels
 * played by channel-sim over real HTTP, merchants using the SDK.
 */
let platform: Platform;
let db: Database;
let merchant: TestMerchant;
let client: PaymentsClient;

const admin = (url: string, path: string, method: string, body?: unknown) =>
  fetch(`${url}${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });

const phone = () => `+86139${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;

function params(overrides: Partial<CreatePaymentParams> = {}): CreatePaymentParams {
  return {
    merchant_order_no: `e2e_${randomBytes(8).toString("hex")}`,
    product: "online_banking",
    amount: 8_800,
    currency: "CNY",
    subject: "Water bill, October",
    payer: { id: `u_${randomBytes(5).toString("hex")}`, ip: "198.51.100.20", device_id: "device-a", phone: phone() },
    method: { bank_code: "CMB" },
    notify_url: "https://shop.example/notify",
    return_url: "https://shop.example/return",
    ...overrides,
  };
}

const until = (id: string, ok: (p: PaymentDetail) => boolean, what: string, timeoutMs?: number) =>
  paymentUntil(client, id, ok, what, timeoutMs);
const status = (id: string, s: string, timeoutMs?: number) =>
  until(id, (p) => p.status === s, `status ${s}`, timeoutMs);

async function book(channel: string, ref: string): Promise<{ status: string }[]> {
  const res = await fetch(`${platform.sim.url}/sim/book/${channel}?ref=${encodeURIComponent(ref)}`);
  const body = (await res.json()) as
    | { data?: { status: string }[]; entries?: { status: string }[] }
    | { status: string }[];
  return Array.isArray(body) ? body : (body.data ?? body.entries ?? []);
}

beforeAll(async () => {
  // A payment every channel refuses waits ROUTE_WAIT_MAX_MS for one to recover (2 minutes by default); this file
  // waits 2 s so its refusal test ends in time.
  platform = await startPlatform({ routerEnv: { ROUTE_WAIT_MAX_MS: "2000" } });
  db = createDb({ url: platform.databaseUrl, max: 4 });
  merchant = await createTestMerchant(platform.api.url);
  client = new PaymentsClient({ baseUrl: platform.api.url, credentials: merchant });
}, 180_000);

afterAll(async () => {
  await closeDb(db).catch(() => undefined);
  await platform?.stop();
});

describe("each product reaches succeeded through its channel", () => {
  it("online banking: redirect to the bank's page, the payer confirms, the bank calls back", async () => {
    const p = await client.createPayment(params(), { idempotencyKey: randomUUID() });
    const waiting = await status(p.id, "requires_action");
    expect(waiting.next_action?.type).toBe("redirect");
    expect(waiting.channel).toBe("bank_direct"); // the cheaper link for a CMB card
    const res = await actAsPayer(platform.sim.url, waiting, "confirm");
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^https:\/\/shop\.example\/return/);
    const done = await status(p.id, "succeeded");
    expect(done.timeline.map((t) => t.to)).toEqual(["risk_review", "processing", "requires_action", "succeeded"]);
    expect(done.timeline.at(-1)?.cause).toBe("callback:bank_direct");
  });

  it("platform pay: a QR code the payer scans in the wallet app, result by async callback", async () => {
    const p = await client.createPayment(
      params({ product: "platform_pay", method: { wallet: "wechat", flow: "qr_code" } }),
      { idempotencyKey: randomUUID() },
    );
    const waiting = await status(p.id, "requires_action");
    expect(waiting.next_action).toMatchObject({ type: "qr_code" });
    expect(waiting.channel).toBe("wechat");
    expect((await actAsPayer(platform.sim.url, waiting)).status).toBe(200);
    await status(p.id, "succeeded");
  });

  it("foreign card: PayPal-like approval page, settled in CNY at the channel's rate", async () => {
    const p = await client.createPayment(
      params({ product: "foreign_card", currency: "USD", amount: 1_234, method: {} }),
      { idempotencyKey: randomUUID() },
    );
    const waiting = await status(p.id, "requires_action");
    expect(waiting.channel).toBe("paypal");
    expect(waiting.next_action?.type).toBe("redirect");
    await actAsPayer(platform.sim.url, waiting, "confirm");
    const done = await status(p.id, "succeeded");
    expect(done.amount).toBe(1_234);
    expect(done.currency).toBe("USD");
    expect(done.settlement).toEqual({ amount: 8_860, currency: "CNY", fxRate: "7.1800" });
  });

  it("carrier billing: the payer confirms with the code texted to the phone", async () => {
    const req = params({ product: "carrier_billing", amount: 1_500, method: {} });
    const p = await client.createPayment(req, { idempotencyKey: randomUUID() });
    const waiting = await status(p.id, "requires_action");
    expect(waiting.next_action).toMatchObject({ type: "sms_confirmation" });
    let code: string | null = null;
    await waitFor(async () => (code = await latestSmsCode(platform.sim.url, req.payer.phone!)) !== null, {
      what: "the carrier SMS",
    });
    expect((await actAsPayer(platform.sim.url, waiting, "confirm", { smsCode: code! })).status).toBe(200);
    await status(p.id, "succeeded");
  });

  it("a declined payment fails with the channel's reason", async () => {
    const p = await client.createPayment(params({ metadata: { sim_fault: "decline" } }), {
      idempotencyKey: randomUUID(),
    });
    const failed = await status(p.id, "failed");
    expect(failed.failure?.code).toBe("card_declined");
    expect(failed.attempts).toHaveLength(1); // a decline never fails over
  });
});

describe("risk", () => {
  it("blocks a blocklisted payer with the reason", async () => {
    const req = params();
    const added = await admin(platform.risk.url, "/v1/risk/blocklist", "POST", {
      kind: "payer",
      value: req.payer.id,
      reason: "chargeback fraud",
    });
    expect(added.status).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 1_500)); // risk-stub refreshes its cached lists within a second
    const p = await client.createPayment(req, { idempotencyKey: randomUUID() });
    const failed = await status(p.id, "failed");
    expect(failed.failure).toEqual({ code: "risk_blocked", message: "blocked by risk rules: payer_blocklisted" });
    expect(failed.attempts).toHaveLength(0); // no channel was ever called
  });

  it("challenges an amount over the soft limit; the right SMS code lets it go on to success", async () => {
    const req = params({ amount: 600_000, metadata: { sim_payer: "auto_confirm" } });
    const p = await client.createPayment(req, { idempotencyKey: randomUUID() });
    await status(p.id, "requires_verification");
    let code: string | null = null;
    await waitFor(
      async () =>
        (code = await latestSmsCode(platform.sim.url, req.payer.phone!, { contains: "verification" })) !== null,
      { what: "the OTP SMS" },
    );
    const wrong = code === "000000" ? "111111" : "000000";
    const bad = await client.request("POST", `/v1/payments/${p.id}/verify`, {
      body: { code: wrong },
      idempotencyKey: randomUUID(),
    });
    expect(bad).toMatchObject({
      status: 422,
      body: { error: { code: "payment.verification_failed", details: { attempts_left: 2 } } },
    });
    const ok = await client.verifyPayment(p.id, code!, { idempotencyKey: randomUUID() });
    expect(ok.status).toBe("processing");
    const done = await status(p.id, "succeeded");
    // With the payer automated, the bank answers at once: no requires_action step.
    expect(done.timeline.map((t) => t.to)).toEqual(["risk_review", "requires_verification", "processing", "succeeded"]);
  });

  it("sends a new code on request: the old one stops working, wrong tries still count, resends are limited", async () => {
    const req = params({ amount: 650_000, metadata: { sim_payer: "auto_confirm" } });
    const p = await client.createPayment(req, { idempotencyKey: randomUUID() });
    await status(p.id, "requires_verification");
    let first: string | null = null;
    await waitFor(
      async () =>
        (first = await latestSmsCode(platform.sim.url, req.payer.phone!, { contains: "verification" })) !== null,
      { what: "the first OTP" },
    );
    const resent = await client.resendVerification(p.id, { idempotencyKey: randomUUID() });
    expect(resent).toMatchObject({ payment_id: p.id, resends_left: 2 });
    expect(resent.sent_to).toBe(`${req.payer.phone!.slice(0, 3)}****${req.payer.phone!.slice(-4)}`); // masked
    let second: string | null = null;
    await waitFor(
      async () => {
        const res = await fetch(`${platform.sim.url}/sms/outbox?phone=${encodeURIComponent(req.payer.phone!)}`);
        const { messages } = (await res.json()) as { messages: { text: string }[] };
        second =
          messages.filter((m) => m.text.includes("verification")).length >= 2
            ? await latestSmsCode(platform.sim.url, req.payer.phone!, { contains: "verification" })
            : null;
        return second !== null;
      },
      { what: "the second OTP" },
    );
    if (first !== second) {
      const old = await client.request("POST", `/v1/payments/${p.id}/verify`, {
        body: { code: first! },
        idempotencyKey: randomUUID(),
      });
      expect(old).toMatchObject({ status: 422, body: { error: { code: "payment.verification_failed" } } });
    }
    await client.resendVerification(p.id, { idempotencyKey: randomUUID() });
    await client.resendVerification(p.id, { idempotencyKey: randomUUID() });
    const limited = await client.request("POST", `/v1/payments/${p.id}/verification/resend`, {
      body: {},
      idempotencyKey: randomUUID(),
    });
    expect(limited).toMatchObject({ status: 429, body: { error: { code: "payment.verification_resend_limit" } } });
    let latest: string | null = null;
    await waitFor(
      async () => {
        const res = await fetch(`${platform.sim.url}/sms/outbox?phone=${encodeURIComponent(req.payer.phone!)}`);
        const { messages } = (await res.json()) as { messages: { text: string }[] };
        if (messages.filter((m) => m.text.includes("verification")).length < 4) return false;
        latest = await latestSmsCode(platform.sim.url, req.payer.phone!, { contains: "verification" });
        return latest !== null;
      },
      { what: "the fourth OTP" },
    );
    expect((await client.verifyPayment(p.id, latest!, { idempotencyKey: randomUUID() })).status).toBe("processing");
    await status(p.id, "succeeded");
  });

  it("fails a challenged payment after too many wrong codes", async () => {
    const req = params({ amount: 700_000 });
    const p = await client.createPayment(req, { idempotencyKey: randomUUID() });
    await status(p.id, "requires_verification");
    let code: string | null = null;
    await waitFor(
      async () =>
        (code = await latestSmsCode(platform.sim.url, req.payer.phone!, { contains: "verification" })) !== null,
      { what: "the OTP SMS" },
    );
    const wrong = code === "123456" ? "654321" : "123456";
    const answers = [];
    for (let i = 0; i < 3; i++)
      answers.push(
        (
          await client.request("POST", `/v1/payments/${p.id}/verify`, {
            body: { code: wrong },
            idempotencyKey: randomUUID(),
          })
        ).status,
      );
    expect(answers).toEqual([422, 422, 423]);
    const failed = await status(p.id, "failed");
    expect(failed.failure?.code).toBe("verification_failed");
    // The right code is useless now.
    const late = await client.request("POST", `/v1/payments/${p.id}/verify`, {
      body: { code: code! },
      idempotencyKey: randomUUID(),
    });
    expect(late.status).toBe(409);
  });
});

describe("routing", () => {
  it("sends the payment to the cheaper healthy channel and records why", async () => {
    const cheap = await admin(platform.router.url, "/v1/channels/unionpay", "PUT", { feeFixed: 0, feeRateBps: 10 });
    expect(cheap.status).toBe(200);
    try {
      await new Promise((r) => setTimeout(r, 1_200));
      const p = await client.createPayment(params({ metadata: { sim_payer: "auto_confirm" } }), {
        idempotencyKey: randomUUID(),
      });
      const done = await status(p.id, "succeeded");
      expect(done.channel).toBe("unionpay");
      const why = (await (await admin(platform.router.url, `/v1/routing/decisions/${p.id}`, "GET")).json()) as unknown;
      expect(JSON.stringify(why)).toContain("bank_direct");
      expect(JSON.stringify(why)).toContain("unionpay");
    } finally {
      await admin(platform.router.url, "/v1/channels/unionpay", "PUT", { feeFixed: 10, feeRateBps: 60 });
    }
  });

  it("routes around a channel whose circuit is open", async () => {
    expect(
      (await admin(platform.router.url, "/v1/channels/bank_direct/circuit", "POST", { state: "open" })).status,
    ).toBe(200);
    try {
      await new Promise((r) => setTimeout(r, 1_200));
      const p = await client.createPayment(params({ metadata: { sim_payer: "auto_confirm" } }), {
        idempotencyKey: randomUUID(),
      });
      const done = await status(p.id, "succeeded");
      expect(done.channel).toBe("unionpay");
    } finally {
      await admin(platform.router.url, "/v1/channels/bank_direct/circuit", "POST", { state: "closed" });
      await new Promise((r) => setTimeout(r, 1_200));
    }
  });

  it("resolves a timeout by querying the same channel, never charging twice", async () => {
    const p = await client.createPayment(
      params({
        product: "platform_pay",
        method: { wallet: "alipay", flow: "qr_code" },
        metadata: { sim_fault: "timeout", sim_payer: "auto_confirm" },
      }),
      { idempotencyKey: randomUUID() },
    );
    const done = await status(p.id, "succeeded", 45_000);
    expect(done.channel).toBe("alipay");
    expect(done.attempts).toHaveLength(1);
    const entries = await book("alipay", done.attempts[0]!.id);
    expect(entries).toHaveLength(1);
  });

  it("fails over when the first channel definitively refused, and only then", async () => {
    const p = await client.createPayment(
      params({ metadata: { sim_fault: "unavailable", sim_payer: "auto_confirm" } }),
      { idempotencyKey: randomUUID() },
    );
    // The fault travels with every attempt of this payment, so both channels refuse every time: it fails over,
    // waits (ROUTE_WAIT_MAX_MS) and tries again, and fails only once it cannot wait any longer.
    const failed = await status(p.id, "failed");
    expect(failed.attempts.slice(0, 2).map((a) => [a.channel, a.outcome])).toEqual([
      ["bank_direct", "failed"],
      ["unionpay", "failed"],
    ]);
    expect(failed.attempts.every((a) => a.outcome === "failed")).toBe(true);
    expect(failed.failure?.code).toBe("channel_unavailable");
  });
});

describe("callbacks", () => {
  it("a duplicated callback changes nothing twice", async () => {
    const p = await client.createPayment(
      params({
        product: "platform_pay",
        method: { wallet: "wechat", flow: "qr_code" },
        metadata: { sim_fault: "callback_duplicated", sim_payer: "auto_confirm" },
      }),
      { idempotencyKey: randomUUID() },
    );
    const done = await status(p.id, "succeeded");
    await waitFor(
      async () => {
        const rows = await db.select().from(channelCallbacks).where(eq(channelCallbacks.paymentId, p.id));
        return rows.some((r) => r.outcome === "duplicate");
      },
      { what: "the duplicate callback to be recorded" },
    );
    const rows = await db
      .select({ to: paymentTransitions.toStatus })
      .from(paymentTransitions)
      .where(eq(paymentTransitions.paymentId, p.id));
    expect(rows.map((r) => r.to)).toEqual(done.timeline.map((t) => t.to));
    expect(rows.filter((r) => r.to === "succeeded")).toHaveLength(1);
  });

  it("a stale callback arriving after the final one changes nothing", async () => {
    const p = await client.createPayment(
      params({
        product: "platform_pay",
        method: { wallet: "wechat", flow: "qr_code" },
        metadata: { sim_fault: "callback_out_of_order", sim_payer: "auto_confirm" },
      }),
      { idempotencyKey: randomUUID() },
    );
    await status(p.id, "succeeded");
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await client.getPayment(p.id)).status).toBe("succeeded");
  });

  it("a forged callback is refused and recorded, and changes nothing", async () => {
    const p = await client.createPayment(params(), { idempotencyKey: randomUUID() });
    const waiting = await status(p.id, "requires_action");
    const attempt = waiting.attempts.at(-1)!;
    const forged = await fetch(`${platform.api.url}/v1/channel-callbacks/bank_direct`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        order_no: attempt.id,
        txn_id: attempt.channel_txn_id ?? "x",
        status: "SUCCESS",
        amount: "88.00",
        currency: "CNY",
        sign: "0".repeat(32),
      }).toString(),
    });
    expect([400, 401]).toContain(forged.status);
    await new Promise((r) => setTimeout(r, 500));
    expect((await client.getPayment(p.id)).status).toBe("requires_action");
  });

  it("a callback that never comes is replaced by the router's query", async () => {
    const p = await client.createPayment(
      params({
        product: "platform_pay",
        method: { wallet: "wechat", flow: "qr_code" },
        metadata: { sim_fault: "callback_never", sim_payer: "auto_confirm" },
      }),
      { idempotencyKey: randomUUID() },
    );
    const done = await status(p.id, "succeeded", 60_000);
    expect(done.timeline.at(-1)?.cause).toBe("channel.attempt_result");
  });
});

describe("merchant notifications", () => {
  it("delivers a signed notification of the success that the SDK verifies; lists and resends it", async () => {
    const received: { body: string; headers: Headers }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({
          body: Buffer.concat(chunks).toString("utf8"),
          headers: new Headers(req.headers as Record<string, string>),
        });
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/notify`;
    try {
      const p = await client.createPayment(params({ notify_url: url, metadata: { sim_payer: "auto_confirm" } }), {
        idempotencyKey: randomUUID(),
      });
      await status(p.id, "succeeded");
      await waitFor(async () => received.some((r) => JSON.parse(r.body).type === "payment.succeeded"), {
        what: "the success notification",
      });
      const n = received.find((r) => JSON.parse(r.body).type === "payment.succeeded")!;
      const body = JSON.parse(n.body) as {
        id: string;
        data: { object: { id: string; status: string; amount: number } };
      };
      expect(body.data.object).toMatchObject({ id: p.id, status: "succeeded", amount: p.amount });
      expect(verifyNotification(merchant, bodySignatureFromHeaders(n.body, n.headers))).toEqual({ ok: true });
      expect(
        verifyNotification(merchant, bodySignatureFromHeaders(n.body.replace(String(p.amount), "1"), n.headers)),
      ).toEqual({ ok: false, reason: "mismatch" });

      const listed = (await client.listPaymentNotifications(p.id)) as {
        data: { id: string; event_type: string; status: string }[];
      };
      const success = listed.data.find((x) => x.event_type === "payment.succeeded")!;
      expect(success.status).toBe("delivered");
      const before = received.length;
      await client.resendNotification(success.id, { idempotencyKey: randomUUID() });
      await waitFor(async () => received.length > before, { what: "the resent notification" });
      expect(JSON.parse(received.at(-1)!.body).id).toBe(body.id);
    } finally {
      server.close();
    }
  });
});

describe("redelivery", () => {
  it("a consumer restarted before committing applies each message once", async () => {
    const p = await client.createPayment(params({ metadata: { sim_payer: "auto_confirm" } }), {
      idempotencyKey: randomUUID(),
    });
    await status(p.id, "succeeded");
    const before = await db.select({ n: count() }).from(paymentTransitions);
    // Stop payment-api, rewind its consumer groups to the beginning (as if nothing had been committed), start it again.
    await platform.api.stop("SIGTERM");
    const kafkaAdmin = new Kafka({
      brokers: TEST_KAFKA_BROKERS.split(","),
      clientId: "e2e-rewind",
      logLevel: logLevel.NOTHING,
    }).admin();
    await kafkaAdmin.connect();
    for (const [group, topic] of [
      ["payment-api.risk-decisions", "pps.risk.decisions.v1"],
      ["payment-api.channel-results", "pps.channel.results.v1"],
    ] as const) {
      await kafkaAdmin.resetOffsets({
        groupId: `${platform.topicPrefix}${group}`,
        topic: `${platform.topicPrefix}${topic}`,
        earliest: true,
      });
    }
    await kafkaAdmin.disconnect();
    const api = await platform.restart("api");
    client = new PaymentsClient({ baseUrl: api.url, credentials: merchant });
    // Give the consumers time to re-read everything, then check nothing was applied twice.
    await new Promise((r) => setTimeout(r, 6_000));
    const after = await db.select({ n: count() }).from(paymentTransitions);
    expect(after[0]!.n).toBe(before[0]!.n);
    expect((await client.getPayment(p.id)).status).toBe("succeeded");
  });
});
