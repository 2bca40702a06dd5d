import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AppProcess,
  createTestMerchant,
  freePort,
  startApp,
  TEST_ADMIN_TOKEN,
  type TestMerchant,
} from "@pps/test-support";
import {
  attemptsOf,
  authHeaders,
  INTERNAL_TOKEN,
  isolatedPlatform,
  NOTIFIER_ADMIN_TOKEN,
  notificationByEvent,
  paymentEvent,
  type Platform,
  Receiver,
  sleep,
  until,
  verifyReceived,
} from "./notifier-test-kit.ts";

/**
 * Real processes: payment-api (merchants and their keys), the notifier under test, Kafka and Postgres, and a
 * merchant endpoint on 127.0.0.1 scripted per path. The schedule is compressed to attempts at 0, 1, 2 and 3 s.
 */
const SCHEDULE = [0, 1, 2, 3];
const JITTER = 0.1;
const POLL_MS = 50;
const TIMEOUT_MS = 500;

let p: Platform;
let api: AppProcess;
let notifier: AppProcess;
let rx: Receiver;
let hmac: TestMerchant;
let md5: TestMerchant;
let rsa: TestMerchant;

beforeAll(async () => {
  p = await isolatedPlatform("ntfa");
  rx = await Receiver.start();
  api = await startApp("payment-api", { ...p.env, ADMIN_TOKEN: TEST_ADMIN_TOKEN });
  notifier = await startApp("notifier", {
    ...p.env,
    PAYMENT_API_URL: api.url,
    ADMIN_TOKEN: NOTIFIER_ADMIN_TOKEN,
    NOTIFY_ALLOWED_HOSTS: "127.0.0.1",
    NOTIFY_SCHEDULE_SECONDS: SCHEDULE.join(","),
    NOTIFY_JITTER_RATIO: String(JITTER),
    NOTIFY_TIMEOUT_MS: String(TIMEOUT_MS),
    NOTIFY_POLL_MS: String(POLL_MS),
    NOTIFY_MERCHANT_CONCURRENCY: "4",
  });
  [hmac, md5, rsa] = await Promise.all([
    createTestMerchant(api.url, { scheme: "HMAC_SHA256" }),
    createTestMerchant(api.url, { scheme: "MD5" }),
    createTestMerchant(api.url, { scheme: "RSA_SHA256" }),
  ]);
});

afterAll(async () => {
  await Promise.all([notifier?.stop(), api?.stop()]);
  await rx?.close();
  await p?.close();
});

/**
 * Seconds after the notification's series started (its created_at) that a request arrived, checked against
 * the schedule: jitter moves attempt k by at most ±10 % of its gap from attempt k-1; on top of that the
 * dispatcher may notice a due row up to one poll (50 ms) late, and signing plus connecting on a loaded
 * 2-core test machine running other suites adds up to a few hundred ms. Early by more than the jitter (plus
 * clock rounding) would be a bug; so would late by more than jitter + 500 ms (half the smallest gap).
 */
function expectOnSchedule(arrivals: number[], createdAt: Date, expectedOffsets: number[], what: string) {
  expect(arrivals.length, what).toBe(expectedOffsets.length);
  arrivals.forEach((at, i) => {
    const k = SCHEDULE.indexOf(expectedOffsets[i]!);
    const gap = SCHEDULE[k]! - (k > 0 ? SCHEDULE[k - 1]! : 0);
    const offset = (at - createdAt.getTime()) / 1000;
    expect(offset, `${what}: attempt at ${expectedOffsets[i]} s came at ${offset.toFixed(3)} s`).toBeGreaterThanOrEqual(
      expectedOffsets[i]! - JITTER * gap - 0.02,
    );
    expect(offset, `${what}: attempt at ${expectedOffsets[i]} s came at ${offset.toFixed(3)} s`).toBeLessThanOrEqual(
      expectedOffsets[i]! + JITTER * gap + 0.5,
    );
  });
}

describe("delivery on the durable schedule", () => {
  it("retries a failing endpoint exactly when the schedule says (5xx, timeout, refused connection, 3xx/4xx), then never again", async () => {
    rx.on("/fail-5xx", (n) => (n <= 2 ? { status: 503 } : { status: 200 }));
    rx.on("/fail-timeout", (n) => (n === 1 ? "hang" : { status: 200 })); // hangs past NOTIFY_TIMEOUT_MS once
    rx.on("/fail-status", (n) => (n === 1 ? { status: 302 } : n === 2 ? { status: 404 } : { status: 200 }));
    const closedPort = await freePort(); // nothing listens here until after the second attempt
    const events = {
      fiveXx: paymentEvent("payment.succeeded", hmac.merchantId, rx.url("/fail-5xx")),
      timeout: paymentEvent("payment.failed", hmac.merchantId, rx.url("/fail-timeout")),
      status: paymentEvent("payment.expired", hmac.merchantId, rx.url("/fail-status")),
      refused: paymentEvent("payment.canceled", hmac.merchantId, `http://127.0.0.1:${closedPort}/late`),
    };
    await p.publish(...Object.values(events));

    await until(async () => (await notificationByEvent(p.db, events.refused.id)) !== undefined, "the notifications");
    const refused = (await notificationByEvent(p.db, events.refused.id))!;
    await until(async () => (await attemptsOf(p.db, refused.id)).length >= 2, "two refused connections");
    const late = await Receiver.start(closedPort);
    try {
      const delivered = async () => {
        for (const e of Object.values(events))
          if ((await notificationByEvent(p.db, e.id))?.status !== "delivered") return false;
        return true;
      };
      await until(delivered, "every notification delivered", 10_000);
      // Past the rest of the schedule (the last offset is 3 s): nothing more may arrive.
      const created = (await notificationByEvent(p.db, events.fiveXx.id))!.createdAt;
      await sleep(Math.max(0, created.getTime() + 4_500 - Date.now()));

      const at = (e: { id: string }, r: Receiver = rx) => r.forEvent(e.id).map((x) => x.at);
      const row = async (e: { id: string }) => (await notificationByEvent(p.db, e.id))!;
      expectOnSchedule(at(events.fiveXx), (await row(events.fiveXx)).createdAt, [0, 1, 2], "5xx twice");
      expectOnSchedule(at(events.timeout), (await row(events.timeout)).createdAt, [0, 1], "timeout once");
      expectOnSchedule(at(events.status), (await row(events.status)).createdAt, [0, 1, 2], "302 then 404");
      expectOnSchedule(at(events.refused, late), refused.createdAt, [2], "refused twice, then listening");
      const refusedAttempts = await attemptsOf(p.db, refused.id);
      expectOnSchedule(
        refusedAttempts.map((a) => a.startedAt.getTime()),
        refused.createdAt,
        [0, 1, 2],
        "refused: every attempt",
      );

      const summary = async (e: { id: string }) =>
        (await attemptsOf(p.db, (await row(e)).id)).map((a) => [a.outcome, a.statusCode, a.error]);
      expect(await summary(events.fiveXx)).toEqual([
        ["failed", 503, "unexpected_status"],
        ["failed", 503, "unexpected_status"],
        ["delivered", 200, null],
      ]);
      expect(await summary(events.timeout)).toEqual([
        ["failed", null, "timeout"],
        ["delivered", 200, null],
      ]);
      expect(await summary(events.status)).toEqual([
        ["failed", 302, "unexpected_status"],
        ["failed", 404, "unexpected_status"],
        ["delivered", 200, null],
      ]);
      expect(await summary(events.refused)).toEqual([
        ["failed", null, "connection_refused"],
        ["failed", null, "connection_refused"],
        ["delivered", 200, null],
      ]);
      const timedOut = (await attemptsOf(p.db, (await row(events.timeout)).id))[0]!;
      expect(timedOut.latencyMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(timedOut.latencyMs).toBeLessThan(TIMEOUT_MS + 300);

      // Every attempt is the same body, signed afresh, and verifies. X-Timestamp has whole-second resolution
      // and attempts 1 and 2 (1 s and 2 s, each ±10 %) may share a second, so "afresh" is checked as: each
      // attempt's timestamp is the second it was sent in, and the first and last (≥ 1.8 s apart) differ.
      const fiveXx = rx.forEvent(events.fiveXx.id);
      expect(new Set(fiveXx.map((r) => r.body)).size).toBe(1);
      const stamps = fiveXx.map((r) => Number(r.headers.get("x-timestamp")));
      for (const [i, r] of fiveXx.entries())
        expect(
          Math.abs(stamps[i]! - Math.floor(r.at / 1000)),
          `attempt ${i + 1} signed at its own time`,
        ).toBeLessThanOrEqual(1);
      expect(stamps[2]!).toBeGreaterThan(stamps[0]!);
      for (const r of [...rx.requests.filter((x) => x.path.startsWith("/fail-")), ...late.requests])
        expect(verifyReceived(hmac, r)).toEqual({ ok: true });
    } finally {
      await late.close();
    }
  });

  it("signs for every merchant scheme so the SDK verifies it; a tampered body or an old timestamp fails", async () => {
    const merchants = [hmac, md5, rsa];
    const events = merchants.map((m) => paymentEvent("payment.succeeded", m.merchantId, rx.url("/signed")));
    await p.publish(...events);
    await until(() => events.every((e) => rx.forEvent(e.id).length === 1), "three signed notifications");

    merchants.forEach((m, i) => {
      const e = events[i]!;
      const r = rx.forEvent(e.id)[0]!;
      expect(r.headers.get("content-type")).toBe("application/json");
      expect(r.headers.get("x-sign-type")).toBe(m.scheme === "HMAC_SHA256" ? null : m.scheme);
      expect(r.headers.get("x-signature-legacy") !== null).toBe(m.scheme !== "HMAC_SHA256");
      expect(verifyReceived(m, r), m.scheme).toEqual({ ok: true });
      const tampered = r.body.replace('"amount":12345', '"amount":12346');
      expect(tampered).not.toBe(r.body);
      expect(verifyReceived(m, r, { body: tampered }), m.scheme).toEqual({ ok: false, reason: "mismatch" });
      expect(verifyReceived(m, r, { nowMs: Date.now() + 10 * 60_000 }), m.scheme).toEqual({
        ok: false,
        reason: "stale",
      });
      // Another merchant's key does not verify it either.
      expect(verifyReceived(merchants[(i + 1) % 3]!, r).ok).toBe(false);
    });

    // The body: the event and the payment in the merchant API's snake_case shape.
    const e = events[1]!;
    const pay = e.payload;
    expect(JSON.parse(rx.forEvent(e.id)[0]!.body)).toEqual({
      id: e.id,
      type: "payment.succeeded",
      created_at: e.occurredAt,
      data: {
        object: {
          id: pay.paymentId,
          object: "payment",
          merchant_id: md5.merchantId,
          merchant_order_no: pay.merchantOrderNo,
          product: "online_banking",
          amount: 12_345,
          currency: "CNY",
          subject: pay.subject,
          status: "succeeded",
          version: 4,
          payer: { id: pay.payer.id },
          method: { bank_code: "CMB", card_type: "debit", wallet: null, flow: null },
          channel: "bank_cmb",
          failure: null,
          metadata: { cart: "c-1" },
          expires_at: pay.expiresAt,
          created_at: pay.createdAt,
          updated_at: pay.updatedAt,
        },
      },
    });
  });

  it("makes one notification per event: a duplicate delivery of the event changes nothing, and other types are not notified", async () => {
    const first = paymentEvent("payment.failed", hmac.merchantId, rx.url("/dup"));
    const processing = paymentEvent("payment.processing", hmac.merchantId, rx.url("/dup"), {
      paymentId: first.payload.paymentId,
      version: 3,
    });
    // Same key, so the same partition and in order: once the marker is delivered the duplicates were consumed.
    const marker = paymentEvent("payment.requires_action", hmac.merchantId, rx.url("/dup"), {
      paymentId: first.payload.paymentId,
      version: 5,
    });
    await p.publish(first, first, processing, first, marker);
    await until(() => rx.forEvent(marker.id).length === 1, "the marker notification");
    await sleep(300);

    const res = await fetch(
      `${notifier.url}/internal/v1/notifications?merchant_id=${hmac.merchantId}&payment_id=${first.payload.paymentId}`,
      { headers: authHeaders(INTERNAL_TOKEN) },
    );
    expect(res.status).toBe(200);
    const list = (await res.json()) as { data: { event_id: string; event_type: string; object_version: number }[] };
    expect(list.data.map((n) => [n.event_type, n.event_id, n.object_version]).sort()).toEqual(
      [
        ["payment.failed", first.id, 4],
        ["payment.requires_action", marker.id, 5],
      ].sort(),
    );
    expect(rx.forEvent(first.id)).toHaveLength(1);
    expect(rx.forEvent(processing.id)).toHaveLength(0);
  });
});

describe("dead letters, resend and the APIs", () => {
  it("operators set a merchant's schedule and in-flight limit (validated, admin token required)", async () => {
    const url = `${notifier.url}/v1/merchants/${md5.merchantId}/notification-settings`;
    const before = await fetch(url, { headers: authHeaders(NOTIFIER_ADMIN_TOKEN) });
    expect(await before.json()).toEqual({
      merchant_id: md5.merchantId,
      schedule_seconds: null,
      max_concurrency: null,
      ordered_delivery: false,
      effective: { schedule_seconds: SCHEDULE, max_concurrency: 4 },
      updated_at: null,
    });

    const put = (body: unknown, token = NOTIFIER_ADMIN_TOKEN) =>
      fetch(url, { method: "PUT", headers: authHeaders(token), body: JSON.stringify(body) });
    expect((await put({ schedule_seconds: [0, 0] })).status).toBe(400);
    const bad = (await (await put({ schedule_seconds: [0, 5], max_concurrency: 0, extra: 1 })).json()) as {
      error: { code: string; details: { path: string }[] };
    };
    expect(bad.error.code).toBe("request.validation_failed");
    expect(bad.error.details.map((d) => d.path).sort()).toEqual(["", "max_concurrency"]);
    const unauth = await put({ schedule_seconds: [0, 5] }, "wrong-token-000000");
    expect(unauth.status).toBe(401);
    expect(((await unauth.json()) as { error: { code: string } }).error.code).toBe("auth.admin_token_invalid");

    const ok = await put({ schedule_seconds: [0, 5, 60], max_concurrency: 2 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({
      merchant_id: md5.merchantId,
      schedule_seconds: [0, 5, 60],
      max_concurrency: 2,
      ordered_delivery: false,
      effective: { schedule_seconds: [0, 5, 60], max_concurrency: 2 },
    });
    const reset = (await (await put({})).json()) as { effective: unknown };
    expect(reset.effective).toEqual({ schedule_seconds: SCHEDULE, max_concurrency: 4 });
  });

  it("a permanently failing endpoint ends dead after its last attempt, with a dead-letter event; resend delivers it once the endpoint works", async () => {
    const m = await createTestMerchant(api.url);
    // This merchant's own schedule: two attempts, 1 s apart.
    const put = await fetch(`${notifier.url}/v1/merchants/${m.merchantId}/notification-settings`, {
      method: "PUT",
      headers: authHeaders(NOTIFIER_ADMIN_TOKEN),
      body: JSON.stringify({ schedule_seconds: [0, 1] }),
    });
    expect(put.status).toBe(200);
    let up = false;
    rx.on("/down", () => (up ? { status: 200, body: "thanks" } : { status: 503, body: "maintenance" }));
    const e = paymentEvent("payment.succeeded", m.merchantId, rx.url("/down"));
    await p.publish(e);

    await until(() => p.deadLetters.some((d) => d.eventId === e.id), "the dead-letter event", 10_000);
    const dead = (await notificationByEvent(p.db, e.id))!;
    expect(dead).toMatchObject({ status: "dead", attempts: 2, lastError: "unexpected_status", lastStatusCode: 503 });
    expect(p.deadLetters.find((d) => d.eventId === e.id)).toEqual({
      notificationId: dead.id,
      merchantId: m.merchantId,
      paymentId: e.payload.paymentId,
      eventId: e.id,
      eventType: "payment.succeeded",
      attempts: 2,
      lastError: "unexpected_status",
      lastStatusCode: 503,
      url: rx.url("/down"),
      deadAt: expect.any(String),
    });
    expectOnSchedule(
      rx.forEvent(e.id).map((r) => r.at),
      dead.createdAt,
      [0, 1],
      "the merchant's own schedule",
    );
    await sleep(1_200);
    expect(rx.forEvent(e.id)).toHaveLength(2); // dead: no more attempts

    const list = async () => {
      const res = await fetch(
        `${notifier.url}/internal/v1/notifications?merchant_id=${m.merchantId}&payment_id=${e.payload.paymentId}`,
        { headers: authHeaders(INTERNAL_TOKEN) },
      );
      expect(res.status).toBe(200);
      return (await res.json()) as { data: Record<string, unknown>[]; has_more: boolean; object: string };
    };
    const view = await list();
    expect(view).toMatchObject({ object: "list", has_more: false });
    expect(view.data).toEqual([
      {
        id: dead.id,
        object: "notification",
        merchant_id: m.merchantId,
        payment_id: e.payload.paymentId,
        event_id: e.id,
        event_type: "payment.succeeded",
        object_version: 4,
        url: rx.url("/down"),
        status: "dead",
        attempts: 2,
        series: 1,
        next_attempt_at: null,
        delivered_at: null,
        last_error: "unexpected_status",
        last_status_code: 503,
        event_occurred_at: e.occurredAt,
        created_at: expect.any(String),
        updated_at: expect.any(String),
        body: rx.forEvent(e.id)[0]!.body,
        delivery_attempts: [1, 2].map((n) => ({
          attempt_no: n,
          series: 1,
          started_at: expect.any(String),
          outcome: "failed",
          status_code: 503,
          latency_ms: expect.any(Number),
          response_body: "maintenance",
          error: "unexpected_status",
          error_detail: "HTTP 503",
        })),
      },
    ]);

    const resend = (merchantId: string, token = INTERNAL_TOKEN, id = dead.id) =>
      fetch(`${notifier.url}/internal/v1/notifications/${id}/resend`, {
        method: "POST",
        headers: authHeaders(token),
        body: JSON.stringify({ merchant_id: merchantId }),
      });
    const other = await resend(hmac.merchantId);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe("request.not_found");
    expect((await resend(m.merchantId, "not-the-internal-token")).status).toBe(401);
    expect((await resend(m.merchantId, INTERNAL_TOKEN, "ntf_nope")).status).toBe(404);
    const malformed = await fetch(`${notifier.url}/internal/v1/notifications/${dead.id}/resend`, {
      method: "POST",
      headers: authHeaders(INTERNAL_TOKEN),
      body: "{}",
    });
    expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe("request.validation_failed");
    expect(rx.forEvent(e.id)).toHaveLength(2);

    up = true;
    const resent = await resend(m.merchantId);
    expect(resent.status).toBe(200);
    expect(await resent.json()).toMatchObject({
      id: dead.id,
      status: "pending",
      series: 2,
      attempts: 2,
      next_attempt_at: expect.any(String),
    });
    await until(
      async () => (await notificationByEvent(p.db, e.id))?.status === "delivered",
      "the resent notification delivered",
      5_000,
    );
    const after = await list();
    expect(after.data[0]).toMatchObject({
      status: "delivered",
      attempts: 3,
      series: 2,
      last_error: null,
      last_status_code: 200,
      delivered_at: expect.any(String),
      next_attempt_at: null,
    });
    expect(
      (after.data[0]!.delivery_attempts as { series: number; outcome: string }[]).map((a) => [a.series, a.outcome]),
    ).toEqual([
      [1, "failed"],
      [1, "failed"],
      [2, "delivered"],
    ]);
    expect(rx.forEvent(e.id)).toHaveLength(3);
    expect(verifyReceived(m, rx.forEvent(e.id)[2]!)).toEqual({ ok: true });

    // A delivered notification can be sent again on request too; afterwards it stays delivered.
    expect((await resend(m.merchantId)).status).toBe(200);
    await until(() => rx.forEvent(e.id).length === 4, "the second resend");
    await until(async () => (await notificationByEvent(p.db, e.id))?.status === "delivered", "delivered again");
    await sleep(1_200);
    expect(rx.forEvent(e.id)).toHaveLength(4);
  });

  it("answers bad internal queries with the error shape and exposes delivery metrics", async () => {
    const noMerchant = await fetch(`${notifier.url}/internal/v1/notifications`, {
      headers: authHeaders(INTERNAL_TOKEN),
    });
    expect(noMerchant.status).toBe(400);
    expect(((await noMerchant.json()) as { error: { code: string } }).error.code).toBe("request.validation_failed");
    expect((await fetch(`${notifier.url}/internal/v1/notifications?merchant_id=${hmac.merchantId}`)).status).toBe(401);
    // The admin token is not the internal one.
    expect(
      (
        await fetch(`${notifier.url}/internal/v1/notifications?merchant_id=${hmac.merchantId}`, {
          headers: authHeaders(NOTIFIER_ADMIN_TOKEN),
        })
      ).status,
    ).toBe(401);

    const text = await (await fetch(`${notifier.url}/metrics`)).text();
    // Label order differs between metric types; match each series by its labels.
    const sample = (name: string, labels: Record<string, string>) =>
      text
        .split("\n")
        .filter((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)))
        .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    expect(sample("notification_deliveries_total", { outcome: "delivered", error: "none" })).toBeGreaterThan(0);
    expect(sample("notification_deliveries_total", { outcome: "failed", error: "timeout" })).toBeGreaterThan(0);
    expect(sample("notification_deliveries_total", { outcome: "failed", error: "connection_refused" })).toBe(2);
    expect(sample("notification_first_delivery_delay_seconds_count", {})).toBeGreaterThan(0);
    expect(sample("notification_delivery_duration_seconds_count", { outcome: "delivered" })).toBeGreaterThan(0);
    expect(sample("notifications_dead_total", { error: "unexpected_status" })).toBe(1);
  });
});
