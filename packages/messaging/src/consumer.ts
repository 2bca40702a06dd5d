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
    this.consumer = opts.kafka.consumer({ groupId: opts.groupId, sessionTimeout: 15_000, heartbeatInterval: 3_000, allowAutoTopicCreation: false });
    this.dlq = opts.kafka.producer(PRODUCER_CONFIG);
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
            "dlq-consumer-group": this.opts.groupId,
          },
        },
      ],
    });
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      const ctx: MessageContext = { topic: batch.topic, partition: batch.partition, offset: message.offset };
      const decoded = decodeMessage(message, this.opts.registry);
      if (!decoded.ok) {
        await this.deadLetter(message, ctx, decoded.reason);
        this.opts.onOutcome?.("dead_lettered", batch.topic);
      } else if (this.opts.accept && !this.opts.accept(decoded.envelope.type)) {
        this.opts.onOutcome?.("skipped", batch.topic);
      } else {
        try {
          await this.opts.handler(decoded.envelope, ctx);
          this.opts.onOutcome?.("handled", batch.topic);
        } catch (err) {
          if (!(err instanceof PermanentMessageError)) {
            this.opts.onOutcome?.("failed", batch.topic);
            this.opts.logger.error({ err, topic: ctx.topic, offset: ctx.offset, eventId: decoded.envelope.id }, "handler failed; message will be redelivered");
            throw err;
          }
          await this.deadLetter(message, ctx, err.message);
          this.opts.onOutcome?.("dead_lettered", batch.topic);
        }
      }
      resolveOffset(message.offset);
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
