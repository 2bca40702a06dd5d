import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import type { Logger } from "@pps/logger";
import { envelopeSchema, type Envelope } from "./envelope.ts";
import type { EventRegistry } from "./registry.ts";
import { PRODUCER_CONFIG } from "./kafka.ts";
import { TOPICS } from "./topics.ts";

/** Thrown by a handler for a message that will never succeed: it goes to the dead-letter topic. */
export class PermanentMessageError extends Error {
  override readonly name = "PermanentMessageError";
}

export type MessageContext = { topic: string; partition: number; offset: string };

export type EnvelopeHandler = (envelope: Envelope, ctx: MessageContext) => Promise<void>;

export type EventConsumerOptions = {
  kafka: Kafka;
  groupId: string;
  /** Catalogue topic names (without prefix). */
  topics: string[];
  registry: EventRegistry;
  logger: Logger;
  topicPrefix?: string;
  /** Only these event types reach the handler; others are acknowledged and skipped. */
  accept?: (type: string) => boolean;
  handler: EnvelopeHandler;
  /**
   * Messages of a batch with different keys are handled up to this many at a time; messages with the same
   * key (one aggregate) always run in order. 1 = strictly sequential.
   */
  concurrency?: number;
  /** Called with counts after each message, for metrics. */
  onOutcome?: (outcome: "handled" | "skipped" | "dead_lettered" | "failed", topic: string) => void;
};

type Decoded = { ok: true; envelope: Envelope } | { ok: false; reason: string };

export function decodeMessage(message: KafkaMessage, registry: EventRegistry): Decoded {
  if (!message.value) return { ok: false, reason: "empty message" };
  let raw: unknown;
  try {
    raw = JSON.parse(message.value.toString("utf8"));
  } catch {
    return { ok: false, reason: "value is not JSON" };
  }
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) return { ok: false, reason: `invalid envelope: ${envelope.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
  return registry.parse(envelope.data as Envelope);
}

/**
 * A consumer group member that validates every message's envelope and payload before the handler sees it.
 * Malformed messages and permanent handler failures go to the dead-letter topic with the reason; the
 * consumer goes on. A transient handler failure (anything else thrown) stops the batch without committing,
 * so the message is redelivered: handlers must therefore be idempotent.
 */
export class EventConsumer {
  private readonly consumer: Consumer;
  private readonly dlq: Producer;
  private running = false;

  constructor(private readonly opts: EventConsumerOptions) {
    // The group id carries the topic prefix too: members of one group must subscribe to the same topics,
    // so two environments sharing a cluster (or two test runs) must never share a group.
    this.consumer = opts.kafka.consumer({
      groupId: EventConsumer.groupIdFor(opts.groupId, opts.topicPrefix),
      sessionTimeout: 15_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      // A fetch returns as soon as data is there; this only bounds an idle long-poll, which a shutdown
      // waits out before leaving the group (kafkajs' default of 5 s made every stop take 5 s per consumer).
      maxWaitTimeInMs: 1_000,
    });
    this.dlq = opts.kafka.producer(PRODUCER_CONFIG);
  }

  static groupIdFor(groupId: string, topicPrefix = ""): string {
    return `${topicPrefix}${groupId}`;
  }

  private topic(name: string): string {
    return `${this.opts.topicPrefix ?? ""}${name}`;
  }

  async start(): Promise<void> {
    await this.dlq.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.opts.topics.map((t) => this.topic(t)), fromBeginning: true });
    this.running = true;
    await this.consumer.run({ autoCommit: true, eachBatchAutoResolve: false, eachBatch: (p) => this.onBatch(p) });
  }

  private async deadLetter(message: KafkaMessage, ctx: MessageContext, reason: string): Promise<void> {
    this.opts.logger.warn({ topic: ctx.topic, partition: ctx.partition, offset: ctx.offset, reason }, "message sent to dead-letter topic");
    await this.dlq.send({
      topic: this.topic(TOPICS.deadLetter.name),
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            "dlq-reason": reason.slice(0, 1000),
            "dlq-source-topic": ctx.topic,
            "dlq-source-partition": String(ctx.partition),
            "dlq-source-offset": ctx.offset,
            "dlq-consumer-group": EventConsumer.groupIdFor(this.opts.groupId, this.opts.topicPrefix),
          },
        },
      ],
    });
  }

  /** Validates and handles one message; dead-letters what can never succeed; rethrows transient failures. */
  private async handleOne(message: KafkaMessage, ctx: MessageContext): Promise<void> {
    const decoded = decodeMessage(message, this.opts.registry);
    if (!decoded.ok) {
      await this.deadLetter(message, ctx, decoded.reason);
      this.opts.onOutcome?.("dead_lettered", ctx.topic);
      return;
    }
    if (this.opts.accept && !this.opts.accept(decoded.envelope.type)) {
      this.opts.onOutcome?.("skipped", ctx.topic);
      return;
    }
    try {
      await this.opts.handler(decoded.envelope, ctx);
      this.opts.onOutcome?.("handled", ctx.topic);
    } catch (err) {
      if (!(err instanceof PermanentMessageError)) {
        this.opts.onOutcome?.("failed", ctx.topic);
        this.opts.logger.error({ err, topic: ctx.topic, offset: ctx.offset, eventId: decoded.envelope.id }, "handler failed; message will be redelivered");
        throw err;
      }
      await this.deadLetter(message, ctx, err.message);
      this.opts.onOutcome?.("dead_lettered", ctx.topic);
    }
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const concurrency = this.opts.concurrency ?? 1;
    if (concurrency <= 1) {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) return;
        await this.handleOne(message, { topic: batch.topic, partition: batch.partition, offset: message.offset });
        resolveOffset(message.offset);
        await heartbeat();
      }
      return;
    }
    // Chunks keep memory bounded and let offsets advance while a large batch is being worked through.
    const chunkSize = concurrency * 4;
    for (let start = 0; start < batch.messages.length; start += chunkSize) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + chunkSize);
      const byKey = new Map<string, KafkaMessage[]>();
      for (const m of chunk) {
        const key = m.key?.toString("utf8") ?? `\0${m.offset}`;
        const list = byKey.get(key);
        if (list) list.push(m);
        else byKey.set(key, [m]);
      }
      const lanes = [...byKey.values()];
      let next = 0;
      const worker = async () => {
        while (next < lanes.length) {
          const lane = lanes[next++]!;
          for (const m of lane) await this.handleOne(m, { topic: batch.topic, partition: batch.partition, offset: m.offset });
        }
      };
      // A transient failure rejects here before any offset of this chunk is resolved: the whole chunk is
      // redelivered, and the idempotent handlers skip what already took effect.
      await Promise.all(Array.from({ length: Math.min(concurrency, lanes.length) }, worker));
      resolveOffset(chunk[chunk.length - 1]!.offset);
      await heartbeat();
    }
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Stops fetching, lets the current batch finish, commits resolved offsets, leaves the group. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.consumer.disconnect();
    await this.dlq.disconnect();
  }
}
