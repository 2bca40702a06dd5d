import { sql } from "drizzle-orm";
import { bigserial, index, jsonb, primaryKey, text, timestamp, uuid, type PgSchema } from "drizzle-orm/pg-core";

/**
 * Transactional outbox: a row is written in the same transaction as the state change it announces and
 * relayed to Kafka afterwards, then deleted. The bigserial id gives the relay a total order.
 */
export function outboxTable(schema: PgSchema) {
  return schema.table("outbox", {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    eventId: uuid("event_id").notNull(),
    topic: text("topic").notNull(),
    key: text("key").notNull(),
    envelope: jsonb("envelope").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().default(sql`now()`),
  });
}

/**
 * Inbox of consumed message ids: the consumer inserts the id in the same transaction as its effect,
 * so a redelivered message finds its id and changes nothing twice.
 */
export function inboxTable(schema: PgSchema) {
  return schema.table(
    "inbox",
    {
      consumer: text("consumer").notNull(),
      messageId: uuid("message_id").notNull(),
      processedAt: timestamp("processed_at", { withTimezone: true }).notNull().default(sql`now()`),
    },
    (t) => [primaryKey({ columns: [t.consumer, t.messageId] }), index().on(t.processedAt)],
  );
}
