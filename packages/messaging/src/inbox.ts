import { sql } from "drizzle-orm";
import type { inboxTable } from "@pps/db/schema";
import type { Database } from "@pps/db";

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

/** Deletes inbox rows older than the retention; redeliveries come long before that. */
export async function pruneInbox(db: Database, table: InboxTable, olderThanHours = 72): Promise<number> {
  const rows = await db.delete(table).where(sql`${table.processedAt} < now() - make_interval(hours => ${olderThanHours})`).returning({ id: table.messageId });
  return rows.length;
}
