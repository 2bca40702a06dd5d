ALTER TABLE "payment"."merchants" ADD COLUMN "sign_format" text DEFAULT 'v2' NOT NULL;--> statement-breakpoint
-- Merchants onboarded before v2 signed the sorted k=v string: they keep it until they move (docs/signing.md).
UPDATE "payment"."merchants" SET "sign_format" = 'legacy_params';
