CREATE SCHEMA "ledger";
--> statement-breakpoint
CREATE TABLE "ledger"."account_changes" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"account_id" text NOT NULL,
	"change" text NOT NULL,
	"from_value" text,
	"to_value" text NOT NULL,
	"reason" text NOT NULL,
	"operator" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger"."accounts" (
	"id" text NOT NULL,
	"shard" smallint DEFAULT 0 NOT NULL,
	"shards" smallint DEFAULT 1 NOT NULL,
	"kind" text NOT NULL,
	"owner_id" text NOT NULL,
	"currency" text NOT NULL,
	"balance" bigint DEFAULT 0 NOT NULL,
	"held" bigint DEFAULT 0 NOT NULL,
	"floor" bigint,
	"status" text DEFAULT 'active' NOT NULL,
	"version" bigint DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_id_shard_pk" PRIMARY KEY("id","shard"),
	CONSTRAINT "accounts_floor_ck" CHECK ("ledger"."accounts"."floor" is null or "ledger"."accounts"."balance" - "ledger"."accounts"."held" >= "ledger"."accounts"."floor"),
	CONSTRAINT "accounts_held_ck" CHECK ("ledger"."accounts"."held" >= 0),
	CONSTRAINT "accounts_shard_ck" CHECK ("ledger"."accounts"."shard" >= 0 and "ledger"."accounts"."shard" < "ledger"."accounts"."shards"),
	CONSTRAINT "accounts_floor_single_shard_ck" CHECK ("ledger"."accounts"."floor" is null or "ledger"."accounts"."shards" = 1),
	CONSTRAINT "accounts_status_ck" CHECK ("ledger"."accounts"."status" in ('active', 'frozen', 'closed'))
);
--> statement-breakpoint
CREATE TABLE "ledger"."entries" (
	"id" text PRIMARY KEY NOT NULL,
	"cause" text NOT NULL,
	"cause_id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"hold_id" text,
	"memo" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ledger"."holds" (
	"id" text PRIMARY KEY NOT NULL,
	"debit_account_id" text NOT NULL,
	"credit_account_id" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"posted_amount" bigint DEFAULT 0 NOT NULL,
	"entry_id" text,
	"cause" text NOT NULL,
	"cause_id" text NOT NULL,
	"idempotency_key" text NOT NULL,
	"memo" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "holds_amount_ck" CHECK ("ledger"."holds"."amount" > 0 and "ledger"."holds"."posted_amount" >= 0 and "ledger"."holds"."posted_amount" <= "ledger"."holds"."amount"),
	CONSTRAINT "holds_status_ck" CHECK ("ledger"."holds"."status" in ('pending', 'posted', 'voided', 'expired'))
);
--> statement-breakpoint
CREATE TABLE "ledger"."postings" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"entry_id" text NOT NULL,
	"account_id" text NOT NULL,
	"shard" smallint NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"balance_after" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "postings_amount_ck" CHECK ("ledger"."postings"."amount" <> 0)
);
--> statement-breakpoint
CREATE INDEX "account_changes_account_id_seq_index" ON "ledger"."account_changes" USING btree ("account_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "accounts_owner_uq" ON "ledger"."accounts" USING btree ("kind","owner_id","currency","shard");--> statement-breakpoint
CREATE UNIQUE INDEX "entries_idempotency_key_uq" ON "ledger"."entries" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "entries_cause_cause_id_index" ON "ledger"."entries" USING btree ("cause","cause_id");--> statement-breakpoint
CREATE UNIQUE INDEX "holds_idempotency_key_uq" ON "ledger"."holds" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "holds_pending_expiry_idx" ON "ledger"."holds" USING btree ("expires_at") WHERE "ledger"."holds"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "postings_account_id_seq_index" ON "ledger"."postings" USING btree ("account_id","seq");--> statement-breakpoint
CREATE INDEX "postings_entry_id_index" ON "ledger"."postings" USING btree ("entry_id");