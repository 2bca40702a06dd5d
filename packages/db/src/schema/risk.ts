import { pgSchema } from "drizzle-orm/pg-core";
import { inboxTable, outboxTable } from "./common.ts";

/** Owned by risk-stub: decisions and velocity counters. */
export const riskSchema = pgSchema("risk");
export const riskOutbox = outboxTable(riskSchema);
export const riskInbox = inboxTable(riskSchema);
