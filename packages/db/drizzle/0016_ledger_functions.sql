-- The ledger's writes, one statement each (packages/ledger calls these; nothing else writes ledger rows).
-- A refusal raises SQLSTATE LG001 with a stable code as its message (ledger.insufficient_funds, …) and
-- changes nothing: the whole call is one statement, so an exception undoes all of it. post_entries instead
-- answers each entry of its batch (posted, duplicate, or refused with its code), posting the others.
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

-- Posts a batch of entries in one statement (one transaction, one commit: the ledger's group commit).
-- Entry i has p_leg_counts[i] legs, contiguous in p_accounts / p_amounts (credit > 0, debit < 0), each on
-- an account of its own, in one canonical order (packages/ledger sorts them by account; the fingerprint
-- that tells a redelivery from a reused key relies on it). Keys in a batch are distinct.
-- Each entry is checked on its own, in order, against the balances the entries before it in the batch
-- left: every account exists and is not closed; a debited one is active (not frozen); per currency the
-- legs sum to zero; no debited account goes below its floor counting what it holds. An entry that fails
-- is refused (refusal = its code) and moves nothing; the others post. A key already posted with the same
-- legs answers that entry (duplicate = true); with other legs it is refused.
-- Statements per batch, whatever its size: the duplicate lookup, the locking read (every account shard
-- for this connection, in (id, shard) order), the entries' insert, the balances' update, the postings'
-- insert. Each is driven by a primary or unique key whatever the plan (no join on unnest(), whose size a
-- cached plan cannot see); the checks run in memory on the locked rows.
CREATE FUNCTION "ledger"."post_entries"(
  p_ids text[], p_causes text[], p_cause_ids text[], p_keys text[], p_memos jsonb[], p_hold_ids text[],
  p_leg_counts int[], p_accounts text[], p_amounts bigint[]
) RETURNS TABLE (entry_no int, entry_id text, duplicate boolean, refusal text, detail text) LANGUAGE plpgsql
SET plan_cache_mode = 'auto' AS $$
DECLARE
  n int := coalesce(cardinality(p_ids), 0);
  v_first int[] := '{}';          -- entry i's legs are v_first[i] .. v_first[i] + p_leg_counts[i] - 1
  v_fp text[] := '{}';            -- fingerprints
  v_out_id text[] := '{}';
  v_dup boolean[] := '{}';
  v_code text[] := '{}';
  v_detail text[] := '{}';
  -- the locked account shards
  a_id text[] := '{}';
  a_shard smallint[] := '{}';
  a_kind text[] := '{}';
  a_cur text[] := '{}';
  a_status text[] := '{}';
  a_bal bigint[] := '{}';
  a_held bigint[] := '{}';
  a_floor bigint[] := '{}';
  a_locked bigint[];              -- the balances as locked, before this batch
  -- what is posted
  e_no int[] := '{}';
  p_entry text[] := '{}';
  p_acc text[] := '{}';
  p_sh smallint[] := '{}';
  p_amt bigint[] := '{}';
  p_cur text[] := '{}';
  p_after bigint[] := '{}';
  v_wanted text[] := '{}';
  v_inserted text[];
  v_cur text[];
  v_sum bigint[];
  r record;
  i int;
  j int;
  k int;
  c int;
  v_off int := 1;
  v_ok boolean;
BEGIN
  IF n = 0 OR cardinality(p_causes) <> n OR cardinality(p_cause_ids) <> n OR cardinality(p_keys) <> n
    OR cardinality(p_memos) <> n OR cardinality(p_hold_ids) <> n OR cardinality(p_leg_counts) <> n
    OR cardinality(p_accounts) <> cardinality(p_amounts) THEN
    PERFORM "ledger"."refuse"('ledger.invalid_entry', 'a batch names each entry''s id, cause, key, memo, hold and legs');
  END IF;
  FOR i IN 1 .. n LOOP
    v_first := v_first || v_off;
    v_off := v_off + coalesce(p_leg_counts[i], 0);
    v_fp := v_fp || md5(array_to_string(p_accounts[v_first[i] : v_off - 1], ',') || '|'
      || array_to_string(p_amounts[v_first[i] : v_off - 1], ','));
    v_out_id := v_out_id || p_ids[i];
    v_dup := v_dup || false;
    v_code := v_code || NULL::text;
    v_detail := v_detail || NULL::text;
    IF coalesce(p_leg_counts[i], 0) < 2 OR 0 = ANY (p_amounts[v_first[i] : v_off - 1])
      OR array_position(p_amounts[v_first[i] : v_off - 1], NULL) IS NOT NULL THEN
      v_code[i] := 'ledger.invalid_entry';
      v_detail[i] := 'an entry has two or more legs, each on its own account with a non-zero amount';
    END IF;
  END LOOP;
  IF v_off - 1 <> cardinality(p_accounts) THEN
    PERFORM "ledger"."refuse"('ledger.invalid_entry', 'the leg counts do not add up to the legs sent');
  END IF;

  -- Keys posted before: the same legs answer that entry, other legs are refused.
  FOR r IN SELECT e."idempotency_key" AS k, e."id", e."fingerprint" FROM "ledger"."entries" e
    WHERE e."idempotency_key" = ANY (p_keys) LOOP
    i := array_position(p_keys, r.k);
    IF r."fingerprint" = v_fp[i] THEN
      v_out_id[i] := r."id";
      v_dup[i] := true;
    ELSE
      v_code[i] := 'ledger.idempotency_key_reused';
      v_detail[i] := format('key %s already posted entry %s with other legs', r.k, r."id");
    END IF;
  END LOOP;

  FOR i IN 1 .. n LOOP
    IF NOT v_dup[i] AND v_code[i] IS NULL THEN
      v_wanted := v_wanted || p_accounts[v_first[i] : v_first[i] + p_leg_counts[i] - 1];
    END IF;
  END LOOP;
  FOR r IN
    SELECT a."id", a."shard", a."kind", a."currency", a."status", a."balance", a."held", a."floor"
    FROM "ledger"."accounts" a
    JOIN (
      SELECT a0."id", (pg_backend_pid() % a0."shards")::smallint AS shard FROM "ledger"."accounts" a0
      WHERE a0."id" = ANY (v_wanted) AND a0."shard" = 0
    ) w ON a."id" = w."id" AND a."shard" = w.shard
    ORDER BY a."id", a."shard"
    FOR UPDATE OF a
  LOOP
    a_id := a_id || r."id";
    a_shard := a_shard || r."shard";
    a_kind := a_kind || r."kind";
    a_cur := a_cur || r."currency";
    a_status := a_status || r."status";
    a_bal := a_bal || r."balance";
    a_held := a_held || r."held";
    a_floor := a_floor || r."floor";
  END LOOP;

  a_locked := a_bal;
  -- Each entry in order, against the balances the ones before it left.
  FOR i IN 1 .. n LOOP
    CONTINUE WHEN v_dup[i] OR v_code[i] IS NOT NULL;
    v_ok := true;
    v_cur := '{}';
    v_sum := '{}';
    FOR j IN v_first[i] .. v_first[i] + p_leg_counts[i] - 1 LOOP
      k := array_position(a_id, p_accounts[j]);
      IF k IS NULL THEN
        v_code[i] := 'ledger.account_unknown';
        v_detail[i] := format('no account %s', p_accounts[j]);
      ELSIF j > v_first[i] AND p_accounts[j] = ANY (p_accounts[v_first[i] : j - 1]) THEN
        v_code[i] := 'ledger.invalid_entry';
        v_detail[i] := 'every leg of an entry is on an account of its own';
      ELSIF a_status[k] = 'closed' OR (a_status[k] = 'frozen' AND p_amounts[j] < 0) THEN
        v_code[i] := CASE WHEN a_status[k] = 'closed' THEN 'ledger.account_closed' ELSE 'ledger.account_frozen' END;
        v_detail[i] := format('account %s (%s) is %s', a_id[k], a_kind[k], a_status[k]);
      ELSIF p_amounts[j] < 0 AND a_floor[k] IS NOT NULL AND a_bal[k] - a_held[k] + p_amounts[j] < a_floor[k] THEN
        v_code[i] := CASE WHEN a_kind[k] = 'payer_credit' THEN 'ledger.credit_limit_exceeded' ELSE 'ledger.insufficient_funds' END;
        v_detail[i] := format('account %s (%s) has %s available above its floor %s; the entry takes %s',
          a_id[k], a_kind[k], a_bal[k] - a_held[k] - a_floor[k], a_floor[k], -p_amounts[j]);
      END IF;
      IF v_code[i] IS NOT NULL THEN
        v_ok := false;
        EXIT;
      END IF;
      c := array_position(v_cur, a_cur[k]);
      IF c IS NULL THEN
        v_cur := v_cur || a_cur[k];
        v_sum := v_sum || p_amounts[j];
      ELSE
        v_sum[c] := v_sum[c] + p_amounts[j];
      END IF;
    END LOOP;
    IF v_ok THEN
      FOR c IN 1 .. cardinality(v_cur) LOOP
        IF v_sum[c] <> 0 THEN
          v_code[i] := 'ledger.unbalanced_entry';
          v_detail[i] := format('the legs in %s sum to %s, not 0', v_cur[c], v_sum[c]);
          v_ok := false;
          EXIT;
        END IF;
      END LOOP;
    END IF;
    CONTINUE WHEN NOT v_ok;
    e_no := e_no || i;
    FOR j IN v_first[i] .. v_first[i] + p_leg_counts[i] - 1 LOOP
      k := array_position(a_id, p_accounts[j]);
      a_bal[k] := a_bal[k] + p_amounts[j];
    END LOOP;
  END LOOP;

  IF cardinality(e_no) > 0 THEN
    WITH ins AS (
      INSERT INTO "ledger"."entries" ("id", "cause", "cause_id", "idempotency_key", "fingerprint", "hold_id", "memo")
      SELECT p_ids[x], p_causes[x], p_cause_ids[x], p_keys[x], v_fp[x], p_hold_ids[x], coalesce(p_memos[x], '{}'::jsonb)
      FROM unnest(e_no) AS x
      ON CONFLICT ("idempotency_key") DO NOTHING
      RETURNING "id"
    )
    SELECT array_agg(ins."id") INTO v_inserted FROM ins;
    v_inserted := coalesce(v_inserted, '{}');
    IF cardinality(v_inserted) < cardinality(e_no) THEN
      -- A concurrent call committed some of these keys after the lookup above (this insert waited for it):
      -- those are answered as that call's entries and post nothing here.
      FOR c IN 1 .. cardinality(e_no) LOOP
        i := e_no[c];
        CONTINUE WHEN p_ids[i] = ANY (v_inserted);
        SELECT e."id", e."fingerprint" INTO r FROM "ledger"."entries" e WHERE e."idempotency_key" = p_keys[i];
        IF r."fingerprint" = v_fp[i] THEN
          v_out_id[i] := r."id";
          v_dup[i] := true;
        ELSE
          v_code[i] := 'ledger.idempotency_key_reused';
          v_detail[i] := format('key %s already posted entry %s with other legs', p_keys[i], r."id");
        END IF;
      END LOOP;
      SELECT coalesce(array_agg(x ORDER BY x), '{}') INTO e_no FROM unnest(e_no) AS x WHERE p_ids[x] = ANY (v_inserted);
    END IF;
    -- The postings of the entries inserted, in order, with each shard's running balance from the locked row.
    a_bal := a_locked;
    FOR c IN 1 .. coalesce(cardinality(e_no), 0) LOOP
      i := e_no[c];
      FOR j IN v_first[i] .. v_first[i] + p_leg_counts[i] - 1 LOOP
        k := array_position(a_id, p_accounts[j]);
        a_bal[k] := a_bal[k] + p_amounts[j];
        p_entry := p_entry || p_ids[i];
        p_acc := p_acc || a_id[k];
        p_sh := p_sh || a_shard[k];
        p_amt := p_amt || p_amounts[j];
        p_cur := p_cur || a_cur[k];
        p_after := p_after || a_bal[k];
      END LOOP;
    END LOOP;
  END IF;

  IF cardinality(p_entry) > 0 THEN
    UPDATE "ledger"."accounts" a
    SET "balance" = a_bal[array_position(a_id, a."id")], "version" = a."version" + 1, "updated_at" = now()
    WHERE a."id" = ANY (p_acc) AND a."shard" = ANY (a_shard) AND a."shard" = a_shard[array_position(a_id, a."id")];
    INSERT INTO "ledger"."postings" ("entry_id", "account_id", "shard", "amount", "currency", "balance_after")
    SELECT * FROM unnest(p_entry, p_acc, p_sh, p_amt, p_cur, p_after);
  END IF;

  RETURN QUERY SELECT x, v_out_id[x], v_dup[x], v_code[x], v_detail[x] FROM generate_series(1, n) AS x;
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
  SELECT * INTO v_posted FROM "ledger"."post_entries"(ARRAY[p_entry_id], ARRAY[p_cause], ARRAY[v_hold."cause_id"],
    ARRAY[p_key], ARRAY[coalesce(p_memo, '{}'::jsonb) || jsonb_build_object('hold_id', p_hold_id)], ARRAY[p_hold_id],
    ARRAY[2], ARRAY[v_hold."debit_account_id", v_hold."credit_account_id"], ARRAY[-p_amount, p_amount]);
  IF v_posted.refusal IS NOT NULL THEN
    PERFORM "ledger"."refuse"(v_posted.refusal, v_posted.detail);
  END IF;
  RETURN QUERY SELECT v_posted.entry_id, v_posted.duplicate;
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
