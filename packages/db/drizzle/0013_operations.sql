CREATE TABLE "payment"."payment_operations" (
	"id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"merchant_id" text NOT NULL,
	"kind" text NOT NULL,
	"merchant_ref" text,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"channel" text NOT NULL,
	"channel_op_id" text,
	"reason" text,
	"origin" text DEFAULT 'api' NOT NULL,
	"failure_code" text,
	"failure_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	CONSTRAINT "payment_operations_amount_ck" CHECK ("payment"."payment_operations"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE "routing"."operation_calls" (
	"id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"kind" text NOT NULL,
	"channel" text NOT NULL,
	"status" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"request" jsonb NOT NULL,
	"channel_op_id" text,
	"failure_code" text,
	"last_error" text,
	"query_count" integer DEFAULT 0 NOT NULL,
	"next_query_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sim"."operations" (
	"id" text PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"merchant_id" text NOT NULL,
	"charge_id" text NOT NULL,
	"kind" text NOT NULL,
	"merchant_ref" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"failure_reason" text,
	"callback_url" text,
	"reason" text,
	"faults" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"complete_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "payment"."merchants" ADD COLUMN "late_success_policy" text DEFAULT 'apply' NOT NULL;--> statement-breakpoint
ALTER TABLE "payment"."payment_transitions" ADD COLUMN "operation_id" text;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "capture_method" text DEFAULT 'automatic' NOT NULL;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "amount_authorized" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "amount_captured" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "amount_refunded" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "amount_refund_pending" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "authorized_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "authorization_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "captured_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD COLUMN "paid_attempt_id" text;--> statement-breakpoint
ALTER TABLE "sim"."callbacks" ADD COLUMN "operation_id" text;--> statement-breakpoint
ALTER TABLE "sim"."charges" ADD COLUMN "capture_mode" text DEFAULT 'auto' NOT NULL;--> statement-breakpoint
ALTER TABLE "sim"."charges" ADD COLUMN "authorized_amount" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sim"."charges" ADD COLUMN "auth_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sim"."charges" ADD COLUMN "captured_amount" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sim"."charges" ADD COLUMN "captured_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sim"."charges" ADD COLUMN "refunded_amount" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sim"."charges" ADD COLUMN "refund_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "payment_operations_merchant_ref_key" ON "payment"."payment_operations" USING btree ("merchant_id","kind","merchant_ref") WHERE "payment"."payment_operations"."merchant_ref" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "payment_operations_settle_once_key" ON "payment"."payment_operations" USING btree ("payment_id") WHERE "payment"."payment_operations"."kind" in ('capture', 'void') and "payment"."payment_operations"."status" <> 'failed';--> statement-breakpoint
CREATE UNIQUE INDEX "payment_operations_cancel_once_key" ON "payment"."payment_operations" USING btree ("payment_id") WHERE "payment"."payment_operations"."kind" = 'cancel' and "payment"."payment_operations"."status" <> 'failed';--> statement-breakpoint
CREATE INDEX "payment_operations_payment_idx" ON "payment"."payment_operations" USING btree ("payment_id","created_at");--> statement-breakpoint
CREATE INDEX "operation_calls_next_query_at_idx" ON "routing"."operation_calls" USING btree ("next_query_at") WHERE "routing"."operation_calls"."next_query_at" is not null;--> statement-breakpoint
CREATE INDEX "operation_calls_payment_idx" ON "routing"."operation_calls" USING btree ("payment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "operations_channel_merchant_kind_ref_uq" ON "sim"."operations" USING btree ("channel","merchant_id","kind","merchant_ref");--> statement-breakpoint
CREATE INDEX "operations_charge_idx" ON "sim"."operations" USING btree ("charge_id");--> statement-breakpoint
CREATE INDEX "operations_complete_at_idx" ON "sim"."operations" USING btree ("complete_at") WHERE "sim"."operations"."status" = 'processing';--> statement-breakpoint
CREATE INDEX "payments_authorization_expiry_idx" ON "payment"."payments" USING btree ("authorization_expires_at") WHERE status = 'requires_capture';--> statement-breakpoint
-- Payments and channel transactions that succeeded before this migration took their whole amount at once.
UPDATE "payment"."payments" p SET "amount_authorized" = p."amount", "amount_captured" = p."amount", "captured_at" = p."updated_at", "authorized_at" = p."updated_at",
  "paid_attempt_id" = (SELECT a."attempt_id" FROM "payment"."payment_attempts" a WHERE a."payment_id" = p."id" AND a."outcome" = 'succeeded' ORDER BY a."attempt_no" DESC LIMIT 1)
  WHERE p."status" = 'succeeded';--> statement-breakpoint
UPDATE "sim"."charges" SET "authorized_amount" = "amount", "captured_amount" = "amount", "captured_at" = "paid_at" WHERE "status" = 'succeeded';--> statement-breakpoint
ALTER TABLE "payment"."payments" ADD CONSTRAINT "payments_amounts_ck" CHECK ("payment"."payments"."amount_authorized" >= 0 and "payment"."payments"."amount_captured" >= 0 and "payment"."payments"."amount_refunded" >= 0 and "payment"."payments"."amount_refund_pending" >= 0
        and "payment"."payments"."amount_captured" <= "payment"."payments"."amount_authorized" and "payment"."payments"."amount_authorized" <= "payment"."payments"."amount"
        and "payment"."payments"."amount_refunded" + "payment"."payments"."amount_refund_pending" <= "payment"."payments"."amount_captured");