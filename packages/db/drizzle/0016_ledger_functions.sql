-- The ledger's writes, one round trip each (packages/ledger calls these; nothing else writes ledger rows).
-- Every refusal raises SQLSTATE LG001 with a stable code as its message (ledger.insufficient_funds, …) and
-- changes nothing: the whole call is one statement, so an exception undoes all of it.
-- Locks: hold rows before account rows, account rows in (id, shard) order, so two calls never wait on each
-- other in a cycle. A posting to an account with several shards goes to shard pg_backend_pid() % shards: a
-- connection keeps to one shard, and concurrent connections mostly meet on different rows.
-- The functions run with plan_cache_mode = auto: the apps' pools plan every statement afresh
-- (force_custom_plan, for their own set-based statements), but these bodies' statements have the same shape
-- on every call and keep their plans.

-- Entries and postings are never changed or deleted: a correction is an entry of its own.
CREATE FUNCTION "ledger"."refuse_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = 'ledger.immutable',
    DETAIL = TG_TABLE_NAME || ' rows are never changed or deleted; post a correcting entry';
END $$;--> statement-breakpoint
CREATE TRIGGER "entries_immutable" BEFORE UPDATE OR DELETE ON "ledger"."entries"
  FOR EACH ROW EXECUTE FUNCTION "ledger"."refuse_change"();--> statement-breakpoint
CREATE TRIGGER "entries_no_truncate" BEFORE TRUNCATE ON "ledger"."entries"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger"."refuse_change"();--> statement-breakpoint
CREATE TRIGGER "postings_immutable" BEFORE UPDATE OR DELETE ON "ledger"."postings"
  FOR EACH ROW EXECUTE FUNCTION "ledger"."refuse_change"();--> statement-breakpoint
CREATE TRIGGER "postings_no_truncate" BEFORE TRUNCATE ON "ledger"."postings"
  FOR EACH STATEMENT EXECUTE FUNCTION "ledger"."refuse_change"();--> statement-breakpoint

CREATE FUNCTION "ledger"."refuse"(p_code text, p_detail text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'LG001', MESSAGE = p_code, DETAIL = p_detail;
END $$;--> statement-breakpoint

-- Posts one entry: legs p_accounts[i] get p_amounts[i] (credit > 0, debit < 0). Checks, after locking every
-- account: each exists and is not closed; a debited one is active (not frozen); per currency the amounts
-- sum to zero; no debited account goes below its floor counting what it holds. A key already posted with
-- the same legs answers that entry (duplicate = true); with other legs it is refused. The caller sends the
-- legs in one canonical order (packages/ledger sorts them by account), which the fingerprint relies on.
-- Three statements, each driven by the primary key whatever the plan (no join on unnest(), whose size a
-- cached plan cannot see): the entry's insert, the locking read, the balance update with its postings.
CREATE FUNCTION "ledger"."post_entry"(
  p_id text, p_cause text, p_cause_id text, p_key text, p_accounts text[], p_amounts bigint[],
  p_memo jsonb DEFAULT '{}'::jsonb, p_hold_id text DEFAULT NULL
) RETURNS TABLE (entry_id text, duplicate boolean) LANGUAGE plpgsql
SET plan_cache_mode = 'auto' AS $$
DECLARE
  v_legs int := coalesce(cardinality(p_accounts), 0);
  v_fingerprint text;
  v_existing record;
  r record;
  v_ids text[] := '{}';
  v_shards smallint[] := '{}';
  v_currencies text[] := '{}';
  v_sums bigint[] := '{}';
  v_i int;
  v_bad text;
BEGIN
  IF v_legs < 2 OR v_legs <> coalesce(cardinality(p_amounts), -1) OR 0 = ANY (p_amounts)
    OR array_position(p_amounts, NULL) IS NOT NULL THEN
    PERFORM "ledger"."refuse"('ledger.invalid_entry',
      'an entry has two or more legs, each on its own account with a non-zero amount');
  END IF;
  v_fingerprint := md5(array_to_string(p_accounts, ',') || '|' || array_to_string(p_amounts, ','));
  INSERT INTO "ledger"."entries" ("id", "cause", "cause_id", "idempotency_key", "fingerprint", "hold_id", "memo")
    VALUES (p_id, p_cause, p_cause_id, p_key, v_fingerprint, p_hold_id, coalesce(p_memo, '{}'::jsonb))
    ON CONFLICT ("idempotency_key") DO NOTHING;
  IF NOT FOUND THEN
    SELECT e."id", e."fingerprint" INTO v_existing FROM "ledger"."entries" e WHERE e."idempotency_key" = p_key;
    IF v_existing."fingerprint" <> v_fingerprint THEN
      PERFORM "ledger"."refuse"('ledger.idempotency_key_reused',
        format('key %s already posted entry %s with other legs', p_key, v_existing."id"));
    END IF;
    RETURN QUERY SELECT v_existing."id"::text, true;
    RETURN;
  END IF;

  -- Lock each account's shard for this connection, in (id, shard) order, and check it.
  FOR r IN
    SELECT a."id", a."shard", a."kind", a."currency", a."status", a."balance" - a."held" AS available, a."floor"
    FROM "ledger"."accounts" a
    JOIN (
      SELECT a0."id", (pg_backend_pid() % a0."shards")::smallint AS shard FROM "ledger"."accounts" a0
      WHERE a0."id" = ANY (p_accounts) AND a0."shard" = 0
    ) w ON a."id" = w."id" AND a."shard" = w.shard
    ORDER BY a."id", a."shard"
    FOR UPDATE OF a
  LOOP
    v_ids := v_ids || r."id";
    v_shards := v_shards || r."shard";
    v_i := array_position(p_accounts, r."id");
    IF r."status" = 'closed' OR (r."status" = 'frozen' AND p_amounts[v_i] < 0) THEN
      PERFORM "ledger"."refuse"(
        CASE WHEN r."status" = 'closed' THEN 'ledger.account_closed' ELSE 'ledger.account_frozen' END,
        format('account %s (%s) is %s', r."id", r."kind", r."status"));
    END IF;
    IF p_amounts[v_i] < 0 AND r."floor" IS NOT NULL AND r.available + p_amounts[v_i] < r."floor" THEN
      PERFORM "ledger"."refuse"(
        CASE WHEN r."kind" = 'payer_credit' THEN 'ledger.credit_limit_exceeded' ELSE 'ledger.insufficient_funds' END,
        format('account %s (%s) has %s available above its floor %s; the entry takes %s',
          r."id", r."kind", r.available - r."floor", r."floor", -p_amounts[v_i]));
    END IF;
    v_i := array_position(v_currencies, r."currency");
    IF v_i IS NULL THEN
      v_currencies := v_currencies || r."currency";
      v_sums := v_sums || p_amounts[array_position(p_accounts, r."id")];
    ELSE
      v_sums[v_i] := v_sums[v_i] + p_amounts[array_position(p_accounts, r."id")];
    END IF;
  END LOOP;
  IF cardinality(v_ids) <> v_legs THEN
    SELECT l.a INTO v_bad FROM unnest(p_accounts) AS l(a) WHERE l.a <> ALL (v_ids) LIMIT 1;
    IF v_bad IS NULL OR EXISTS (SELECT 1 FROM "ledger"."accounts" a WHERE a."id" = v_bad) THEN
      PERFORM "ledger"."refuse"('ledger.invalid_entry', 'every leg of an entry is on an account of its own');
    END IF;
    PERFORM "ledger"."refuse"('ledger.account_unknown', format('no account %s', v_bad));
  END IF;
  FOR v_i IN 1 .. cardinality(v_currencies) LOOP
    IF v_sums[v_i] <> 0 THEN
      PERFORM "ledger"."refuse"('ledger.unbalanced_entry',
        format('the legs in %s sum to %s, not 0', v_currencies[v_i], v_sums[v_i]));
    END IF;
  END LOOP;

  WITH moved AS (
    UPDATE "ledger"."accounts" a
    SET "balance" = a."balance" + p_amounts[array_position(p_accounts, a."id")], "version" = a."version" + 1,
      "updated_at" = now()
    WHERE a."id" = ANY (v_ids) AND a."shard" = ANY (v_shards) AND a."shard" = v_shards[array_position(v_ids, a."id")]
    RETURNING a."id", a."shard", a."currency", a."balance"
  )
  INSERT INTO "ledger"."postings" ("entry_id", "account_id", "shard", "amount", "currency", "balance_after")
    SELECT p_id, moved."id", moved."shard", p_amounts[array_position(p_accounts, moved."id")], moved."currency",
      moved."balance"
    FROM moved;
  RETURN QUERY SELECT p_id, false;
END $$;--> statement-breakpoint

-- Reserves p_amount on p_debit (an account with one shard) for a later post to p_credit, until p_expires_at.
CREATE FUNCTION "ledger"."hold"(
  p_id text, p_cause text, p_cause_id text, p_key text, p_debit text, p_credit text, p_amount bigint,
  p_expires_at timestamptz, p_memo jsonb DEFAULT '{}'::jsonb
) RETURNS TABLE (hold_id text, duplicate boolean) LANGUAGE plpgsql
SET plan_cache_mode = 'auto' AS $$
DECLARE
  v_debit record;
  v_credit record;
  v_existing record;
BEGIN
  IF p_amount IS NULL OR p_amount <= 0 OR p_debit = p_credit THEN
    PERFORM "ledger"."refuse"('ledger.invalid_entry', 'a hold has a positive amount and two different accounts');
  END IF;
  IF p_expires_at IS NULL OR p_expires_at <= now() THEN
    PERFORM "ledger"."refuse"('ledger.invalid_entry', 'a hold expires in the future');
  END IF;
  SELECT h."id", h."debit_account_id", h."credit_account_id", h."amount" INTO v_existing
    FROM "ledger"."holds" h WHERE h."idempotency_key" = p_key;
  IF FOUND THEN
    IF v_existing."debit_account_id" <> p_debit OR v_existing."credit_account_id" <> p_credit
      OR v_existing."amount" <> p_amount THEN
      PERFORM "ledger"."refuse"('ledger.idempotency_key_reused',
        format('key %s already made hold %s with other terms', p_key, v_existing."id"));
    END IF;
    RETURN QUERY SELECT v_existing."id"::text, true;
    RETURN;
  END IF;
  SELECT a."id", a."kind", a."currency", a."status", a."shards", a."balance" - a."held" AS available, a."floor"
    INTO v_debit FROM "ledger"."accounts" a WHERE a."id" = p_debit AND a."shard" = 0 FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM "ledger"."refuse"('ledger.account_unknown', format('no account %s', p_debit));
  END IF;
  SELECT a."id", a."currency", a."status" INTO v_credit FROM "ledger"."accounts" a WHERE a."id" = p_credit LIMIT 1;
  IF NOT FOUND THEN
    PERFORM "ledger"."refuse"('ledger.account_unknown', format('no account %s', p_credit));
  END IF;
  IF v_debit."shards" <> 1 THEN
    PERFORM "ledger"."refuse"('ledger.invalid_entry', format('account %s has several shards: holds debit single-shard accounts', p_debit));
  END IF;
  IF v_debit."status" <> 'active' OR v_credit."status" = 'closed' THEN
    PERFORM "ledger"."refuse"(
      CASE WHEN v_debit."status" = 'frozen' THEN 'ledger.account_frozen' ELSE 'ledger.account_closed' END,
      format('account %s is %s', CASE WHEN v_debit."status" <> 'active' THEN p_debit ELSE p_credit END,
        CASE WHEN v_debit."status" <> 'active' THEN v_debit."status" ELSE v_credit."status" END));
  END IF;
  IF v_debit."currency" <> v_credit."currency" THEN
    PERFORM "ledger"."refuse"('ledger.currency_mismatch',
      format('%s is in %s, %s in %s', p_debit, v_debit."currency", p_credit, v_credit."currency"));
  END IF;
  IF v_debit."floor" IS NOT NULL AND v_debit.available - p_amount < v_debit."floor" THEN
    PERFORM "ledger"."refuse"(
      CASE WHEN v_debit."kind" = 'payer_credit' THEN 'ledger.credit_limit_exceeded' ELSE 'ledger.insufficient_funds' END,
      format('account %s (%s) has %s available above its floor %s; the hold takes %s',
        p_debit, v_debit."kind", v_debit.available - v_debit."floor", v_debit."floor", p_amount));
  END IF;
  INSERT INTO "ledger"."holds" ("id", "debit_account_id", "credit_account_id", "amount", "currency", "cause",
    "cause_id", "idempotency_key", "memo", "expires_at")
    VALUES (p_id, p_debit, p_credit, p_amount, v_debit."currency", p_cause, p_cause_id, p_key,
      coalesce(p_memo, '{}'::jsonb), p_expires_at);
  UPDATE "ledger"."accounts" SET "held" = "held" + p_amount, "version" = "version" + 1, "updated_at" = now()
    WHERE "id" = p_debit AND "shard" = 0;
  RETURN QUERY SELECT p_id, false;
END $$;--> statement-breakpoint

-- Posts p_amount (at most the hold's) of a pending hold as entry p_entry_id and releases the rest. A key
-- that already posted this hold answers that entry.
CREATE FUNCTION "ledger"."post_hold"(
  p_hold_id text, p_amount bigint, p_entry_id text, p_cause text, p_key text, p_memo jsonb DEFAULT '{}'::jsonb
) RETURNS TABLE (entry_id text, duplicate boolean) LANGUAGE plpgsql
SET plan_cache_mode = 'auto' AS $$
DECLARE
  v_hold record;
  v_posted record;
BEGIN
  SELECT * INTO v_hold FROM "ledger"."holds" h WHERE h."id" = p_hold_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM "ledger"."refuse"('ledger.hold_not_found', format('no hold %s', p_hold_id));
  END IF;
  IF v_hold."status" = 'posted' THEN
    SELECT e."id" INTO v_posted FROM "ledger"."entries" e WHERE e."id" = v_hold."entry_id" AND e."idempotency_key" = p_key;
    IF FOUND AND v_hold."posted_amount" = p_amount THEN
      RETURN QUERY SELECT v_posted."id"::text, true;
      RETURN;
    END IF;
  END IF;
  IF v_hold."status" <> 'pending' THEN
    PERFORM "ledger"."refuse"('ledger.hold_not_pending', format('hold %s is %s', p_hold_id, v_hold."status"));
  END IF;
  IF v_hold."expires_at" <= now() THEN
    PERFORM "ledger"."refuse"('ledger.hold_expired', format('hold %s expired at %s', p_hold_id, v_hold."expires_at"));
  END IF;
  IF p_amount IS NULL OR p_amount <= 0 OR p_amount > v_hold."amount" THEN
    PERFORM "ledger"."refuse"('ledger.amount_exceeds_hold',
      format('hold %s is for %s; %s cannot be posted', p_hold_id, v_hold."amount", p_amount));
  END IF;
  -- Release the whole reservation, then post what is taken: the entry's floor check sees the account as if
  -- the hold had never been (balance - held + released), which the reservation guaranteed covers p_amount.
  UPDATE "ledger"."accounts" SET "held" = "held" - v_hold."amount", "version" = "version" + 1, "updated_at" = now()
    WHERE "id" = v_hold."debit_account_id" AND "shard" = 0;
  UPDATE "ledger"."holds" SET "status" = 'posted', "posted_amount" = p_amount, "entry_id" = p_entry_id, "updated_at" = now()
    WHERE "id" = p_hold_id;
  RETURN QUERY SELECT * FROM "ledger"."post_entry"(p_entry_id, p_cause, v_hold."cause_id", p_key,
    ARRAY[v_hold."debit_account_id", v_hold."credit_account_id"], ARRAY[-p_amount, p_amount],
    coalesce(p_memo, '{}'::jsonb) || jsonb_build_object('hold_id', p_hold_id), p_hold_id);
END $$;--> statement-breakpoint

-- Releases a pending hold. Voiding a voided hold changes nothing (already = true).
CREATE FUNCTION "ledger"."void_hold"(p_hold_id text) RETURNS TABLE (hold_id text, already boolean)
LANGUAGE plpgsql
SET plan_cache_mode = 'auto' AS $$
DECLARE
  v_hold record;
BEGIN
  SELECT * INTO v_hold FROM "ledger"."holds" h WHERE h."id" = p_hold_id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM "ledger"."refuse"('ledger.hold_not_found', format('no hold %s', p_hold_id));
  END IF;
  IF v_hold."status" = 'voided' THEN
    RETURN QUERY SELECT p_hold_id, true;
    RETURN;
  END IF;
  IF v_hold."status" <> 'pending' THEN
    PERFORM "ledger"."refuse"('ledger.hold_not_pending', format('hold %s is %s', p_hold_id, v_hold."status"));
  END IF;
  UPDATE "ledger"."accounts" SET "held" = "held" - v_hold."amount", "version" = "version" + 1, "updated_at" = now()
    WHERE "id" = v_hold."debit_account_id" AND "shard" = 0;
  UPDATE "ledger"."holds" SET "status" = 'voided', "updated_at" = now() WHERE "id" = p_hold_id;
  RETURN QUERY SELECT p_hold_id, false;
END $$;--> statement-breakpoint

-- Expires up to p_limit pending holds past their expiry (skipping those another call has locked), releasing
-- what they reserved. Returns how many.
CREATE FUNCTION "ledger"."expire_holds"(p_limit int) RETURNS int LANGUAGE plpgsql
SET plan_cache_mode = 'auto' AS $$
DECLARE
  v_ids text[];
  v_accounts text[];
  v_amounts bigint[];
BEGIN
  SELECT array_agg(d."id"), array_agg(d."debit_account_id"), array_agg(d."amount")
    INTO v_ids, v_accounts, v_amounts
    FROM (
      SELECT h."id", h."debit_account_id", h."amount" FROM "ledger"."holds" h
      WHERE h."status" = 'pending' AND h."expires_at" <= now()
      ORDER BY h."expires_at" LIMIT p_limit FOR UPDATE SKIP LOCKED
    ) d;
  IF v_ids IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM 1 FROM "ledger"."accounts" a WHERE a."id" = ANY (v_accounts) AND a."shard" = 0
    ORDER BY a."id" FOR UPDATE;
  UPDATE "ledger"."holds" SET "status" = 'expired', "updated_at" = now() WHERE "id" = ANY (v_ids);
  UPDATE "ledger"."accounts" a SET "held" = a."held" - s.total, "version" = a."version" + 1, "updated_at" = now()
    FROM (SELECT l.a, sum(l.m) AS total FROM unnest(v_accounts, v_amounts) AS l(a, m) GROUP BY l.a) s
    WHERE a."id" = s.a AND a."shard" = 0;
  RETURN cardinality(v_ids);
END $$;
