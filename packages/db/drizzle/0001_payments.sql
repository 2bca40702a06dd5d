CREATE TABLE "payment"."channel_callbacks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"attempt_id" text,
	"payment_id" text,
	"channel_txn_id" text,
	"reported_status" text,
	"signature_valid" boolean NOT NULL,
	"outcome" text NOT NULL,
	"detail" text,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."idempotency_keys" (
	"merchant_id" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"response_status" smallint NOT NULL,
	"response_body" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_merchant_id_key_pk" PRIMARY KEY("merchant_id","key")
);
--> statement-breakpoint
CREATE TABLE "payment"."merchants" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"sign_scheme" text DEFAULT 'HMAC_SHA256' NOT NULL,
	"secret_key" text NOT NULL,
	"public_key" text,
	"enabled_products" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."payer_accounts" (
	"payer_id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."payment_attempts" (
	"attempt_id" text PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"attempt_no" smallint NOT NULL,
	"channel" text NOT NULL,
	"outcome" text NOT NULL,
	"channel_txn_id" text,
	"failure_code" text,
	"failure_message" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."payment_transitions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payment_id" text NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"version" integer NOT NULL,
	"cause" text NOT NULL,
	"cause_ref" text,
	"detail" jsonb,
	"event_id" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."payments" (
	"id" text PRIMARY KEY NOT NULL,
	"merchant_id" text NOT NULL,
	"merchant_order_no" text NOT NULL,
	"product" text NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"subject" text NOT NULL,
	"status" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"payer_id" text NOT NULL,
	"payer_ip" text,
	"payer_device_id" text,
	"payer_phone" text,
	"method" jsonb NOT NULL,
	"notify_url" text NOT NULL,
	"return_url" text NOT NULL,
	"metadata" jsonb NOT NULL,
	"channel" text,
	"channel_txn_id" text,
	"action" jsonb,
	"settlement" jsonb,
	"failure_code" text,
	"failure_message" text,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payment"."request_nonces" (
	"merchant_id" text NOT NULL,
	"nonce" text NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "request_nonces_merchant_id_nonce_pk" PRIMARY KEY("merchant_id","nonce")
);
--> statement-breakpoint
CREATE TABLE "payment"."verifications" (
	"payment_id" text PRIMARY KEY NOT NULL,
	"phone" text NOT NULL,
	"code_hash" text NOT NULL,
	"attempts" smallint DEFAULT 0 NOT NULL,
	"max_attempts" smallint NOT NULL,
	"status" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "channel_callbacks_payment_idx" ON "payment"."channel_callbacks" USING btree ("payment_id");
--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "payment"."idempotency_keys" USING btree ("created_at");
--> statement-breakpoint
CREATE INDEX "payment_attempts_payment_idx" ON "payment"."payment_attempts" USING btree ("payment_id");
--> statement-breakpoint
CREATE INDEX "payment_transitions_payment_idx" ON "payment"."payment_transitions" USING btree ("payment_id","version");
--> statement-breakpoint
CREATE UNIQUE INDEX "payments_merchant_order_no_key" ON "payment"."payments" USING btree ("merchant_id","merchant_order_no");
--> statement-breakpoint
CREATE INDEX "payments_open_expiry_idx" ON "payment"."payments" USING btree ("expires_at") WHERE status in ('awaiting_payment','risk_review','requires_verification','requires_action');
--> statement-breakpoint
CREATE INDEX "request_nonces_seen_idx" ON "payment"."request_nonces" USING btree ("seen_at");
