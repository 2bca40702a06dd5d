CREATE TABLE "routing"."attempts" (
	"id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"attempt_no" integer NOT NULL,
	"channel" text NOT NULL,
	"status" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"channel_txn_id" text,
	"failure_code" text,
	"last_error" text,
	"query_count" integer DEFAULT 0 NOT NULL,
	"next_query_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "routing"."channel_stats" (
	"channel" text NOT NULL,
	"bucket_start" timestamp with time zone NOT NULL,
	"calls" integer DEFAULT 0 NOT NULL,
	"succeeded" integer DEFAULT 0 NOT NULL,
	"declined" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"unknown" integer DEFAULT 0 NOT NULL,
	"accepted" integer DEFAULT 0 NOT NULL,
	"latency_ms_sum" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "channel_stats_channel_bucket_start_pk" PRIMARY KEY("channel","bucket_start")
);
--> statement-breakpoint
CREATE TABLE "routing"."channels" (
	"id" text PRIMARY KEY NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"fee_fixed" bigint DEFAULT 0 NOT NULL,
	"fee_rate_bps" integer DEFAULT 0 NOT NULL,
	"min_amount" bigint DEFAULT 1 NOT NULL,
	"max_amount" bigint NOT NULL,
	"priority" integer DEFAULT 100 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routing"."circuits" (
	"channel" text PRIMARY KEY NOT NULL,
	"state" text DEFAULT 'closed' NOT NULL,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"opened_at" timestamp with time zone,
	"probe_started_at" timestamp with time zone,
	"forced" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "routing"."decisions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"attempt_no" integer NOT NULL,
	"product" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"bank_code" text,
	"wallet" text,
	"candidates" jsonb NOT NULL,
	"winner" text,
	"reason" text NOT NULL,
	"decided_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "attempts_payment_id_attempt_no_index" ON "routing"."attempts" USING btree ("payment_id","attempt_no");--> statement-breakpoint
CREATE INDEX "attempts_next_query_at_idx" ON "routing"."attempts" USING btree ("next_query_at") WHERE "routing"."attempts"."next_query_at" is not null;--> statement-breakpoint
CREATE INDEX "channel_stats_bucket_start_index" ON "routing"."channel_stats" USING btree ("bucket_start");--> statement-breakpoint
CREATE UNIQUE INDEX "decisions_payment_id_attempt_no_index" ON "routing"."decisions" USING btree ("payment_id","attempt_no");