// Shared by payment-api's tests (not part of the app). inProcessApi: the app built with createApp(deps) on a real
// Postgres database of its own, with no port and no Kafka; nothing reads Kafka in those tests, so the outbox
// relay is a counter, and SMS codes are kept for the test instead of being sent. processApi: the app as a real
// process with a Kafka publisher beside it, for the tests that play the other stages over Kafka.
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { channelConfigFromEnv, createChannelAdapters } from "@pps/channels";
import { createKafka, EventPublisher, makeEnvelope, type RiskDecision, riskEvents } from "@pps/messaging";
import { createLogger } from "@pps/logger";
import { createMetrics, runService } from "@pps/runtime";
import type { SignFormat } from "@pps/signing";
import { type CreatePaymentParams, type MerchantCredentials, PaymentsClient } from "@pps/sdk";
import {
  createTestMerchant,
  isolatedDatabase,
  isolatedEnvironment,
  startApp,
  TEST_ADMIN_TOKEN,
  TEST_KAFKA_BROKERS,
  type TestMerchant,
} from "@pps/test-support";
import { createApp } from "./app.ts";
import { createRiskDecisionHandler } from "./consumers/risk-decisions.ts";
import { loadAppEnv } from "./env.ts";
import type { ApiDeps } from "./http/context.ts";
import { FrozenPayers, MerchantDirectory } from "./payments/merchants.ts";

/** A risk decision as risk-stub publishes it. */
export function riskDecisionEnvelope(
  paymentId: string,
  merchantId: string,
  outcome: RiskDecision["outcome"],
  reasons: string[] = [],
) {
  const payload: RiskDecision = {
    decisionId: randomUUID(),
    paymentId,
    merchantId,
    outcome,
    reasons,
    decidedAt: new Date().toISOString(),
  };
  return makeEnvelope({ type: riskEvents.decided.type, version: 1, aggregateId: paymentId, payload });
}

/**
 * payment-api as a real process on an environment of its own (database, topic prefix), a Kafka publisher
 * on that prefix to play risk-stub and the router, and one merchant with its SDK client.
 */
export async function processApi(label: string) {
  const isolated = await isolatedEnvironment(label);
  const api = await startApp("payment-api", {
    ...isolated.env,
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    EXPIRY_SWEEP_INTERVAL_MS: "200",
  });
  const publisher = new EventPublisher(
    createKafka({
      brokers: TEST_KAFKA_BROKERS.split(","),
      clientId: `payment-api-${label}-test`,
      logger: createLogger({ service: "t", level: "silent" }),
    }),
    isolated.topicPrefix,
  );
  await publisher.start();
  const merchant = await createTestMerchant(api.url);
  return {
    isolated,
    db: isolated.db,
    api,
    publisher,
    merchant,
    client: new PaymentsClient({ baseUrl: api.url, credentials: merchant }),
    async stop() {
      await publisher.stop();
      await api.stop();
      await isolated.close();
    },
  };
}

/** Where the in-process app believes it is reachable (pay links are built from it); nothing listens there. */
/** A valid online-banking payment request with a fresh order number and payer, for tests to vary. */
export function paymentParams(overrides: Partial<CreatePaymentParams> = {}): CreatePaymentParams {
  return {
    merchant_order_no: `o_${randomBytes(8).toString("hex")}`,
    product: "online_banking",
    amount: 12_345,
    currency: "CNY",
    subject: "Annual cable TV subscription",
    payer: {
      id: `u_${randomBytes(4).toString("hex")}`,
      ip: "203.0.113.7",
      device_id: "dev-1",
      phone: "+8613800138000",
    },
    method: { bank_code: "CMB" },
    notify_url: "https://shop.example/notify",
    return_url: "https://shop.example/return",
    ...overrides,
  };
}

export const IN_PROCESS_BASE_URL = "http://127.0.0.1:7100";

export type InProcessMerchant = TestMerchant & { signFormat: SignFormat };
export type InProcessApi = Awaited<ReturnType<typeof inProcessApi>>;

const secret = (label: string) => `${label}-${randomBytes(18).toString("base64url")}`;

/**
 * payment-api as createApp(deps) builds it, on a migrated database of its own, answering `app.request()`.
 * Every log line is kept (level trace), every secret the app or the test makes is listed, so a test can scan
 * the logs for them; `sms.sent` holds the codes that would have gone to payers.
 */
export async function inProcessApi(label: string, opts: { env?: Record<string, string>; now?: () => number } = {}) {
  const database = await isolatedDatabase(label);
  const { db } = database;
  const logLines: string[] = [];
  const logger = createLogger({
    service: "payment-api",
    level: "trace",
    destination: { write: (line: string) => void logLines.push(line) },
  });
  const tokens = { admin: secret("admin"), internal: secret("internal"), payLink: secret("paylink") };
  const env = loadAppEnv({
    NODE_ENV: "test",
    DATABASE_URL: database.databaseUrl,
    PUBLIC_BASE_URL: IN_PROCESS_BASE_URL,
    ADMIN_TOKEN: tokens.admin,
    INTERNAL_TOKEN: tokens.internal,
    PAY_LINK_SECRET: tokens.payLink,
    // Nothing listens on port 9 (discard): a call that reaches the notifier or the SMS gateway fails fast.
    NOTIFIER_URL: "http://127.0.0.1:9",
    SMS_GATEWAY_URL: "http://127.0.0.1:9",
    ...opts.env,
  });
  const sent: { phone: string; text: string }[] = [];
  const sms = {
    sent,
    async send(phone: string, text: string) {
      sent.push({ phone, text });
    },
  };
  const relay = {
    notifications: 0,
    notify() {
      relay.notifications++;
    },
  };
  const merchants = new MerchantDirectory(db);
  const frozenPayers = new FrozenPayers(db);
  const deps: ApiDeps = {
    db,
    logger,
    env,
    merchants,
    frozenPayers,
    relay,
    sms,
    ...(opts.now ? { now: opts.now } : {}),
  };
  const app = createApp({
    ...deps,
    metrics: createMetrics("payment-api"),
    readiness: [],
    adapters: createChannelAdapters(channelConfigFromEnv(env.channelVars)),
  });

  /** Secrets the logs must never show: tokens, merchants' keys, private keys (filled as merchants are made). */
  const secrets: { what: string; value: string }[] = [
    { what: "admin token", value: tokens.admin },
    { what: "internal token", value: tokens.internal },
    { what: "pay link secret", value: tokens.payLink },
  ];
  const url = (path: string) => `${IN_PROCESS_BASE_URL}${path}`;
  const request = async (path: string, init?: RequestInit) => app.request(url(path), init);
  /** What the SDK calls instead of fetch: the same Request, answered in-process. */
  const inProcessFetch: typeof fetch = async (input, init) =>
    app.request(input instanceof Request ? input : String(input), init);
  const admin = (method: string, path: string, body: unknown) =>
    request(path, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${tokens.admin}` },
      body: JSON.stringify(body),
    });

  async function createMerchant(
    o: { scheme?: TestMerchant["scheme"]; products?: string[]; signFormat?: SignFormat; id?: string } = {},
  ): Promise<InProcessMerchant> {
    const scheme = o.scheme ?? "HMAC_SHA256";
    const signFormat = o.signFormat ?? "v2";
    const id = o.id ?? `m_${randomBytes(6).toString("hex")}`;
    const keys =
      scheme === "RSA_SHA256"
        ? generateKeyPairSync("rsa", {
            modulusLength: 2048,
            publicKeyEncoding: { type: "spki", format: "pem" },
            privateKeyEncoding: { type: "pkcs8", format: "pem" },
          })
        : undefined;
    const res = await admin("POST", "/v1/admin/merchants", {
      id,
      name: `Test shop ${id}`,
      sign_scheme: scheme,
      sign_format: signFormat,
      enabled_products: o.products ?? ["online_banking", "platform_pay", "foreign_card", "carrier_billing"],
      ...(keys ? { public_key: keys.publicKey } : {}),
    });
    if (res.status !== 201) throw new Error(`creating a merchant failed: ${res.status} ${await res.text()}`);
    const { secret_key } = (await res.json()) as { secret_key: string };
    secrets.push({ what: `secret key of ${id}`, value: secret_key });
    if (!keys) return { merchantId: id, scheme, signFormat, secretKey: secret_key };
    secrets.push({ what: `private key of ${id}`, value: keys.privateKey });
    // A PEM's body, line by line: a log line holding any part of the key is as bad as one holding all of it.
    for (const line of keys.privateKey.split("\n").filter((l) => l.length >= 40))
      secrets.push({ what: `private key line of ${id}`, value: line });
    return {
      merchantId: id,
      scheme,
      signFormat,
      secretKey: secret_key,
      privateKey: keys.privateKey,
      platformPublicKey: env.PLATFORM_SIGNING_PUBLIC_KEY,
    };
  }

  async function setMerchantStatus(merchantId: string, status: "active" | "suspended" | "closed"): Promise<void> {
    const res = await admin("PATCH", `/v1/admin/merchants/${merchantId}`, { status });
    if (res.status !== 200) throw new Error(`changing the merchant's status failed: ${res.status} ${await res.text()}`);
  }

  async function setPayerStatus(payerId: string, status: "active" | "frozen"): Promise<void> {
    const res = await admin("PUT", `/v1/admin/payers/${encodeURIComponent(payerId)}`, { status });
    if (res.status !== 200) throw new Error(`changing the payer's status failed: ${res.status} ${await res.text()}`);
  }

  const riskHandler = createRiskDecisionHandler(deps);
  /**
   * Risk challenges a payment in risk_review, as the risk-decision consumer applies it from Kafka: the payment
   * moves to requires_verification and its code is texted. Returns that code.
   */
  async function challenge(paymentId: string, merchantId: string): Promise<string> {
    const before = sent.length;
    await riskHandler(riskDecisionEnvelope(paymentId, merchantId, "challenge", ["test_challenge"]));
    const text = sent.slice(before).at(-1)?.text;
    const code = text ? /\b(\d{6})\b/.exec(text)?.[1] : undefined;
    if (!code) throw new Error(`no verification code was sent for ${paymentId}`);
    return code;
  }

  let tables: string[] | undefined;
  /** Rows of every table of the payment schema, by table. */
  async function countRows(): Promise<Record<string, number>> {
    tables ??= (
      await db.$client<
        { name: string }[]
      >`select table_name as name from information_schema.tables where table_schema = 'payment' and table_type = 'BASE TABLE' order by table_name`
    ).map((r) => r.name);
    const [row] = await db.$client.unsafe<Record<string, number>[]>(
      `select ${tables.map((t) => `(select count(*) from payment."${t}")::int as "${t}"`).join(", ")}`,
    );
    return row!;
  }

  return {
    app,
    db,
    deps,
    env,
    sms,
    relay,
    tokens,
    secrets,
    logLines,
    url,
    request,
    inProcessFetch,
    admin,
    createMerchant,
    setMerchantStatus,
    setPayerStatus,
    challenge,
    countRows,
    /** The SDK, signing as the merchant (in its sign format), answered in-process. */
    client: (m: MerchantCredentials) =>
      new PaymentsClient({ baseUrl: IN_PROCESS_BASE_URL, credentials: m, fetch: inProcessFetch }),
    /** The same app behind a real HTTP server (@hono/node-server, as main.ts serves it) on a free port. */
    async listen(): Promise<{ url: string; port: number; close: () => Promise<void> }> {
      const running = await runService({
        service: "payment-api",
        logger,
        app,
        host: "127.0.0.1",
        port: 0,
        components: [],
        shutdownTimeoutMs: 5_000,
        drainTimeoutMs: 1_000,
        handleSignals: false,
        exit: () => undefined,
      });
      return {
        url: `http://127.0.0.1:${running.port}`,
        port: running.port,
        close: () => running.shutdown("test over"),
      };
    },
    close: () => database.close(),
  };
}
