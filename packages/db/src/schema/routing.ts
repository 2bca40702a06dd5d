import { pgSchema } from "drizzle-orm/pg-core";
import { inboxTable, outboxTable } from "./common.ts";

/** Owned by router: channel config, health stats, routing decisions, attempts. */
export const routingSchema = pgSchema("routing");
export const routingOutbox = outboxTable(routingSchema);
export const routingInbox = inboxTable(routingSchema);
