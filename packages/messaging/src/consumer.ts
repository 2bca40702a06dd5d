import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import type { Logger } from "@pps/logger";
import { type HealthRegistry, type HealthSource, processHealth } from "@pps/runtime";
import { envelopeSchema, type Envelope } from "./envelope.ts";
import type { EventRegistry } from "./registry.ts";
import { type ConsumerGroupSettings, consumerGroupSettingsOf, PRODUCER_CONFIG } from "./kafka.ts";
import { isRestrictedTopic, TOPICS } from "./topics.ts";

/** Thrown by a handler for a message that will never succeed: it goes to the dead-letter topic. */
export class PermanentMessageError extends Error {
  override readonly name = "PermanentMessageError";
}

export type MessageContext = { topic: string; partition: number; offset: string };

export type EnvelopeHandler = (envelope: Envelope, ctx: MessageContext) => Promise<void>;

/** One validated, accepted message of a chunk, in offset order. */
export type BatchItem = { envelope: Envelope; ctx: MessageContext };

/**
 * Handles a whole chunk of validated, accepted messages at once (typically in one transaction with
 * set-based statements). Items keep their offset order, so one key's messages stay in order; the handler
 * must apply them in that order and be idempotent, like a per-message handler.
 */
export type BatchEnvelopeHandler = (items: BatchItem[]) => Promise<void>;

export type EventConsumerOptions = {
  kafka: Kafka;
  groupId: string;
  /** Catalogue topic names (without prefix). */
  topics: string[];
  registry: EventRegistry;
  logger: Logger;
  topicPrefix?: string;
  /**
   * Only these event types (and versions) reach the handler; others are acknowledged and skipped, by the
   * message's headers when it has them, so without being parsed.
   */
  accept?: (type: string, version: number) => boolean;
  handler: EnvelopeHandler;
  /**
   * Optional fast path: each chunk's accepted messages go to this handler in one call. If it throws, the
   * chunk is handled again message by message through `handler`, so one poison message is dead-lettered
   * alone and a transient failure still stops the batch for redelivery.
   */
  batchHandler?: BatchEnvelopeHandler;
  /** Messages per chunk in batch mode (and the lane count times four otherwise). */
  chunkSize?: number;
  /**
   * Messages of a batch with different keys are handled up to this many at a time; messages with the same
   * key (one aggregate) always run in order. 1 = strictly sequential.
   */
  concurrency?: number;
  /** Called with counts after each message, for metrics. */
  onOutcome?: (outcome: "handled" | "skipped" | "dead_lettered" | "failed", topic: string) => void;
  /** Overrides the group settings the Kafka client carries (createKafka's `consumerGroup`). */
  group?: Partial<ConsumerGroupSettings>;
  /** Where the consumer reports its health while it runs [processHealth: the app's /readyz and /healthz]; null: nowhere. */
  health?: HealthRegistry | null;
};

type Decoded = { ok: true; envelope: Envelope } | { ok: false; reason: string };

function header(message: KafkaMessage, name: string): string | undefined {
  const h = message.headers?.[name];
  if (h === undefined) return undefined;
  const v = Array.isArray(h) ? h[0] : h;
  return v === undefined ? undefined : v.toString();
}

/**
 * The event type and version our producers put in headers: lets a consumer skip events it does not take
 * without parsing or validating them (most consumers read a few types of a busy topic).
 */
function headerEvent(message: KafkaMessage): { type: string; version: number } | undefined {
  const type = header(message, "event-type");
  const version = Number(header(message, "event-version"));
  return type === undefined || !Number.isInteger(version) ? undefined : { type, version };
}

export function decodeMessage(message: KafkaMessage, registry: EventRegistry): Decoded {
  if (!message.value) return { ok: false, reason: "empty message" };
  let raw: unknown;
  try {
    raw = JSON.parse(message.value.toString("utf8"));
  } catch {
    return { ok: false, reason: "value is not JSON" };
  }
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success)
    return {
      ok: false,
      reason: `invalid envelope: ${envelope.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    };
  return registry.parse(envelope.data as Envelope);
}

/**
 * A consumer group member that validates every message's envelope and payload before the handler sees it.
 * Malformed messages and permanent handler failures go to the dead-letter topic with the reason; the
 * consumer goes on. A transient handler failure (anything else thrown) stops the batch without committing,
 * so the message is redelivered: handlers must therefore be idempotent.
 */
export class EventConsumer {
  private consumer: Consumer;
  private readonly dlq: Producer;
  private readonly settings: ConsumerGroupSettings;
  private readonly groupId: string;
  private readonly health: HealthSource;
  private running = false;
  /** Bumped at each (re)start: a replaced kafkajs consumer's leftovers (heartbeats, events) are ignored. */
  private generation = 0;
  private joined = false;
  private assignment: Record<string, number[]> = {};
  private crashed: string | undefined;
  private startedAt = 0;
  private leftGroupAt = 0;
  private lastProgressAt = 0;
  private stalledSince: number | undefined;
  private stallReason = "";
  private lastRestartAt = 0;
  private restarts = 0;
  private restarting: Promise<void> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private admin: Admin | undefined;

  constructor(private readonly opts: EventConsumerOptions) {
    this.settings = { ...consumerGroupSettingsOf(opts.kafka), ...opts.group };
    // The group id carries the topic prefix too: members of one group must subscribe to the same topics,
    // so two environments sharing a cluster (or two test runs) must never share a group.
    this.groupId = EventConsumer.groupIdFor(opts.groupId, opts.topicPrefix);
    this.consumer = this.newConsumer();
    this.dlq = opts.kafka.producer(PRODUCER_CONFIG);
    this.health = { name: `consumer ${this.groupId}`, ready: () => this.ready(), live: () => this.live() };
  }

  static groupIdFor(groupId: string, topicPrefix = ""): string {
    return `${topicPrefix}${groupId}`;
  }

  private topic(name: string): string {
    return `${this.opts.topicPrefix ?? ""}${name}`;
  }

  private newConsumer(): Consumer {
    const { sessionTimeoutMs, heartbeatIntervalMs, rebalanceTimeoutMs } = this.settings;
    const consumer = this.opts.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: heartbeatIntervalMs,
      rebalanceTimeout: rebalanceTimeoutMs,
      allowAutoTopicCreation: false,
      // A fetch returns as soon as data is there; this only bounds an idle long-poll, which a shutdown
      // waits out before leaving the group (kafkajs' default of 5 s made every stop take 5 s per consumer),
      // and an idle member's heartbeats (kafkajs heartbeats between fetches), so how soon it joins a rebalance.
      maxWaitTimeInMs: Math.min(1_000, heartbeatIntervalMs),
    });
    const generation = this.generation;
    const current = () => generation === this.generation;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (!current()) return;
      this.joined = true;
      this.assignment = payload.memberAssignment;
    });
    consumer.on(consumer.events.REBALANCING, () => {
      if (current()) this.leaveGroup();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!current()) return;
      this.leaveGroup();
      // kafkajs restarts itself after a retriable error; otherwise the member is gone for good: restart it.
      if (!payload.restart) {
        this.crashed = payload.error.message;
        this.opts.logger.error({ err: payload.error, groupId: this.groupId }, "consumer crashed; restarting it");
        void this.restart(`crashed: ${payload.error.message}`);
      }
    });
    return consumer;
  }

  private leaveGroup(): void {
    if (this.joined) this.leftGroupAt = Date.now();
    this.joined = false;
    this.assignment = {};
  }

  private async run(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.opts.topics.map((t) => this.topic(t)), fromBeginning: true });
    const generation = this.generation;
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      eachBatch: (p) => this.withHeartbeats(p, generation, () => this.onBatch(p)),
    });
  }

  async start(): Promise<void> {
    await this.dlq.connect();
    this.startedAt = Date.now();
    this.leftGroupAt = this.startedAt;
    this.lastProgressAt = this.startedAt;
    await this.run();
    this.running = true;
    const checkMs = Math.max(200, Math.min(5_000, Math.floor(this.settings.stallMs / 3)));
    this.watchdog = setInterval(() => void this.checkProgress(), checkMs);
    this.watchdog.unref();
    if (this.opts.health !== null) (this.opts.health ?? processHealth).add(this.health);
  }

  /**
   * Heartbeats while a batch is being handled, not only between chunks: a chunk that waits on a slow
   * dependency for longer than the session timeout would otherwise get this live member evicted (and its
   * partitions moved back and forth). A failed heartbeat (a rebalance) is seen again at the chunk boundary.
   */
  private async withHeartbeats(payload: EachBatchPayload, generation: number, handle: () => Promise<void>) {
    const beat = setInterval(() => {
      if (generation === this.generation && payload.isRunning()) void payload.heartbeat().catch(() => undefined);
    }, this.settings.heartbeatIntervalMs);
    try {
      await handle();
    } finally {
      clearInterval(beat);
    }
  }

  private progressed(): void {
    this.lastProgressAt = Date.now();
    this.stalledSince = undefined;
  }

  /** Messages waiting in the partitions this member answers for (all of them while it is not in the group). */
  private async lag(): Promise<number> {
    if (!this.admin) {
      const admin = this.opts.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    const admin = this.admin;
    const topics = this.opts.topics.map((t) => this.topic(t));
    const committed = await admin.fetchOffsets({ groupId: this.groupId, topics });
    let lag = 0;
    for (const { topic, partitions } of committed) {
      const mine = this.joined ? new Set(this.assignment[topic] ?? []) : undefined;
      if (mine && mine.size === 0) continue;
      const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p]));
      for (const { partition, offset } of partitions) {
        if (mine && !mine.has(partition)) continue;
        const end = ends.get(partition);
        if (!end) continue;
        const from = Number(offset) < 0 ? Number(end.low) : Number(offset);
        lag += Math.max(0, Number(end.high) - from);
      }
    }
    return lag;
  }

  /**
   * The watchdog: a member out of its group, or one that handled nothing for `stallMs` while messages wait
   * for it, is stalled; it is restarted (a new kafkajs consumer) at most once per `stallMs`. When the broker
   * cannot be asked, nothing is decided: that is an outage the clients ride out, not a stuck consumer.
   */
  private async checkProgress(): Promise<void> {
    if (!this.running || this.restarting) return;
    const now = Date.now();
    const { stallMs } = this.settings;
    const idleMs = now - Math.max(this.lastProgressAt, this.lastRestartAt);
    const outMs = this.joined ? 0 : now - Math.max(this.leftGroupAt, this.lastRestartAt);
    if (idleMs < stallMs && outMs < stallMs) return;
    let lag: number;
    try {
      lag = await this.lag();
    } catch {
      return;
    }
    if (!this.running) return;
    if (this.joined && lag === 0) {
      this.progressed();
      return;
    }
    this.stallReason = this.joined
      ? `no message handled for ${idleMs} ms while ${lag} wait`
      : `not in its group for ${outMs} ms (${lag} messages wait)`;
    this.stalledSince ??= now;
    if (now - this.lastRestartAt >= stallMs) await this.restart(this.stallReason);
  }

  /** Replaces the kafkajs consumer with a new one; logged, and counted in the health report. */
  private restart(reason: string): Promise<void> {
    if (this.restarting || !this.running) return this.restarting ?? Promise.resolve();
    this.restarts++;
    this.lastRestartAt = Date.now();
    this.stalledSince ??= this.lastRestartAt;
    this.opts.logger.warn({ groupId: this.groupId, reason, restarts: this.restarts }, "restarting a stalled consumer");
    const old = this.consumer;
    this.restarting = (async () => {
      this.generation++;
      this.leaveGroup();
      // A handler that hangs keeps kafkajs' disconnect waiting for its batch: give up on it after a session
      // timeout (it stopped heartbeating, so the group has dropped it by then) and go on with a new member.
      await Promise.race([
        old.disconnect().catch(() => undefined),
        new Promise((r) => setTimeout(r, this.settings.sessionTimeoutMs).unref()),
      ]);
      if (!this.running) return;
      this.crashed = undefined;
      this.consumer = this.newConsumer();
      try {
        await this.run();
      } catch (err) {
        this.opts.logger.warn({ err, groupId: this.groupId }, "consumer restart failed; the watchdog will try again");
      }
      this.lastRestartAt = Date.now();
    })().finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  /** Readiness: running, in its group with partitions (or more members than partitions), and not stalled. */
  private async ready(): Promise<void> {
    if (!this.running) throw new Error("not running");
    if (this.crashed) throw new Error(`crashed: ${this.crashed}`);
    if (this.stalledSince !== undefined) throw new Error(`stalled: ${this.stallReason}`);
    if (!this.joined) throw new Error("has not joined its group");
    if (Object.values(this.assignment).some((p) => p.length > 0)) return;
    // No partition: fine only while the group has more members than there are partitions.
    const admin = this.admin ?? this.opts.kafka.admin();
    if (!this.admin) {
      await admin.connect();
      this.admin = admin;
    }
    const [{ groups }, { topics }] = await Promise.all([
      admin.describeGroups([this.groupId]),
      admin.fetchTopicMetadata({ topics: this.opts.topics.map((t) => this.topic(t)) }),
    ]);
    const members = groups[0]?.members.length ?? 0;
    const partitions = Math.max(0, ...topics.map((t) => t.partitions.length));
    if (members <= partitions) throw new Error(`no partitions assigned (${members} members, ${partitions} partitions)`);
  }

  /** Liveness: fails once a stall has outlasted `unhealthyAfterMs` and at least one restart. */
  private live(): string | null {
    if (this.stalledSince === undefined || this.restarts === 0) return null;
    const stalledMs = Date.now() - this.stalledSince;
    if (stalledMs < this.settings.unhealthyAfterMs) return null;
    return `stalled for ${stalledMs} ms despite ${this.restarts} restart(s): ${this.stallReason}`;
  }

  private async deadLetter(message: KafkaMessage, ctx: MessageContext, reason: string): Promise<void> {
    this.opts.logger.warn(
      { topic: ctx.topic, partition: ctx.partition, offset: ctx.offset, reason },
      "message sent to dead-letter topic",
    );
    // Personal data stays in its restricted topic: the dead letter points at the message instead of copying it.
    const prefix = this.opts.topicPrefix ?? "";
    const restricted = isRestrictedTopic(ctx.topic.startsWith(prefix) ? ctx.topic.slice(prefix.length) : ctx.topic);
    await this.dlq.send({
      topic: this.topic(TOPICS.deadLetter.name),
      acks: -1,
      messages: [
        {
          key: message.key,
          value: restricted ? null : message.value,
          headers: {
            ...(restricted
              ? { "dlq-value-withheld": "restricted topic: read the message at its source topic, partition and offset" }
              : {}),
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

  /**
   * Decodes and validates one message: the envelope to handle, or null when it was skipped (a type this
   * consumer does not take) or dead-lettered (malformed, unknown, invalid payload).
   */
  private async admit(message: KafkaMessage, ctx: MessageContext): Promise<Envelope | null> {
    const { accept } = this.opts;
    const hinted = accept ? headerEvent(message) : undefined;
    if (accept && hinted !== undefined && !accept(hinted.type, hinted.version)) {
      this.opts.onOutcome?.("skipped", ctx.topic);
      return null;
    }
    const decoded = decodeMessage(message, this.opts.registry);
    if (!decoded.ok) {
      await this.deadLetter(message, ctx, decoded.reason);
      this.opts.onOutcome?.("dead_lettered", ctx.topic);
      return null;
    }
    if (accept && !accept(decoded.envelope.type, decoded.envelope.version)) {
      this.opts.onOutcome?.("skipped", ctx.topic);
      return null;
    }
    return decoded.envelope;
  }

  /** Validates and handles one message; dead-letters what can never succeed; rethrows transient failures. */
  private async handleOne(message: KafkaMessage, ctx: MessageContext): Promise<void> {
    const envelope = await this.admit(message, ctx);
    if (envelope) await this.handleAdmitted(message, envelope, ctx);
  }

  private async handleAdmitted(message: KafkaMessage, envelope: Envelope, ctx: MessageContext): Promise<void> {
    try {
      await this.opts.handler(envelope, ctx);
      this.progressed();
      this.opts.onOutcome?.("handled", ctx.topic);
    } catch (err) {
      if (!(err instanceof PermanentMessageError)) {
        this.opts.onOutcome?.("failed", ctx.topic);
        this.opts.logger.error(
          { err, topic: ctx.topic, offset: ctx.offset, eventId: envelope.id },
          "handler failed; message will be redelivered",
        );
        throw err;
      }
      await this.deadLetter(message, ctx, err.message);
      this.opts.onOutcome?.("dead_lettered", ctx.topic);
    }
  }

  /**
   * Batch mode: each chunk's accepted messages go to the batch handler in one call. When it fails, the
   * chunk is handled again one message at a time (in key lanes), which isolates a poison message and
   * rethrows a transient failure so nothing of the chunk is committed.
   */
  private async onBatchChunks(payload: EachBatchPayload, batchHandler: BatchEnvelopeHandler): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const chunkSize = this.opts.chunkSize ?? 256;
    for (let start = 0; start < batch.messages.length; start += chunkSize) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + chunkSize);
      const items: (BatchItem & { message: KafkaMessage })[] = [];
      for (const message of chunk) {
        const ctx = { topic: batch.topic, partition: batch.partition, offset: message.offset };
        const envelope = await this.admit(message, ctx);
        if (envelope) items.push({ envelope, ctx, message });
      }
      if (items.length > 0) {
        try {
          await batchHandler(items.map(({ envelope, ctx }) => ({ envelope, ctx })));
          for (const item of items) this.opts.onOutcome?.("handled", item.ctx.topic);
        } catch (err) {
          this.opts.logger.warn(
            { err, topic: batch.topic, partition: batch.partition, messages: items.length },
            "batch handler failed; handling the chunk message by message",
          );
          await this.runLanes(items, (item) => this.handleAdmitted(item.message, item.envelope, item.ctx));
        }
      }
      resolveOffset(chunk[chunk.length - 1]!.offset);
      this.progressed();
      await heartbeat();
    }
  }

  /** Runs items with the same key in order and different keys up to `concurrency` at a time. */
  private async runLanes<T extends { message: KafkaMessage }>(
    items: T[],
    run: (item: T) => Promise<void>,
  ): Promise<void> {
    const byKey = new Map<string, T[]>();
    for (const item of items) {
      const key = item.message.key?.toString("utf8") ?? `\0${item.message.offset}`;
      const list = byKey.get(key);
      if (list) list.push(item);
      else byKey.set(key, [item]);
    }
    const lanes = [...byKey.values()];
    let next = 0;
    const worker = async () => {
      while (next < lanes.length) {
        const lane = lanes[next++]!;
        for (const item of lane) await run(item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(Math.max(1, this.opts.concurrency ?? 1), lanes.length) }, worker));
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    if (this.opts.batchHandler) return this.onBatchChunks(payload, this.opts.batchHandler);
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const concurrency = this.opts.concurrency ?? 1;
    if (concurrency <= 1) {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) return;
        await this.handleOne(message, { topic: batch.topic, partition: batch.partition, offset: message.offset });
        resolveOffset(message.offset);
        this.progressed();
        await heartbeat();
      }
      return;
    }
    // Chunks keep memory bounded and let offsets advance while a large batch is being worked through.
    const chunkSize = this.opts.chunkSize ?? concurrency * 4;
    for (let start = 0; start < batch.messages.length; start += chunkSize) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(start, start + chunkSize);
      // A transient failure rejects here before any offset of this chunk is resolved: the whole chunk is
      // redelivered, and the idempotent handlers skip what already took effect.
      await this.runLanes(
        chunk.map((message) => ({ message })),
        ({ message }) =>
          this.handleOne(message, { topic: batch.topic, partition: batch.partition, offset: message.offset }),
      );
      resolveOffset(chunk[chunk.length - 1]!.offset);
      this.progressed();
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
    if (this.opts.health !== null) (this.opts.health ?? processHealth).remove(this.health);
    clearInterval(this.watchdog);
    await this.restarting;
    await this.consumer.disconnect();
    await this.dlq.disconnect();
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }
}
