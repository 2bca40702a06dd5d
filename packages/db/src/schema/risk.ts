import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  smallint,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { inboxTable, outboxTable } from "./common.ts";

/** Owned by risk-stub: rules, blocklist, per-payer activity (velocity, known devices), decisions. */
export const riskSchema = pgSchema("risk");
export const riskOutbox = outboxTable(riskSchema);
export const riskInbox = inboxTable(riskSchema);

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * Rule configuration, one row per version; the highest version is current. Old versions stay so that every
 * decision's `rules_version` can still be read back.
 */
export const riskRules = riskSchema.table("rules", {
  version: integer("version").primaryKey(),
  /** The zod-validated rules document (apps/risk-stub/src/rules.ts). */
  config: jsonb("config").notNull(),
  createdAt: ts("created_at").notNull().default(sql`now()`),
});

export const BLOCKLIST_KINDS = ["payer", "device", "ip"] as const;

export const riskBlocklist = riskSchema.table(
  "blocklist",
  {
    /** payer | device | ip */
    kind: text("kind").notNull(),
    value: text("value").notNull(),
    reason: text("reason").notNull(),
    createdAt: ts("created_at").notNull().default(sql`now()`),
  },
  (t) => [
    primaryKey({ columns: [t.kind, t.value] }),
    check("blocklist_kind_check", sql`${t.kind} in ('payer', 'device', 'ip')`),
  ],
);

/**
 * One row, bumped in the same transaction as every blocklist change: replicas poll this cheap number and
 * reload the blocklist only when it moved (a sequence would not do: nextval is visible before commit).
 */
export const riskBlocklistVersion = riskSchema.table(
  "blocklist_version",
  {
    id: smallint("id").primaryKey().default(1),
    version: bigint("version", { mode: "number" }).notNull().default(0),
  },
  (t) => [check("blocklist_version_single_row", sql`${t.id} = 1`)],
);

/**
 * What risk-stub remembers per payer, in one row so that one locked upsert per payment both reads and
 * updates it: concurrent payments of the same payer (other partitions, other replicas) queue on the row lock,
 * so velocity counts and device history are exact.
 */
export const riskPayerActivity = riskSchema.table("payer_activity", {
  payerId: text("payer_id").primaryKey(),
  /** Payments decided for this payer, ever. */
  payments: integer("payments").notNull(),
  /** Event times of this payer's recent payments (oldest first), trimmed to the velocity window and a cap. */
  recent: timestamp("recent", { withTimezone: true, mode: "string" }).array().notNull(),
  /** Devices this payer has paid from (most recent last), capped. */
  devices: text("devices").array().notNull(),
  /** Whether the payment that last touched this row came from a device not in `devices` before it. */
  lastDeviceNew: boolean("last_device_new").notNull().default(false),
  firstSeenAt: ts("first_seen_at").notNull().default(sql`now()`),
  updatedAt: ts("updated_at").notNull().default(sql`now()`),
});

/** One decision per payment, written in the same transaction as the inbox claim and the outbox row. */
export const riskDecisions = riskSchema.table("decisions", {
  paymentId: text("payment_id").primaryKey(),
  decisionId: text("decision_id").notNull(),
  /** The envelope id of the event that was decided. */
  eventId: uuid("event_id").notNull(),
  merchantId: text("merchant_id").notNull(),
  payerId: text("payer_id").notNull(),
  /** allow | challenge | block */
  outcome: text("outcome").notNull(),
  reasons: text("reasons").array().notNull(),
  rulesVersion: integer("rules_version").notNull(),
  /** What the rules saw: amount, currency, payer, device, ip, history counts. */
  inputs: jsonb("inputs").notNull(),
  decidedAt: ts("decided_at").notNull(),
});
