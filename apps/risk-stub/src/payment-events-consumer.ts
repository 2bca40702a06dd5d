import type { Database } from "@pps/db";
import type { Logger } from "@pps/logger";
import {
  type BatchItem,
  EventConsumer,
  eventKey,
  eventRegistry,
  paymentEventsV1,
  paymentInternalEvents,
  TOPICS,
  type Envelope,
  type EventConsumerOptions,
  type InternalPaymentSnapshot,
} from "@pps/messaging";
import { type DecideResult, decidePayment, decidePayments } from "./decide-payment.ts";
import type { RiskMetrics } from "./metrics.ts";
import type { RiskConfigCache } from "./risk-config.ts";

/**
 * The consumer group, namespaced by the topic prefix like the topics: environments (test runs, e2e suites,
 * benchmarks) that share a broker under different prefixes must not share a group, or the coordinator hands
 * one environment's partitions to another's process. Without a prefix (production) it is "risk-stub".
 */
/** EventConsumer prefixes it with the topic prefix, so environments sharing a broker never share a group. */
export const CONSUMER_GROUP = "risk-stub";
/** The inbox's consumer name: the claim that makes redelivered payment events harmless. */
export const INBOX_CONSUMER = "risk-stub.payment-events";

/**
 * The events of payments entering risk review, with the payer's contact data the device and IP rules need:
 * the restricted twins on pps.payment.internal.v1, and (until none can be left on the public topic) the
 * retired v1 public events that still carried it. Everything else on either topic is skipped by its
 * headers, unparsed: public v2 events have no contact data, and risk never needs them.
 */
const SNAPSHOT_EVENTS = new Set(
  [
    paymentInternalEvents.created,
    paymentInternalEvents.submitted,
    paymentEventsV1.created,
    paymentEventsV1.submitted,
  ].map((d) => eventKey(d.type, d.version)),
);

export type PaymentEventsConsumerOptions = {
  kafka: EventConsumerOptions["kafka"];
  db: Database;
  logger: Logger;
  topicPrefix: string;
  config: RiskConfigCache;
  metrics: RiskMetrics;
  /** Payment events decided at once when a chunk is handled one message at a time (after a batch failed). */
  concurrency: number;
  /** Called after a decision commits, to wake the outbox relay. */
  onDecided: () => void;
};

/**
 * Decides every payment event whose snapshot is in `risk_review` (a new payment, or a pre-order that was
 * just paid) and ignores the rest. Each chunk of messages is decided in one transaction (`decidePayments`);
 * if that fails, EventConsumer handles the chunk again one message at a time, up to `concurrency` payments
 * at once (different payments in parallel, one payment's events in order).
 */
export class PaymentEventsConsumer {
  private readonly consumer: EventConsumer;
  private started = false;

  constructor(private readonly opts: PaymentEventsConsumerOptions) {
    this.consumer = new EventConsumer({
      kafka: opts.kafka,
      groupId: CONSUMER_GROUP,
      topics: [TOPICS.paymentInternal.name, TOPICS.paymentEvents.name],
      registry: eventRegistry,
      logger: opts.logger,
      topicPrefix: opts.topicPrefix,
      concurrency: opts.concurrency,
      accept: (type, version) => SNAPSHOT_EVENTS.has(eventKey(type, version)),
      handler: (envelope) => this.handle(envelope),
      batchHandler: (items) => this.handleBatch(items),
      onOutcome: (outcome) => opts.metrics.consumerMessages.inc({ outcome }),
    });
  }

  /** The event as a payment to decide, or null when there is nothing to decide (counted when in another status). */
  private toDecide(envelope: Envelope): Envelope<InternalPaymentSnapshot> | null {
    if (!SNAPSHOT_EVENTS.has(eventKey(envelope.type, envelope.version))) return null;
    // The registry validated the payload against the snapshot schema of this type and version.
    if ((envelope.payload as InternalPaymentSnapshot).status !== "risk_review") {
      this.opts.metrics.paymentEvents.inc({ result: "not_in_review" });
      return null;
    }
    return envelope as Envelope<InternalPaymentSnapshot>;
  }

  async handle(envelope: Envelope): Promise<void> {
    const payment = this.toDecide(envelope);
    if (!payment) return;
    const started = performance.now();
    const result = await decidePayment(this.opts.db, INBOX_CONSUMER, this.opts.config.current(), payment);
    this.record([payment], [result], started);
  }

  /** A chunk's payments in one transaction; throws (and the chunk is handled message by message) if it fails. */
  async handleBatch(items: BatchItem[]): Promise<void> {
    const payments = items.map((i) => this.toDecide(i.envelope)).filter((e) => e !== null);
    if (payments.length === 0) return;
    const started = performance.now();
    const results = await decidePayments(this.opts.db, INBOX_CONSUMER, this.opts.config.current(), payments);
    this.record(payments, results, started);
  }

  private record(payments: Envelope<InternalPaymentSnapshot>[], results: DecideResult[], started: number): void {
    const { metrics, logger } = this.opts;
    const seconds = (performance.now() - started) / 1000;
    let decided = false;
    payments.forEach((envelope, i) => {
      const result = results[i]!;
      const payment = envelope.payload;
      metrics.decisionSeconds.observe(seconds);
      if (result.kind === "decided") {
        decided = true;
        metrics.paymentEvents.inc({ result: "decided" });
        metrics.decisions.inc({ outcome: result.decision.outcome });
        logger.debug(
          { paymentId: payment.paymentId, outcome: result.decision.outcome, reasons: result.decision.reasons },
          "payment decided",
        );
      } else {
        metrics.paymentEvents.inc({ result: "duplicate" });
        logger.info(
          { paymentId: payment.paymentId, eventId: envelope.id, result: result.kind },
          "payment event already handled; nothing to do",
        );
      }
    });
    if (decided) this.opts.onDecided();
  }

  async start(): Promise<void> {
    await this.consumer.start();
    this.started = true;
  }

  /** True once the consumer has joined its group and runs. */
  get isRunning(): boolean {
    return this.started && this.consumer.isRunning;
  }

  async stop(): Promise<void> {
    this.started = false;
    await this.consumer.stop();
  }
}
