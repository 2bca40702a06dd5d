import {
  Kafka,
  logLevel as KafkaLogLevel,
  Partitioners,
  type Admin,
  type Producer,
  type Message,
  type ProducerConfig,
} from "kafkajs";
import type { Logger } from "@pps/logger";
import { TOPICS, type TopicId } from "./topics.ts";
import type { Envelope } from "./envelope.ts";

export type KafkaOptions = {
  brokers: string[];
  clientId: string;
  logger: Logger;
  topicPrefix?: string;
  /** How every EventConsumer built on this client joins its group and watches its progress. */
  consumerGroup?: Partial<ConsumerGroupSettings>;
};

/**
 * Group membership and the progress watchdog of EventConsumer. The session timeout is how long a dead member
 * (SIGKILL, lost host) holds its partitions before the others take them over: it bounds the stall after a
 * crash. It must stay within the broker's group.min/max.session.timeout.ms (6 s and 30 min by default), and
 * above the longest pause between heartbeats: EventConsumer heartbeats every `heartbeatIntervalMs` even while
 * a chunk is being handled, so only an event loop blocked that long gets a live member evicted.
 */
export type ConsumerGroupSettings = {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** How long the group waits for its members to rejoin in a rebalance; a slower one is dropped. */
  rebalanceTimeoutMs: number;
  /** No message handled for this long while the consumer has lag (or not in its group): restarted by the app. */
  stallMs: number;
  /** Still stalled this long after it was first restarted: /healthz fails so the orchestrator restarts the pod. */
  unhealthyAfterMs: number;
};

export const DEFAULT_CONSUMER_GROUP_SETTINGS: ConsumerGroupSettings = {
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 20_000,
  stallMs: 30_000,
  unhealthyAfterMs: 90_000,
};

const consumerGroupSettings = new WeakMap<Kafka, ConsumerGroupSettings>();

/** The group settings of consumers built on this client (createKafka's, or the defaults). */
export function consumerGroupSettingsOf(kafka: Kafka): ConsumerGroupSettings {
  return consumerGroupSettings.get(kafka) ?? DEFAULT_CONSUMER_GROUP_SETTINGS;
}

/** kafkajs logs through our pino logger, at warn and above. */
function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ level, log }: { level: number; log: { message: string } & Record<string, unknown> }) => {
      const { message, ...extra } = log;
      // kafkajs warns about any finite retry count on an idempotent producer. Ours is deliberate: a relay
      // whose send fails rolls back and republishes the batch, and consumers dedupe by event id.
      if (message.startsWith("Limiting retries for the idempotent producer")) return;
      if (level === KafkaLogLevel.ERROR) logger.error({ kafka: extra }, message);
      else if (level === KafkaLogLevel.WARN) logger.warn({ kafka: extra }, message);
    };
}

export function createKafka({ brokers, clientId, logger, consumerGroup }: KafkaOptions): Kafka {
  const kafka = new Kafka({
    clientId,
    brokers,
    logLevel: KafkaLogLevel.WARN,
    logCreator: kafkaLogCreator(logger),
    retry: { initialRetryTime: 200, retries: 8 },
    connectionTimeout: 3_000,
  });
  consumerGroupSettings.set(kafka, { ...DEFAULT_CONSUMER_GROUP_SETTINGS, ...consumerGroup });
  return kafka;
}

/** Producer settings shared by every producer here: idempotent, ordered, murmur2 partitioning (Java-compatible). */
export const PRODUCER_CONFIG: ProducerConfig = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
};

export type TopicSpec = { id: TopicId; partitions: number };

/** Creates the catalogue's topics that are missing; existing ones are left as they are. */
export async function ensureTopics(
  kafka: Kafka,
  opts: { prefix?: string; partitions: number; replicationFactor?: number; only?: TopicId[] },
): Promise<string[]> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const ids = opts.only ?? (Object.keys(TOPICS) as TopicId[]);
    const wanted = ids.map((id) => `${opts.prefix ?? ""}${TOPICS[id].name}`).filter((t) => !existing.has(t));
    if (wanted.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: wanted.map((topic) => ({
          topic,
          numPartitions: opts.partitions,
          replicationFactor: opts.replicationFactor ?? 1,
        })),
      });
    }
    return wanted;
  } finally {
    await admin.disconnect();
  }
}

/** A message ready for Kafka: the envelope as JSON, keyed by its aggregate so one aggregate stays in one partition. */
export function toKafkaMessage(envelope: Envelope): Message {
  return {
    key: envelope.aggregateId,
    value: JSON.stringify(envelope),
    headers: { "event-type": envelope.type, "event-version": String(envelope.version) },
  };
}

/** An envelope already serialized (as the outbox stores it), with what its key and headers need. */
export type RawEventMessage = { key: string; value: string; type: string; version: string };

/**
 * Errors after which an idempotent producer can never send again: its sequence numbers (or its id) no longer
 * match the broker's. kafkajs keeps the producer id and sequences and fails every later send the same way; the
 * Java client bumps the producer epoch instead. Seen in tests/e2e/faults.e2e.test.ts: after the broker was
 * stopped and started under load, every send of payment-api's outbox relay failed with
 * OUT_OF_ORDER_SEQUENCE_NUMBER for as long as the process ran, and nothing it wrote was published again.
 */
const PRODUCER_STATE_ERRORS = new Set([
  "OUT_OF_ORDER_SEQUENCE_NUMBER",
  "UNKNOWN_PRODUCER_ID",
  "INVALID_PRODUCER_EPOCH",
]);

function isProducerStateError(err: unknown): boolean {
  for (
    let e = err as { type?: unknown; cause?: unknown; originalError?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.type === "string" && PRODUCER_STATE_ERRORS.has(e.type)) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

/**
 * Idempotent producer (the broker drops duplicates from producer retries) with acks from all in-sync replicas.
 * maxInFlightRequests 1 keeps per-partition order across retries. A send that fails because the producer's
 * idempotence state went out of step with the broker's (PRODUCER_STATE_ERRORS) replaces the producer with a new
 * one (a new producer id, sequences from 0) before the next send; the caller sends again, as it does after any
 * failed send (the outbox relay republishes its batch: consumers dedupe by event id).
 */
export class EventPublisher {
  private producer: Producer;
  private connected = false;
  /** Set when the producer must be replaced before the next send; the replacement in progress. */
  private stale = false;
  private renewing: Promise<void> | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topicPrefix = "",
  ) {
    this.producer = kafka.producer(PRODUCER_CONFIG);
  }

  async start(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /** The producer to send with: a fresh one (connected) if the last one can no longer send. */
  private async current(): Promise<Producer> {
    if (this.stale && this.connected) {
      this.renewing ??= (async () => {
        const next = this.kafka.producer(PRODUCER_CONFIG);
        try {
          await next.connect();
        } catch (err) {
          await next.disconnect().catch(() => undefined);
          throw err;
        }
        const old = this.producer;
        this.producer = next;
        this.stale = false;
        void old.disconnect().catch(() => undefined);
      })().finally(() => {
        this.renewing = null;
      });
      await this.renewing;
    }
    return this.producer;
  }

  private async send(fn: (producer: Producer) => Promise<unknown>): Promise<void> {
    const producer = await this.current();
    try {
      await fn(producer);
    } catch (err) {
      if (producer === this.producer && isProducerStateError(err)) this.stale = true;
      throw err;
    }
  }

  /** Publishes envelopes to a catalogue topic (name without prefix). */
  async publish(topic: string, envelopes: Envelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    await this.send((p) =>
      p.send({ topic: `${this.topicPrefix}${topic}`, acks: -1, messages: envelopes.map(toKafkaMessage) }),
    );
  }

  /** Publishes to several topics in one request. */
  async publishBatch(batches: { topic: string; envelopes: Envelope[] }[]): Promise<void> {
    const topicMessages = batches
      .filter((b) => b.envelopes.length > 0)
      .map((b) => ({ topic: `${this.topicPrefix}${b.topic}`, messages: b.envelopes.map(toKafkaMessage) }));
    if (topicMessages.length === 0) return;
    await this.send((p) => p.sendBatch({ acks: -1, topicMessages }));
  }

  /** Publishes serialized envelopes (the outbox relay's rows) with the same key and headers as publish. */
  async publishRaw(batches: { topic: string; messages: RawEventMessage[] }[]): Promise<void> {
    const topicMessages = batches
      .filter((b) => b.messages.length > 0)
      .map((b) => ({
        topic: `${this.topicPrefix}${b.topic}`,
        messages: b.messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: { "event-type": m.type, "event-version": m.version },
        })),
      }));
    if (topicMessages.length === 0) return;
    await this.send((p) => p.sendBatch({ acks: -1, topicMessages }));
  }

  get isConnected(): boolean {
    return this.connected;
  }

  async stop(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.renewing?.catch(() => undefined);
    await this.producer.disconnect();
  }
}
