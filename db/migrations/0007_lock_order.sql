-- 0007: one global lock order for the ledger's accounts.
--
-- ledger_post() locks the accounts of one posting in id order, so two
-- postings can never wait on each other in a cycle. A transaction that makes
-- several postings (the worker's deemed approvals, a payout batch) must take
-- all of its accounts at once, in the same order, before its first posting;
-- otherwise its second posting can wait on an account that a concurrent
-- single posting holds while that one waits on the first (40P01).

-- Creates any missing payable and expense account of the given submissions
-- (creation takes no account lock), then locks them all in id order. Only
-- submissions that pay something are looked at: an unpaid kind posts nothing.
CREATE FUNCTION ledger_lock_accruals(p_submissions uuid[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	ids uuid[];
BEGIN
	SELECT coalesce(array_agg(DISTINCT x), '{}') INTO ids
	  FROM submissions s,
	       LATERAL (VALUES (ledger_account(s.program_id, 'payable', s.artist_id)),
	                       (ledger_account(s.program_id, 'expense', NULL))) AS v (x)
	 WHERE s.id = ANY (p_submissions) AND coalesce(submission_pay(s.id), 0) > 0;
	PERFORM 1 FROM ledger_accounts WHERE id = ANY (ids) ORDER BY id FOR UPDATE;
	RETURN cardinality(ids);
END
$$;

-- Locks a payout batch's accounts (its program's cash and every item's
-- payable) in id order and returns the cash balance: 0 for a program that
-- was never funded, whose cash account does not exist yet.
CREATE FUNCTION ledger_lock_payout(p_batch uuid, p_program uuid) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	cash_id uuid := ledger_account(p_program, 'cash', NULL);
	cash    bigint;
BEGIN
	PERFORM 1 FROM ledger_accounts
	 WHERE id = cash_id OR id IN (SELECT account_id FROM payout_items WHERE batch_id = p_batch)
	 ORDER BY id FOR UPDATE;
	SELECT balance INTO cash FROM ledger_accounts WHERE id = cash_id;
	RETURN coalesce(cash, 0);
END
$$;
