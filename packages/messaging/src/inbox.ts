import { sql } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/pg-core";
import type { TransactionSql } from "postgres";
import type { inboxTable } from "@pps/db/schema";
import type { Database } from "@pps/db";
import type { Logger } from "@pps/logger";

type InboxTable = ReturnType<typeof inboxTable>;
type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

/**
 * Records that `consumer` processed message `messageId`, inside the caller's transaction.
 * Returns false when it was already recorded: the caller must then change nothing.
 */
export async function claimMessage(tx: Tx, table: InboxTable, consumer: string, messageId: string): Promise<boolean> {
  const rows = await tx
    .insert(table)
    .values({ consumer, messageId })
    .onConflictDoNothing()
    .returning({ id: table.messageId });
  return rows.length > 0;
}

/**
 * claimMessage for many ids at once, on a raw postgres.js transaction (the batch consumers' statements):
 * one statement; answers the ids that were new. An id twice in `ids` is claimed once.
 */
export async function claimMessages(
  sql: TransactionSql,
  table: InboxTable,
  consumer: string,
  ids: string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { schema, name } = getTableConfig(table);
  const rows = await sql<{ id: string }[]>`
    insert into ${sql(`${schema ?? "public"}.${name}`)} (consumer, message_id)
    select ${consumer}::text, m::uuid from unnest(${ids}::text[]) as u(m)
    on conflict do nothing
    returning message_id::text as id`;
  return new Set(rows.map((r) => r.id));
}

/**
 * Deletes inbox rows older than the retention (redeliveries come within minutes, never days), in bounded
 * batches so no single statement locks or logs millions of rows. Returns how many went.
 */
export async function pruneInbox(
  db: Database,
  table: InboxTable,
  olderThanHours = 72,
  batchSize = 10_000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const result = await db.execute(sql`
      delete from ${table} where ctid in (
        select ctid from ${table} where ${table.processedAt} < now() - make_interval(hours => ${olderThanHours}) limit ${batchSize})`);
    const n = (result as unknown as { count: number }).count ?? 0;
    total += n;
    if (n < batchSize) return total;
  }
}

/**
 * Prunes an app's inbox now and then (a component with start/stop). At the target rate an inbox gains
 * millions of rows a day. Every replica may prune; the deletes do not conflict.
 */
export class InboxPruner {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: {
      db: Database;
      table: InboxTable;
      logger: Logger;
      everyMs?: number;
      retentionHours?: number;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.pruneOnce(), this.opts.everyMs ?? 10 * 60_000);
    this.timer.unref();
  }

  async pruneOnce(): Promise<number> {
    try {
      const removed = await pruneInbox(this.opts.db, this.opts.table, this.opts.retentionHours ?? 72);
      if (removed > 0) this.opts.logger.info({ removed }, "pruned the inbox");
      return removed;
    } catch (err) {
      this.opts.logger.warn({ err }, "inbox pruning failed; will retry");
      return 0;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
