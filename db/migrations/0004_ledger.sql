-- 0004: the compensation ledger. Double entry: every transaction's entries
-- sum to zero (checked by the database at commit), entries and transactions
-- are never updated or deleted (corrections are reversing transactions), and
-- every account carries its balance, so balances are read, never summed.
--
-- Signs: an entry's amount_minor is positive for a debit, negative for a
-- credit. An account's balance is kept on its normal side, so it is
-- positive in the ordinary course: cash and expense are debit-normal
-- (balance = sum of amounts), funding and payable are credit-normal
-- (balance = -sum of amounts). A payable balance is what the program owes
-- that artist, and the database refuses to let it go below zero.

CREATE TABLE ledger_accounts (
	id          uuid PRIMARY KEY,
	seq         bigserial NOT NULL UNIQUE,
	program_id  uuid NOT NULL REFERENCES programs (id),
	kind        text NOT NULL CHECK (kind IN ('funding', 'cash', 'expense', 'payable')),
	owner_id    uuid REFERENCES users (id),          -- the artist, for payable
	currency    text NOT NULL,
	balance     bigint NOT NULL DEFAULT 0,
	earned      bigint NOT NULL DEFAULT 0,           -- payable: accrued, net of reversals
	paid        bigint NOT NULL DEFAULT 0,           -- payable: paid out, net of failures
	version     bigint NOT NULL DEFAULT 0,           -- entries posted to it
	created_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE NULLS NOT DISTINCT (program_id, kind, owner_id),
	CHECK ((kind = 'payable') = (owner_id IS NOT NULL)),
	CONSTRAINT payable_not_negative CHECK (kind <> 'payable' OR balance >= 0)
);

CREATE TABLE ledger_transactions (
	id           uuid PRIMARY KEY,
	seq          bigserial NOT NULL UNIQUE,
	program_id   uuid NOT NULL REFERENCES programs (id),
	kind         text NOT NULL CHECK (kind IN ('accrual', 'funding', 'adjustment',
	                                            'reversal', 'payout', 'payout_failed')),
	memo         text NOT NULL CHECK (length(memo) <= 1000),
	currency     text NOT NULL,
	-- at most one effect per reason: "accrual:submission:<id>", a reversal's
	-- original, a payout item; a retried decision never pays twice
	effect_key   text UNIQUE,
	reverses     uuid UNIQUE REFERENCES ledger_transactions (id),
	submission_id  uuid REFERENCES submissions (id),
	created_by   uuid REFERENCES users (id),          -- NULL: the system
	request_id   text NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_program ON ledger_transactions (program_id, seq);
CREATE INDEX ledger_transactions_at ON ledger_transactions (created_at);

CREATE TABLE ledger_entries (
	id               bigserial PRIMARY KEY,
	transaction_id   uuid NOT NULL REFERENCES ledger_transactions (id),
	account_id       uuid NOT NULL REFERENCES ledger_accounts (id),
	amount_minor     bigint NOT NULL CHECK (amount_minor <> 0),
	balance_after    bigint NOT NULL,        -- the account's balance after this entry
	account_version  bigint NOT NULL,        -- the account's version after this entry
	created_at       timestamptz NOT NULL DEFAULT now(),
	UNIQUE (account_id, account_version)
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, id);

CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- At commit, each transaction touched must sum to zero.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	total numeric;
BEGIN
	SELECT sum(amount_minor) INTO total FROM ledger_entries
	 WHERE transaction_id = NEW.transaction_id;
	IF total <> 0 THEN
		RAISE EXCEPTION 'ledger transaction % does not balance: its entries sum to %',
			NEW.transaction_id, total USING ERRCODE = 'check_violation',
			CONSTRAINT = 'ledger_balanced';
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

-- The account of a kind in a program (and, for payable, of an artist),
-- made on first use.
CREATE FUNCTION ledger_account(p_program uuid, p_kind text, p_owner uuid) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	acct uuid;
BEGIN
	SELECT id INTO acct FROM ledger_accounts
	 WHERE program_id = p_program AND kind = p_kind AND owner_id IS NOT DISTINCT FROM p_owner;
	IF acct IS NULL THEN
		INSERT INTO ledger_accounts (id, program_id, kind, owner_id, currency)
		SELECT gen_random_uuid(), p_program, p_kind, p_owner, currency
		  FROM programs WHERE id = p_program
		ON CONFLICT DO NOTHING;
		SELECT id INTO acct FROM ledger_accounts
		 WHERE program_id = p_program AND kind = p_kind
		   AND owner_id IS NOT DISTINCT FROM p_owner;
	END IF;
	RETURN acct;
END
$$;

-- Posts one transaction: the one way money moves. Locks the accounts in id
-- order (so postings in opposite directions cannot deadlock), checks that
-- the amounts sum to zero and that every account belongs to the program,
-- updates each balance and version, and writes the entries with the
-- balance after each. With p_effect_key, a second posting for the same
-- effect does nothing and returns NULL. Raises check_violation
-- (payable_not_negative) when a payable would go below zero.
CREATE FUNCTION ledger_post(p_id uuid, p_program uuid, p_kind text, p_memo text,
                            p_accounts uuid[], p_amounts bigint[], p_actor uuid,
                            p_request_id text, p_effect_key text DEFAULT NULL,
                            p_reverses uuid DEFAULT NULL, p_submission uuid DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	i       integer;
	a       record;
	sign    integer;
	n       integer := cardinality(p_accounts);
	cur     text;
BEGIN
	IF n IS NULL OR n < 2 OR n <> cardinality(p_amounts) THEN
		RAISE EXCEPTION 'a transaction needs two or more entries' USING ERRCODE = 'check_violation',
			CONSTRAINT = 'ledger_entries_count';
	END IF;
	IF (SELECT sum(x) FROM unnest(p_amounts) x) <> 0 THEN
		RAISE EXCEPTION 'the entries sum to %, not zero', (SELECT sum(x) FROM unnest(p_amounts) x)
			USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_balanced';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(p_amounts) x WHERE x = 0) THEN
		RAISE EXCEPTION 'an entry of zero' USING ERRCODE = 'check_violation',
			CONSTRAINT = 'ledger_entry_zero';
	END IF;
	IF p_effect_key IS NOT NULL AND
	   EXISTS (SELECT 1 FROM ledger_transactions WHERE effect_key = p_effect_key) THEN
		RETURN NULL;
	END IF;
	-- lock every account involved, in one fixed order
	PERFORM 1 FROM ledger_accounts WHERE id = ANY (p_accounts) ORDER BY id FOR UPDATE;
	IF (SELECT count(*) FROM ledger_accounts
	     WHERE id = ANY (p_accounts) AND program_id = p_program)
	   <> (SELECT count(DISTINCT x) FROM unnest(p_accounts) x) THEN
		RAISE EXCEPTION 'an account is not in this program' USING ERRCODE = 'check_violation',
			CONSTRAINT = 'ledger_account_program';
	END IF;
	SELECT currency INTO cur FROM programs WHERE id = p_program;
	INSERT INTO ledger_transactions (id, program_id, kind, memo, currency, effect_key,
	                                 reverses, submission_id, created_by, request_id)
	VALUES (p_id, p_program, p_kind, coalesce(p_memo, ''), cur, p_effect_key, p_reverses,
	        p_submission, p_actor, p_request_id)
	ON CONFLICT (effect_key) DO NOTHING;
	IF NOT FOUND THEN
		RETURN NULL;    -- a concurrent posting of the same effect won
	END IF;
	FOR i IN 1 .. n LOOP
		SELECT kind INTO a FROM ledger_accounts WHERE id = p_accounts[i];
		sign := CASE WHEN a.kind IN ('cash', 'expense') THEN 1 ELSE -1 END;
		UPDATE ledger_accounts SET
			balance = balance + sign * p_amounts[i],
			earned = earned + CASE WHEN kind = 'payable' AND p_kind NOT IN ('payout', 'payout_failed')
			                       THEN -p_amounts[i] ELSE 0 END,
			paid = paid + CASE WHEN kind = 'payable' AND p_kind IN ('payout', 'payout_failed')
			                   THEN p_amounts[i] ELSE 0 END,
			version = version + 1
		 WHERE id = p_accounts[i]
		RETURNING balance, version INTO a;
		INSERT INTO ledger_entries (transaction_id, account_id, amount_minor, balance_after,
		                            account_version)
		VALUES (p_id, p_accounts[i], p_amounts[i], a.balance, a.version);
	END LOOP;
	RETURN p_id;
END
$$;

-- What a submission earns: its kind's rate on the card in force when it was
-- made; a session pays rate x hours, computed on hundredths of an hour and
-- rounded half up to the minor unit: (rate * hundredths + 50) / 100.
CREATE FUNCTION submission_pay(p_submission uuid) RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN s.kind = 'session'
	            THEN (r.amount_minor * (s.hours * 100)::bigint + 50) / 100
	            ELSE r.amount_minor END
	  FROM submissions s
	  JOIN rates r ON r.program_id = s.program_id AND r.version = s.rate_card_version
	   AND r.kind = CASE s.kind WHEN 'session' THEN 'session_hour' ELSE s.kind END
	 WHERE s.id = p_submission
$$;

-- Posts an accrual (debit expense, credit the artist's payable) with its
-- audit row and accrual.posted event, once per effect.
CREATE FUNCTION ledger_accrue(p_program uuid, p_artist uuid, p_amount bigint, p_memo text,
                              p_effect_key text, p_submission uuid, p_request_id text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	tx       uuid := gen_random_uuid();
	payable  uuid;
	expense  uuid;
	posted   uuid;
BEGIN
	IF p_amount IS NULL OR p_amount <= 0 THEN
		RETURN NULL;      -- an unpaid kind (rate 0) accrues nothing
	END IF;
	payable := ledger_account(p_program, 'payable', p_artist);
	expense := ledger_account(p_program, 'expense', NULL);
	posted := ledger_post(tx, p_program, 'accrual', p_memo, ARRAY[expense, payable],
	                      ARRAY[p_amount, -p_amount], NULL, p_request_id, p_effect_key,
	                      NULL, p_submission);
	IF posted IS NULL THEN
		RETURN NULL;
	END IF;
	INSERT INTO audit_log (action, entity_type, entity_id, after, request_id)
	VALUES ('ledger.accrue', 'ledger_transaction', tx::text,
	        jsonb_build_object('program_id', p_program, 'artist_id', p_artist,
	                           'amount_minor', p_amount, 'submission_id', p_submission,
	                           'effect', p_effect_key), p_request_id);
	INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id, payload,
	                    request_id)
	SELECT gen_random_uuid(), 'accrual.posted', p_program, 'ledger_transaction', tx::text,
	       jsonb_build_object('transaction_id', tx, 'program_id', p_program,
	                          'artist_id', p_artist, 'amount_minor', p_amount,
	                          'currency', currency, 'submission_id', p_submission,
	                          'memo', p_memo), p_request_id
	  FROM programs WHERE id = p_program;
	RETURN tx;
END
$$;

-- The hooks of migration 0003, now with bodies (and the request id).
DROP FUNCTION ledger_on_accepted(uuid);
DROP FUNCTION ledger_on_exhibited(uuid);

CREATE FUNCTION ledger_on_accepted(p_submission uuid, p_request_id text) RETURNS uuid
LANGUAGE sql AS $$
	SELECT ledger_accrue(s.program_id, s.artist_id, submission_pay(s.id),
	                     format('%s: %s', s.kind, s.title),
	                     'accrual:submission:' || s.id, s.id, p_request_id)
	  FROM submissions s WHERE s.id = p_submission
$$;

CREATE FUNCTION ledger_on_exhibited(p_exhibition uuid, p_request_id text) RETURNS uuid
LANGUAGE sql AS $$
	SELECT ledger_accrue(s.program_id, s.artist_id, r.amount_minor,
	                     format('exhibition at %s: %s', x.venue, s.title),
	                     'accrual:exhibition:' || x.id, s.id, p_request_id)
	  FROM exhibitions x
	  JOIN submissions s ON s.id = x.submission_id
	  JOIN rates r ON r.program_id = s.program_id AND r.version = s.rate_card_version
	   AND r.kind = 'exhibition'
	 WHERE x.id = p_exhibition
$$;

-- Payout batches: a draft lists what each artist is owed; a second finance
-- user approves it, which posts every item; items are then paid or failed.
CREATE TABLE payout_batches (
	id                uuid PRIMARY KEY,
	seq               bigserial NOT NULL UNIQUE,
	program_id        uuid NOT NULL REFERENCES programs (id),
	status            text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved')),
	min_amount_minor  bigint NOT NULL CHECK (min_amount_minor >= 1),
	total_minor       bigint NOT NULL,
	currency          text NOT NULL,
	created_by        uuid NOT NULL REFERENCES users (id),
	created_at        timestamptz NOT NULL DEFAULT now(),
	approved_by       uuid REFERENCES users (id),
	approved_at       timestamptz,
	effect_key        text UNIQUE,     -- the Idempotency-Key that drafted it
	CONSTRAINT four_eyes CHECK (approved_by IS NULL OR approved_by <> created_by)
);

CREATE TABLE payout_items (
	id              uuid PRIMARY KEY,
	batch_id        uuid NOT NULL REFERENCES payout_batches (id),
	artist_id       uuid NOT NULL REFERENCES users (id),
	account_id      uuid NOT NULL REFERENCES ledger_accounts (id),
	amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
	status          text NOT NULL DEFAULT 'pending'
	                CHECK (status IN ('pending', 'posted', 'paid', 'failed')),
	external_ref    text CHECK (length(external_ref) BETWEEN 1 AND 200),
	failure_reason  text CHECK (length(failure_reason) BETWEEN 1 AND 1000),
	transaction_id  uuid REFERENCES ledger_transactions (id),
	reversal_id     uuid REFERENCES ledger_transactions (id),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	UNIQUE (batch_id, artist_id)
);

-- The generic Idempotency-Key record: one per caller and key, kept 24 hours
-- at least. state: in_flight while the first request runs, then done with
-- the response to replay.
CREATE TABLE idempotency_keys (
	user_id       uuid NOT NULL REFERENCES users (id),
	key           text NOT NULL,
	request_hash  text NOT NULL,
	state         text NOT NULL DEFAULT 'in_flight' CHECK (state IN ('in_flight', 'done')),
	status        integer,
	content_type  text,
	body          text,
	location      text,
	created_at    timestamptz NOT NULL DEFAULT now(),
	locked_until  timestamptz NOT NULL,
	PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
