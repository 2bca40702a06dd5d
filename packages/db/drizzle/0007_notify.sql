CREATE TABLE "notify"."delivery_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"notification_id" text NOT NULL,
	"attempt_no" integer NOT NULL,
	"series" integer NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"outcome" text NOT NULL,
	"status_code" integer,
	"latency_ms" integer NOT NULL,
	"response_body" text,
	"error" text,
	"error_detail" text
);
--> statement-breakpoint
CREATE TABLE "notify"."notifications" (
	"id" text PRIMARY KEY NOT NULL,
	"merchant_id" text NOT NULL,
	"payment_id" text NOT NULL,
	"event_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"object_version" integer NOT NULL,
	"url" text NOT NULL,
	"body" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"series" integer DEFAULT 1 NOT NULL,
	"series_attempts" integer DEFAULT 0 NOT NULL,
	"series_started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"lease_until" timestamp with time zone,
	"lease_token" uuid,
	"last_error" text,
	"last_status_code" integer,
	"delivered_at" timestamp with time zone,
	"event_occurred_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notify"."merchant_settings" (
	"merchant_id" text PRIMARY KEY NOT NULL,
	"schedule_seconds" integer[],
	"max_concurrency" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notify"."outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"topic" text NOT NULL,
	"key" text NOT NULL,
	"envelope" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notify"."delivery_attempts" ADD CONSTRAINT "delivery_attempts_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "notify"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "delivery_attempts_notification_attempt_index" ON "notify"."delivery_attempts" USING btree ("notification_id","attempt_no");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_event_id_index" ON "notify"."notifications" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "notifications_merchant_payment_index" ON "notify"."notifications" USING btree ("merchant_id","payment_id","created_at");--> statement-breakpoint
CREATE INDEX "notifications_due_index" ON "notify"."notifications" USING btree ("next_attempt_at") WHERE "notify"."notifications"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "notifications_delivering_index" ON "notify"."notifications" USING btree ("merchant_id","lease_until") WHERE "notify"."notifications"."status" = 'delivering';