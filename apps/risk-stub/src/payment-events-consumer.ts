import type { Database } from "@pps/db";
import type { Logger } from "@pps/logger";
import { EventConsumer, eventKey, eventRegistry, paymentEvents, TOPICS, type Envelope, type EventConsumerOptions, type PaymentSnapshot } from "@pps/messaging";
import { decidePayment } from "./decide-payment.ts";
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

/** Payment event types and versions whose payload is the payment snapshot this consumer reads. */
const SNAPSHOT_EVENTS = new Set(Object.values(paymentEvents).map((d) => eventKey(d.type, d.version)));
const PAYMENT_TYPES = new Set<string>(Object.values(paymentEvents).map((d) => d.type));

export type PaymentEventsConsumerOptions = {
  kafka: EventConsumerOptions["kafka"];
  db: Database;
  logger: Logger;
  topicPrefix: string;
  config: RiskConfigCache;
  metrics: RiskMetrics;
  /** Payment events decided at once (EventConsumer lanes: different payments in parallel). */
  concurrency: number;
  /** Called after a decision commits, to wake the outbox relay. */
  onDecided: () => void;
};

/**
 * Decides every payment event whose snapshot is in `risk_review` (a new payment, or a pre-order that was
 * just paid) and ignores the rest. Up to `concurrency` payments are decided at once: EventConsumer runs
 * messages with different keys (payment ids) in parallel and one payment's events in order.
 */
export class PaymentEventsConsumer {
  private readonly consumer: EventConsumer;
  private started = false;

  constructor(private readonly opts: PaymentEventsConsumerOptions) {
    this.consumer = new EventConsumer({
      kafka: opts.kafka,
      groupId: CONSUMER_GROUP,
      topics: [TOPICS.paymentEvents.name],
      registry: eventRegistry,
      logger: opts.logger,
      topicPrefix: opts.topicPrefix,
      concurrency: opts.concurrency,
      accept: (type) => PAYMENT_TYPES.has(type),
      handler: (envelope) => this.handle(envelope),
      onOutcome: (outcome) => opts.metrics.consumerMessages.inc({ outcome }),
    });
  }

  async handle(envelope: Envelope): Promise<void> {
    const { db, config, metrics, logger } = this.opts;
    if (!SNAPSHOT_EVENTS.has(eventKey(envelope.type, envelope.version))) return;
    // The registry validated the payload against the snapshot schema of this type and version.
    const payment = envelope.payload as PaymentSnapshot;
    if (payment.status !== "risk_review") {
      metrics.paymentEvents.inc({ result: "not_in_review" });
      return;
    }
    const stopTimer = metrics.decisionSeconds.startTimer();
    const result = await decidePayment(db, INBOX_CONSUMER, config.current(), envelope as Envelope<PaymentSnapshot>);
    stopTimer();
    if (result.kind === "decided") {
      metrics.paymentEvents.inc({ result: "decided" });
      metrics.decisions.inc({ outcome: result.decision.outcome });
      this.opts.onDecided();
      logger.debug({ paymentId: payment.paymentId, outcome: result.decision.outcome, reasons: result.decision.reasons }, "payment decided");
    } else {
      metrics.paymentEvents.inc({ result: "duplicate" });
      logger.info({ paymentId: payment.paymentId, eventId: envelope.id, result: result.kind }, "payment event already handled; nothing to do");
    }
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
