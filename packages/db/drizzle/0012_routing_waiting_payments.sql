CREATE TABLE "routing"."waiting_payments" (
	"payment_id" text PRIMARY KEY NOT NULL,
	"attempt_no" integer NOT NULL,
	"payment" jsonb NOT NULL,
	"wait_until" timestamp with time zone NOT NULL,
	"next_try_at" timestamp with time zone NOT NULL,
	"claim_id" text,
	"tries" integer DEFAULT 0 NOT NULL,
	"last_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "waiting_payments_next_try_at_idx" ON "routing"."waiting_payments" USING btree ("next_try_at");