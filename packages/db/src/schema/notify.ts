import { pgSchema } from "drizzle-orm/pg-core";
import { inboxTable } from "./common.ts";

/** Owned by notifier: notifications and delivery attempts. */
export const notifySchema = pgSchema("notify");
export const notifyInbox = inboxTable(notifySchema);
