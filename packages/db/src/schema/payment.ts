import { pgSchema } from "drizzle-orm/pg-core";
import { inboxTable, outboxTable } from "./common.ts";

/** Owned by payment-api: merchants, payments, idempotency keys, outbox. */
export const paymentSchema = pgSchema("payment");
export const paymentOutbox = outboxTable(paymentSchema);
export const paymentInbox = inboxTable(paymentSchema);
