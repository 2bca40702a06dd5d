import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOPICS } from "@pps/messaging";
import { PaymentsClient, type CreatePaymentParams, type PaymentDetail } from "@pps/sdk";
import { createTestMerchant, TEST_ADMIN_TOKEN, TEST_KAFKA_BROKERS, waitFor } from "@pps/test-support";
import { actAsPayer, latestSmsCode } from "../support/payer.ts";
import { startPlatform, type Platform } from "../support/platform.ts";

/**
 * The payer's phone, IP and device id never reach a public topic: payments run through all six apps (real
 * processes, Kafka, Postgres, channel-sim), every message of every topic is read raw from the broker, and the
 * bytes of the public ones are searched for the values the payers gave. Meanwhile the stages that need them
 * still get them, over the restricted pps.payment.internal.v1: risk-stub blocks by device and by IP, and
 * carrier billing texts the payer's phone.
 */
let platform: Platform;
let client: PaymentsClient;
let recorder: Consumer;
type Raw = { topic: string; key: string; value: Buffer; headers: Record<string, string> };
const seen: Raw[] = [];

const hex = () => randomBytes(5).toString("hex");
/** Values distinctive enough that finding one in a message can only mean it was copied there. */
const payerData = () => ({
  ip: `198.51.${randomInt(0, 100)}.${randomInt(100, 255)}`,
  device_id: `dev-pii-${hex()}`,
  phone: `+86139${String(randomInt(0, 1e8)).padStart(8, "0")}`,
});

function params(
  payer: ReturnType<typeof payerData>,
  overrides: Partial<CreatePaymentParams> = {},
): CreatePaymentParams {
  return {
    merchant_order_no: `pii_${hex()}`,
    product: "online_banking",
    amount: 2_000,
    currency: "CNY",
    subject: "Personal data test",
    payer: { id: `u_${hex()}`, ...payer },
    method: { bank_code: "CMB" },
    notify_url: "https://shop.example/notify",
    return_url: "https://shop.example/return",
    ...overrides,
  };
}

async function status(id: string, wanted: string, timeoutMs = 30_000): Promise<PaymentDetail> {
  let last: PaymentDetail | undefined;
  const reached = async () => {
    last = await client.getPayment(id);
    return last.status === wanted;
  };
  await waitFor(reached, { what: `${id} ${wanted}`, timeoutMs, intervalMs: 150 }).catch((err: Error) => {
    throw new Error(
      `${err.message}; last seen ${JSON.stringify({ status: last?.status, failure: last?.failure, timeline: last?.timeline })}`,
    );
  });
  return last!;
}

async function blocklist(kind: "device" | "ip", value: string): Promise<void> {
  const res = await fetch(`${platform.risk.url}/v1/risk/blocklist`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    body: JSON.stringify({ kind, value, reason: "personal data test" }),
  });
  expect(res.status).toBe(201);
}

const unprefixed = (topic: string) => topic.slice(platform.topicPrefix.length);
const restricted = new Set<string>(
  Object.values(TOPICS)
    .filter((t) => t.restricted)
    .map((t) => t.name),
);

beforeAll(async () => {
  platform = await startPlatform();
  client = new PaymentsClient({ baseUrl: platform.api.url, credentials: await createTestMerchant(platform.api.url) });
  // Every topic of this platform, from the beginning, as bytes: nothing is decoded before it is searched.
  recorder = new Kafka({
    brokers: TEST_KAFKA_BROKERS.split(","),
    clientId: "pii-scan",
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `pii-scan-${randomUUID()}`, maxWaitTimeInMs: 500 });
  await recorder.connect();
  await recorder.subscribe({
    topics: Object.values(TOPICS).map((t) => `${platform.topicPrefix}${t.name}`),
    fromBeginning: true,
  });
  await recorder.run({
    eachMessage: async ({ topic, message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(Array.isArray(v) ? v.join(",") : (v ?? ""))]),
      );
      seen.push({
        topic: unprefixed(topic),
        key: message.key?.toString() ?? "",
        value: message.value ?? Buffer.alloc(0),
        headers,
      });
    },
  });
}, 180_000);

afterAll(async () => {
  await recorder?.disconnect().catch(() => undefined);
  await platform?.stop();
});

describe("personal data on Kafka", () => {
  it("stays off every public topic through payment, risk and carrier billing; only the restricted topic carries it", async () => {
    const carrier = payerData();
    const deviceBlocked = payerData();
    const ipBlocked = payerData();
    const wallet = payerData();
    await blocklist("device", deviceBlocked.device_id);
    await blocklist("ip", ipBlocked.ip);
    await new Promise((r) => setTimeout(r, 1_500)); // risk-stub refreshes its cached lists within a second

    // Carrier billing: the router sends the payer's phone to the carrier, which texts the code to it.
    const carrierReq = params(carrier, { product: "carrier_billing", amount: 1_500, method: {} });
    const paidByPhone = await client.createPayment(carrierReq, { idempotencyKey: randomUUID() });
    // Risk blocks by the device id and by the IP, which it reads from the restricted topic only.
    const byDevice = await client.createPayment(params(deviceBlocked), { idempotencyKey: randomUUID() });
    const byIp = await client.createPayment(params(ipBlocked), { idempotencyKey: randomUUID() });
    // A wallet payment (WeChat Pay is sent the payer's IP), paid by the simulated payer.
    const byWallet = await client.createPayment(
      params(wallet, {
        product: "platform_pay",
        method: { wallet: "wechat", flow: "qr_code" },
        metadata: { sim_payer: "auto_confirm" },
      }),
      {
        idempotencyKey: randomUUID(),
      },
    );

    const waiting = await status(paidByPhone.id, "requires_action");
    expect(waiting.next_action).toMatchObject({ type: "sms_confirmation" });
    let code: string | null = null;
    const texted = async () => {
      code = await latestSmsCode(platform.sim.url, carrier.phone);
      return code !== null;
    };
    await waitFor(texted, { what: "the carrier SMS to the payer's phone" });
    expect((await actAsPayer(platform.sim.url, waiting, "confirm", { smsCode: code! })).status).toBe(200);
    await status(paidByPhone.id, "succeeded");
    expect((await status(byDevice.id, "failed")).failure).toEqual({
      code: "risk_blocked",
      message: "blocked by risk rules: device_blocklisted",
    });
    expect((await status(byIp.id, "failed")).failure).toEqual({
      code: "risk_blocked",
      message: "blocked by risk rules: ip_blocklisted",
    });
    await status(byWallet.id, "succeeded");

    // Every payment's last public event has been read: the scan below covers their whole lives.
    const finals = new Map([
      [paidByPhone.id, "payment.succeeded"],
      [byDevice.id, "payment.failed"],
      [byIp.id, "payment.failed"],
      [byWallet.id, "payment.succeeded"],
    ]);
    await waitFor(
      async () =>
        [...finals].every(([id, type]) =>
          seen.some((m) => m.topic === TOPICS.paymentEvents.name && m.key === id && m.headers["event-type"] === type),
        ),
      {
        what: "the final public event of every payment",
        timeoutMs: 20_000,
      },
    );

    const values = [carrier, deviceBlocked, ipBlocked, wallet].flatMap((p) => [
      p.ip,
      p.device_id,
      p.phone,
      p.phone.slice(1),
    ]);
    const found = (m: Raw) =>
      values.filter(
        (v) => m.value.includes(v) || m.key.includes(v) || Object.values(m.headers).some((h) => h.includes(v)),
      );
    const open = seen.filter((m) => !restricted.has(m.topic));
    const leaks = open.flatMap((m) => found(m).map((v) => `${m.topic} ${m.headers["event-type"] ?? ""}: ${v}`));
    expect(leaks).toEqual([]);
    // The scan looked at the public life of every payment (and at the other public topics), all at v2.
    const publicEvents = open.filter((m) => m.topic === TOPICS.paymentEvents.name && finals.has(m.key));
    expect(publicEvents.length).toBeGreaterThanOrEqual(11);
    expect(new Set(publicEvents.map((m) => m.headers["event-version"]))).toEqual(new Set(["2"]));
    expect([...new Set(open.map((m) => m.topic))]).toEqual(
      expect.arrayContaining([TOPICS.paymentEvents.name, TOPICS.riskDecisions.name, TOPICS.channelResults.name]),
    );

    // The restricted topic is where the data went: each payment's risk review, and processing for the two paid.
    // (Beside them, payment.internal.channel_settled tells the router a callback settled an attempt: no
    // personal data in it.)
    const onRestricted = seen.filter((m) => m.topic === TOPICS.paymentInternal.name && finals.has(m.key));
    const settledNotes = onRestricted.filter((m) => m.headers["event-type"] === "payment.internal.channel_settled");
    for (const m of settledNotes) expect(found(m)).toEqual([]);
    const internal = onRestricted.filter((m) => !settledNotes.includes(m));
    const twins = (id: string) => internal.filter((m) => m.key === id).map((m) => m.headers["event-type"]);
    expect(twins(paidByPhone.id)).toEqual(["payment.internal.created", "payment.internal.processing"]);
    expect(twins(byWallet.id)).toEqual(["payment.internal.created", "payment.internal.processing"]);
    expect(twins(byDevice.id)).toEqual(["payment.internal.created"]);
    expect(twins(byIp.id)).toEqual(["payment.internal.created"]);
    for (const m of internal.filter((x) => x.key === paidByPhone.id))
      expect(found(m)).toEqual(expect.arrayContaining([carrier.ip, carrier.device_id, carrier.phone]));
  });
});
