CREATE TABLE "risk"."blocklist" (
	"kind" text NOT NULL,
	"value" text NOT NULL,
	"reason" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "blocklist_kind_value_pk" PRIMARY KEY("kind","value"),
	CONSTRAINT "blocklist_kind_check" CHECK ("risk"."blocklist"."kind" in ('payer', 'device', 'ip'))
);
--> statement-breakpoint
CREATE TABLE "risk"."blocklist_version" (
	"id" smallint PRIMARY KEY DEFAULT 1 NOT NULL,
	"version" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "blocklist_version_single_row" CHECK ("risk"."blocklist_version"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "risk"."decisions" (
	"payment_id" text PRIMARY KEY NOT NULL,
	"decision_id" text NOT NULL,
	"event_id" uuid NOT NULL,
	"merchant_id" text NOT NULL,
	"payer_id" text NOT NULL,
	"outcome" text NOT NULL,
	"reasons" text[] NOT NULL,
	"rules_version" integer NOT NULL,
	"inputs" jsonb NOT NULL,
	"decided_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "risk"."payer_activity" (
	"payer_id" text PRIMARY KEY NOT NULL,
	"payments" integer NOT NULL,
	"recent" timestamp with time zone[] NOT NULL,
	"devices" text[] NOT NULL,
	"last_device_new" boolean DEFAULT false NOT NULL,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "risk"."rules" (
	"version" integer PRIMARY KEY NOT NULL,
	"config" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
