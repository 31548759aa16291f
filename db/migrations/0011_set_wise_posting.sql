-- 0011: ledger_post() set-wise (issue 11, P2). The same contract as 0004's:
-- the same checks with the same constraint names, a second posting of an
-- effect returns NULL, the accounts are locked in id order, and every entry
-- carries its account's balance and version after it, even when one posting
-- names an account twice. What changes is the work: four statements instead
-- of three per entry plus six, since every funding of a program runs this
-- with its two accounts locked, and PL/pgSQL's per-statement cost was a
-- third of PostgreSQL's time in a funding.
--
-- The transaction row is written before the accounts are locked: a posting
-- of an effect already posted (or being posted) stops there without taking
-- any account lock. Balances are updated once per account; each entry's
-- balance_after and account_version come from a running sum over the
-- account's entries in the posting's order. A payable may not go below
-- zero after any of its entries, as when each entry was its own UPDATE: the
-- constraint checks the last, the function the ones before it.
CREATE OR REPLACE FUNCTION ledger_post(p_id uuid, p_program uuid, p_kind text, p_memo text,
                            p_accounts uuid[], p_amounts bigint[], p_actor uuid,
                            p_request_id text, p_effect_key text DEFAULT NULL,
                            p_reverses uuid DEFAULT NULL, p_submission uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	n         integer := cardinality(p_accounts);
	total     numeric;
	zeros     boolean;
	accounts  bigint;
	ours      bigint;
	negative  bigint;
BEGIN
	IF n IS NULL OR n < 2 OR n <> cardinality(p_amounts) THEN
		RAISE EXCEPTION 'a transaction needs two or more entries' USING ERRCODE = 'check_violation',
			CONSTRAINT = 'ledger_entries_count';
	END IF;
	SELECT sum(x), bool_or(x = 0), count(DISTINCT a) INTO total, zeros, accounts
	  FROM unnest(p_accounts, p_amounts) AS u (a, x);
	IF total <> 0 THEN
		RAISE EXCEPTION 'the entries sum to %, not zero', total
			USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_balanced';
	END IF;
	IF zeros THEN
		RAISE EXCEPTION 'an entry of zero' USING ERRCODE = 'check_violation',
			CONSTRAINT = 'ledger_entry_zero';
	END IF;
	INSERT INTO ledger_transactions (id, program_id, kind, memo, currency, effect_key,
	                                 reverses, submission_id, created_by, request_id)
	VALUES (p_id, p_program, p_kind, coalesce(p_memo, ''),
	        (SELECT currency FROM programs WHERE id = p_program), p_effect_key, p_reverses,
	        p_submission, p_actor, p_request_id)
	ON CONFLICT (effect_key) DO NOTHING;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT count(*) FILTER (WHERE l.program_id = p_program) INTO ours
	  FROM (SELECT id, program_id FROM ledger_accounts WHERE id = ANY (p_accounts)
	         ORDER BY id FOR UPDATE) l;
	IF ours <> accounts THEN
		RAISE EXCEPTION 'an account is not in this program' USING ERRCODE = 'check_violation',
			CONSTRAINT = 'ledger_account_program';
	END IF;
	WITH e AS (
		SELECT u.ord, u.acct, u.amt
		  FROM unnest(p_accounts, p_amounts) WITH ORDINALITY AS u (acct, amt, ord)
	), g AS (
		SELECT acct, sum(amt)::bigint AS amt, count(*) AS n FROM e GROUP BY acct
	), a AS (
		UPDATE ledger_accounts t SET
			balance = t.balance + CASE WHEN t.kind IN ('cash', 'expense') THEN g.amt ELSE -g.amt END,
			earned = t.earned + CASE WHEN t.kind = 'payable' AND p_kind NOT IN ('payout', 'payout_failed')
			                         THEN -g.amt ELSE 0 END,
			paid = t.paid + CASE WHEN t.kind = 'payable' AND p_kind IN ('payout', 'payout_failed')
			                     THEN g.amt ELSE 0 END,
			version = t.version + g.n
		  FROM g WHERE t.id = g.acct
		RETURNING t.id, t.kind, CASE WHEN t.kind IN ('cash', 'expense') THEN 1 ELSE -1 END AS sign,
		          t.balance, t.version, g.amt, g.n
	), r AS (
		SELECT e.ord, e.acct, e.amt, a.kind, a.version AS last,
		       a.balance - a.sign * a.amt + a.sign * sum(e.amt) OVER w AS balance_after,
		       a.version - a.n + row_number() OVER w AS version
		  FROM e JOIN a ON a.id = e.acct
		WINDOW w AS (PARTITION BY e.acct ORDER BY e.ord)
	), ins AS (
		INSERT INTO ledger_entries (transaction_id, account_id, amount_minor, balance_after,
		                            account_version)
		SELECT p_id, acct, amt, balance_after, version FROM r ORDER BY ord
	)
	-- the last entry of each account is its UPDATE's, which the constraint checked
	SELECT count(*) FILTER (WHERE kind = 'payable' AND balance_after < 0 AND version < last)
	  INTO negative FROM r;
	IF negative > 0 THEN
		RAISE EXCEPTION 'a payable would go below zero' USING ERRCODE = 'check_violation',
			CONSTRAINT = 'payable_not_negative';
	END IF;
	RETURN p_id;
END
$$;
