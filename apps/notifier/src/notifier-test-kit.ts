// Shared by the notifier's integration tests (not part of the app): an isolated database and topic prefix,
// a scriptable merchant endpoint, payment events, and signature checks through the merchant SDK.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { eq } from "drizzle-orm";
import type { Database } from "@pps/db";
import { deliveryAttempts, notifications } from "@pps/db/schema";
import { newId, type PaymentStatus } from "@pps/domain";
import { createLogger } from "@pps/logger";
import {
  createKafka,
  type Envelope,
  EventConsumer,
  EventPublisher,
  eventRegistry,
  makeEnvelope,
  type NotificationDeadLettered,
  type PaymentSnapshot,
  TOPICS,
} from "@pps/messaging";
import { bodySignatureFromHeaders, type MerchantCredentials, verifyNotification } from "@pps/sdk";
import { isolatedEnvironment, TEST_KAFKA_BROKERS, type TestMerchant } from "@pps/test-support";

export const INTERNAL_TOKEN = "test-internal-token-not-secret";
export const NOTIFIER_ADMIN_TOKEN = "test-notifier-admin-token";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export { sleep };

/**
 * A database and topic prefix of this file's own. Other test files start notifiers with other settings (no
 * allow-list, the default schedule); sharing a database or a consumer group with them would let their
 * dispatchers deliver (or refuse) this file's notifications.
 */
export async function isolatedPlatform(label: string) {
  const isolated = await isolatedEnvironment(label);
  const { databaseUrl, db, topicPrefix } = isolated;
  const logger = createLogger({ service: `${label}-test`, level: "silent" });
  const kafka = createKafka({ brokers: TEST_KAFKA_BROKERS.split(","), clientId: `pps-${label}-test`, logger });
  const publisher = new EventPublisher(kafka, topicPrefix);
  await publisher.start();

  const deadLetters: NotificationDeadLettered[] = [];
  const dlqReader = new EventConsumer({
    kafka,
    groupId: `${topicPrefix}dlq-reader`,
    topics: [TOPICS.notificationDeadLetter.name],
    registry: eventRegistry,
    logger,
    topicPrefix,
    handler: async (e) => {
      deadLetters.push((e as Envelope<NotificationDeadLettered>).payload);
    },
  });
  await dlqReader.start();

  return {
    databaseUrl,
    topicPrefix,
    db,
    publisher,
    deadLetters,
    /** Environment for apps on this platform. */
    env: { DATABASE_URL: databaseUrl, KAFKA_TOPIC_PREFIX: topicPrefix, INTERNAL_TOKEN },
    publish: (...events: Envelope<PaymentSnapshot>[]) => publisher.publish(TOPICS.paymentEvents.name, events),
    async close() {
      await dlqReader.stop().catch(() => undefined);
      await publisher.stop().catch(() => undefined);
      await isolated.close();
    },
  };
}

export type Platform = Awaited<ReturnType<typeof isolatedPlatform>>;

const STATUS_OF: Record<string, PaymentStatus> = {
  "payment.succeeded": "succeeded",
  "payment.failed": "failed",
  "payment.expired": "expired",
  "payment.canceled": "canceled",
  "payment.requires_action": "requires_action",
  "payment.processing": "processing",
};

/** A full payment snapshot as payment-api publishes it, for `type`'s status. */
export function paymentEvent(
  type: string,
  merchantId: string,
  notifyUrl: string,
  over: Partial<PaymentSnapshot> = {},
): Envelope<PaymentSnapshot> {
  const now = new Date();
  const paymentId = over.paymentId ?? newId("pay");
  const status = STATUS_OF[type] ?? "processing";
  const payload: PaymentSnapshot = {
    paymentId,
    merchantId,
    merchantOrderNo: `ord-${paymentId.slice(-10)}`,
    product: "online_banking",
    amount: 12_345,
    currency: "CNY",
    status,
    previousStatus: "processing",
    version: 4,
    channel: "bank_cmb",
    failureCode: status === "failed" ? "card_declined" : null,
    failureMessage: status === "failed" ? "the bank declined the card" : null,
    subject: "Notifier test order",
    payer: { id: `u_${randomUUID().slice(0, 8)}` },
    method: { bankCode: "CMB", cardType: "debit", wallet: null, flow: null },
    returnUrl: "https://shop.example/return",
    notifyUrl,
    metadata: { cart: "c-1" },
    expiresAt: new Date(now.getTime() + 30 * 60_000).toISOString(),
    createdAt: new Date(now.getTime() - 5_000).toISOString(),
    updatedAt: now.toISOString(),
    ...over,
  };
  return makeEnvelope({ type, version: 2, aggregateId: paymentId, payload });
}

export type Received = {
  at: number;
  path: string;
  body: string;
  headers: Headers;
  /** The notification's event id (from the body). */
  eventId: string | null;
  /** The status we answered, or null if we never answered (hang). */
  status: number | null;
};

/** What the endpoint does with the n-th (1-based) request for one event on one path. */
export type Behaviour = (
  n: number,
  req: Received,
) => { status: number; body?: string; delayMs?: number; headers?: Record<string, string> } | "hang";

/**
 * A merchant's notification endpoint on 127.0.0.1, scripted per path. It records every request with its
 * arrival time and tracks how many are open at once per path (a hanging request stays open until the
 * notifier gives up on it).
 */
export class Receiver {
  readonly requests: Received[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly counts = new Map<string, number>();
  private readonly open = new Map<string, number>();
  readonly maxOpen = new Map<string, number>();
  private readonly openByEvent = new Map<string, number>();
  /** The most requests for one event ever open at once (1 unless a notification was sent twice at once). */
  maxOpenPerEvent = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(port = 0): Promise<Receiver> {
    const server = createServer();
    const receiver = new Receiver(server);
    server.on("connection", (s) => {
      receiver.sockets.add(s);
      s.on("close", () => receiver.sockets.delete(s));
    });
    server.on("request", (req, res) => receiver.onRequest(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string, behaviour: Behaviour): this {
    this.behaviours.set(path, behaviour);
    return this;
  }

  forEvent(eventId: string): Received[] {
    return this.requests.filter((r) => r.eventId === eventId);
  }

  /** Requests open on `path` right now. */
  openOn(path: string): number {
    return this.open.get(path) ?? 0;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const at = Date.now();
    const path = (req.url ?? "/").split("?")[0]!;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let eventId: string | null = null;
      try {
        eventId = (JSON.parse(body) as { id?: string }).id ?? null;
      } catch {
        // not JSON: recorded as is
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers.set(k, v);
      const rec: Received = { at, path, body, headers, eventId, status: null };
      this.requests.push(rec);
      const key = `${path} ${eventId}`;
      const n = (this.counts.get(key) ?? 0) + 1;
      this.counts.set(key, n);
      const open = (this.open.get(path) ?? 0) + 1;
      this.open.set(path, open);
      this.maxOpen.set(path, Math.max(open, this.maxOpen.get(path) ?? 0));
      const eventOpen = (this.openByEvent.get(key) ?? 0) + 1;
      this.openByEvent.set(key, eventOpen);
      this.maxOpenPerEvent = Math.max(this.maxOpenPerEvent, eventOpen);
      res.on("close", () => {
        this.open.set(path, (this.open.get(path) ?? 1) - 1);
        this.openByEvent.set(key, (this.openByEvent.get(key) ?? 1) - 1);
      });
      const fallback: Behaviour = () => ({ status: 200 });
      const action = (this.behaviours.get(path) ?? fallback)(n, rec);
      if (action === "hang") return;
      const answer = () => {
        rec.status = action.status;
        res.writeHead(action.status, { "content-type": "text/plain", ...action.headers }).end(action.body ?? "ok");
      };
      if (action.delayMs) setTimeout(answer, action.delayMs);
      else answer();
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

export function credentialsOf(m: TestMerchant): MerchantCredentials {
  return {
    merchantId: m.merchantId,
    scheme: m.scheme,
    ...(m.secretKey ? { secretKey: m.secretKey } : {}),
    ...(m.platformPublicKey ? { platformPublicKey: m.platformPublicKey } : {}),
  };
}

/** The merchant SDK's verdict on a received notification. */
export function verifyReceived(m: TestMerchant, r: Received, opts: { body?: string; nowMs?: number } = {}) {
  return verifyNotification(credentialsOf(m), {
    ...bodySignatureFromHeaders(opts.body ?? r.body, r.headers),
    ...(opts.nowMs ? { nowMs: opts.nowMs } : {}),
  });
}

export async function notificationByEvent(db: Database, eventId: string) {
  const [row] = await db.select().from(notifications).where(eq(notifications.eventId, eventId));
  return row;
}

export async function attemptsOf(db: Database, notificationId: string) {
  return db
    .select()
    .from(deliveryAttempts)
    .where(eq(deliveryAttempts.notificationId, notificationId))
    .orderBy(deliveryAttempts.attemptNo);
}

/** Waits until `check` holds, polling; throws with `what` after the timeout. */
export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export const authHeaders = (token: string) => ({
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
});
