import { pgSchema } from "drizzle-orm/pg-core";
import { inboxTable } from "./common.ts";

/** Owned by reconciler: statements, runs, discrepancies. */
export const reconSchema = pgSchema("recon");
export const reconInbox = inboxTable(reconSchema);
