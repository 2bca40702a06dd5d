-- Every merchant with notifications has a lane (claims lock lanes, not notifications). A statement-level
-- trigger keeps that true for every writer (the consumer, older replicas during a rolling deploy, scripts).
CREATE FUNCTION "notify"."ensure_merchant_lanes"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "notify"."merchant_lanes" ("merchant_id") SELECT DISTINCT "merchant_id" FROM inserted ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "notifications_ensure_merchant_lanes" AFTER INSERT ON "notify"."notifications"
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION "notify"."ensure_merchant_lanes"();--> statement-breakpoint
INSERT INTO "notify"."merchant_lanes" ("merchant_id") SELECT DISTINCT "merchant_id" FROM "notify"."notifications" ON CONFLICT DO NOTHING;
