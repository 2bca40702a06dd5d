import { asc, inArray, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import type { outboxTable } from "@pps/db/schema";
import type { Logger } from "@pps/logger";
import type { Envelope } from "./envelope.ts";
import type { EventPublisher } from "./kafka.ts";
import type { EventDefinition } from "./registry.ts";

type OutboxTable = ReturnType<typeof outboxTable>;

/** The row to insert, in the caller's transaction, for an event about to be announced. */
export function outboxRow(def: Pick<EventDefinition, "topic">, envelope: Envelope) {
  return { eventId: envelope.id, topic: def.topic, key: envelope.aggregateId, envelope };
}

export type OutboxRelayOptions = {
  db: Database;
  table: OutboxTable;
  publisher: EventPublisher;
  logger: Logger;
  /** Advisory lock id: one relay per outbox table publishes at a time, which keeps per-key order. */
  lockId: number;
  batchSize?: number;
  idlePollMs?: number;
  onPublished?: (count: number) => void;
};

/**
 * Relays outbox rows to Kafka in id order, then deletes them, all inside one transaction that holds a
 * transaction-scoped advisory lock. A crash between publish and commit republishes the batch: consumers
 * dedupe by event id. Replicas take turns: the others find the lock taken and wait.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: OutboxRelayOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Publishes what is pending now; returns how many rows were relayed. Exposed for tests and shutdown. */
  async relayOnce(): Promise<number> {
    const { db, table, publisher, lockId, batchSize = 500 } = this.opts;
    return db.transaction(async (tx) => {
      const [lock] = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${lockId}) as locked`);
      if (!lock?.locked) return 0;
      const rows = await tx.select().from(table).orderBy(asc(table.id)).limit(batchSize);
      if (rows.length === 0) return 0;
      const byTopic = new Map<string, Envelope[]>();
      for (const row of rows) {
        const list = byTopic.get(row.topic) ?? [];
        list.push(row.envelope as Envelope);
        byTopic.set(row.topic, list);
      }
      await publisher.publishBatch([...byTopic].map(([topic, envelopes]) => ({ topic, envelopes })));
      await tx.delete(table).where(inArray(table.id, rows.map((r) => r.id)));
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    const { logger, idlePollMs = 20, batchSize = 500 } = this.opts;
    let failures = 0;
    while (this.running) {
      let relayed = 0;
      try {
        relayed = await this.relayOnce();
        failures = 0;
        if (relayed > 0) this.opts.onPublished?.(relayed);
      } catch (err) {
        failures++;
        logger.error({ err, failures }, "outbox relay failed; will retry");
      }
      if (relayed < batchSize) {
        const delay = failures > 0 ? Math.min(5_000, 100 * 2 ** failures) : idlePollMs;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  /** Nudges an idle relay (after a local commit) so the event goes out without waiting for the poll. */
  notify(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }
}
