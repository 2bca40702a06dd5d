import { asc, inArray, sql } from "drizzle-orm";
import type { Database } from "@pps/db";
import type { outboxTable } from "@pps/db/schema";
import type { Logger } from "@pps/logger";
import { PollingLoop } from "@pps/runtime";
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
  private readonly loop: PollingLoop;

  constructor(private readonly opts: OutboxRelayOptions) {
    const { logger, idlePollMs = 20, batchSize = 500 } = opts;
    this.loop = new PollingLoop({
      name: "outbox relay",
      logger,
      idleMs: idlePollMs,
      round: async () => {
        const relayed = await this.relayOnce();
        if (relayed > 0) this.opts.onPublished?.(relayed);
        return relayed >= batchSize;
      },
    });
  }

  start(): void {
    this.loop.start();
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

  /** Nudges an idle relay (after a local commit) so the event goes out without waiting for the poll. */
  notify(): void {
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
