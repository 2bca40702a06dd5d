CREATE TABLE "notify"."merchant_lanes" (
	"merchant_id" text PRIMARY KEY NOT NULL,
	"paused_until" timestamp with time zone,
	"claimed_at" timestamp with time zone,
	"claim_token" uuid
);
--> statement-breakpoint
ALTER TABLE "notify"."merchant_settings" ADD COLUMN "ordered_delivery" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "notifications_merchant_due_index" ON "notify"."notifications" USING btree ("merchant_id","next_attempt_at") WHERE "notify"."notifications"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "notifications_open_by_payment_index" ON "notify"."notifications" USING btree ("merchant_id","payment_id","object_version") WHERE "notify"."notifications"."status" in ('pending', 'delivering');