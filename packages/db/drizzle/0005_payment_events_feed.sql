ALTER TABLE "payment"."payment_transitions" ADD COLUMN "merchant_id" text NOT NULL;--> statement-breakpoint
ALTER TABLE "payment"."payment_transitions" ADD COLUMN "envelope" jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "payment_transitions_merchant_feed_idx" ON "payment"."payment_transitions" USING btree ("merchant_id","id");