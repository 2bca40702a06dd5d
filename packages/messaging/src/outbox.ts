import { getTableConfig } from "drizzle-orm/pg-core";
import type { Database } from "@pps/db";
import type { outboxTable } from "@pps/db/schema";
import type { Logger } from "@pps/logger";
import { PollingLoop } from "@pps/runtime";
import type { Envelope } from "./envelope.ts";
import type { EventPublisher, RawEventMessage } from "./kafka.ts";
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

  private readonly tableName: string;

  constructor(private readonly opts: OutboxRelayOptions) {
    // Commits in this process wake the relay at once (notify), so the idle poll only catches rows another
    // replica committed while this one held the lock, or a lost wake-up.
    const { logger, idlePollMs = 200, batchSize = 500 } = opts;
    const config = getTableConfig(opts.table);
    this.tableName = `${config.schema ?? "public"}.${config.name}`;
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

  /**
   * Publishes what is pending now; returns how many rows were relayed. Exposed for tests and shutdown.
   * Two database round trips per round, on one reserved connection: BEGIN with the lock-and-read, then
   * (after Kafka acknowledged) the delete with COMMIT. The envelopes go to Kafka as stored, unparsed.
   */
  async relayOnce(): Promise<number> {
    const { db, publisher, lockId, batchSize = 500 } = this.opts;
    const sql = await db.$client.reserve();
    let open = false;
    try {
      const [begun, read] = await Promise.allSettled([
        sql`begin`,
        sql<{ id: string; topic: string; key: string; type: string; version: string; envelope: string }[]>`
          with l as (select pg_try_advisory_xact_lock(${lockId}::bigint) as locked)
          select o.id::text, o.topic, o.key, o.envelope->>'type' as type, o.envelope->>'version' as version, o.envelope::text as envelope
          from l cross join lateral (select * from ${sql(this.tableName)} where l.locked order by id limit ${batchSize}::int) o`,
      ]);
      if (begun.status === "rejected") throw begun.reason;
      open = true;
      if (read.status === "rejected") throw read.reason;
      const rows = read.value;
      if (rows.length === 0) {
        await sql`commit`;
        open = false;
        return 0;
      }
      const byTopic = new Map<string, RawEventMessage[]>();
      for (const row of rows) {
        const list = byTopic.get(row.topic) ?? [];
        list.push({ key: row.key, value: row.envelope, type: row.type, version: row.version });
        byTopic.set(row.topic, list);
      }
      await publisher.publishRaw([...byTopic].map(([topic, messages]) => ({ topic, messages })));
      const [deleted, committed] = await Promise.allSettled([
        sql`delete from ${sql(this.tableName)} where id = any(${rows.map((r) => r.id)}::bigint[])`,
        sql`commit`,
      ]);
      open = false;
      if (deleted.status === "rejected") throw deleted.reason;
      if (committed.status === "rejected") throw committed.reason;
      return rows.length;
    } catch (err) {
      if (open) await sql`rollback`.catch(() => {});
      throw err;
    } finally {
      sql.release();
    }
  }

  /** Nudges an idle relay (after a local commit) so the event goes out without waiting for the poll. */
  notify(): void {
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
