CREATE SCHEMA "sim";
--> statement-breakpoint
CREATE TABLE "sim"."callback_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"callback_id" bigint NOT NULL,
	"attempt" integer NOT NULL,
	"http_status" integer,
	"response_body" text,
	"error" text,
	"accepted" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sim"."callbacks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"charge_id" text NOT NULL,
	"merchant_ref" text NOT NULL,
	"kind" text NOT NULL,
	"url" text NOT NULL,
	"headers" jsonb NOT NULL,
	"body" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"due_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sim"."charges" (
	"id" text PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"merchant_id" text NOT NULL,
	"merchant_ref" text NOT NULL,
	"product" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"settle_amount" bigint,
	"settle_currency" text,
	"fx_rate" text,
	"status" text NOT NULL,
	"failure_reason" text,
	"subject" text DEFAULT '' NOT NULL,
	"bank_code" text,
	"flow" text,
	"payer_phone" text,
	"callback_url" text NOT NULL,
	"return_url" text,
	"passthrough" text,
	"faults" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"extra" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"sms_code" text,
	"sms_attempts" integer DEFAULT 0 NOT NULL,
	"auto_action" text,
	"auto_action_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"paid_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sim"."faults" (
	"channel" text PRIMARY KEY NOT NULL,
	"faults" jsonb NOT NULL,
	"ops" jsonb NOT NULL,
	"percent" integer DEFAULT 100 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sim"."sms_messages" (
	"id" text PRIMARY KEY NOT NULL,
	"phone" text NOT NULL,
	"text" text NOT NULL,
	"sender" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "callback_deliveries_callback_idx" ON "sim"."callback_deliveries" USING btree ("callback_id");--> statement-breakpoint
CREATE INDEX "callbacks_due_idx" ON "sim"."callbacks" USING btree ("due_at") WHERE "sim"."callbacks"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "callbacks_ref_idx" ON "sim"."callbacks" USING btree ("channel","merchant_ref");--> statement-breakpoint
CREATE UNIQUE INDEX "charges_channel_merchant_ref_uq" ON "sim"."charges" USING btree ("channel","merchant_id","merchant_ref");--> statement-breakpoint
CREATE INDEX "charges_channel_paid_at_idx" ON "sim"."charges" USING btree ("channel","paid_at");--> statement-breakpoint
CREATE INDEX "charges_auto_action_idx" ON "sim"."charges" USING btree ("auto_action_at") WHERE "sim"."charges"."auto_action" is not null;--> statement-breakpoint
CREATE INDEX "sms_messages_phone_idx" ON "sim"."sms_messages" USING btree ("phone","created_at");