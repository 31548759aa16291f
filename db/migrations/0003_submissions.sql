-- 0003: submissions, their review (claims with leases, decisions, one
-- appeal), exhibitions, and the hooks the ledger fills in.

CREATE TABLE submissions (
	id                 uuid PRIMARY KEY,
	seq                bigserial NOT NULL UNIQUE,
	program_id         uuid NOT NULL REFERENCES programs (id),
	artist_id          uuid NOT NULL REFERENCES users (id),
	enrollment_id      uuid NOT NULL REFERENCES enrollments (id),
	kind               text NOT NULL CHECK (kind IN ('work', 'bug_report', 'feedback', 'session')),
	title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
	description        text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
	media              jsonb NOT NULL DEFAULT '[]',
	hours              numeric(4, 2) CHECK (hours > 0 AND hours <= 24),
	generation         jsonb,
	status             text NOT NULL DEFAULT 'pending'
	                   CHECK (status IN ('pending', 'in_review', 'approved', 'deemed_approved',
	                                     'rejected', 'changes_requested', 'appealed', 'withdrawn')),
	terms_version      integer NOT NULL,     -- what the artist had accepted when submitting
	rate_card_version  integer,              -- the card in force when submitting
	review_due_at      timestamptz NOT NULL,
	review_warn_at     timestamptz NOT NULL, -- 80% of the way to review_due_at
	sla_warned_at      timestamptz,
	claimed_by         uuid REFERENCES users (id),
	claimed_at         timestamptz,
	lease_expires_at   timestamptz,
	decided_at         timestamptz,
	decided_by         uuid REFERENCES users (id),   -- the last human decider
	appeal_statement   text CHECK (length(appeal_statement) BETWEEN 1 AND 5000),
	appealed_at        timestamptz,
	appeal_of          uuid REFERENCES users (id),   -- who made the decision appealed
	idempotency_key    text,
	request_hash       text,
	created_at         timestamptz NOT NULL DEFAULT now(),
	updated_at         timestamptz NOT NULL DEFAULT now(),
	FOREIGN KEY (program_id, terms_version) REFERENCES terms_versions (program_id, version),
	FOREIGN KEY (program_id, rate_card_version) REFERENCES rate_cards (program_id, version),
	CHECK ((kind = 'session') = (hours IS NOT NULL)),
	CHECK ((status = 'in_review') = (claimed_by IS NOT NULL))
);
CREATE UNIQUE INDEX submissions_idempotency ON submissions (artist_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
CREATE INDEX submissions_artist ON submissions (artist_id, seq);
CREATE INDEX submissions_program ON submissions (program_id, seq);
-- the queue: open items by deadline
CREATE INDEX submissions_queue ON submissions (program_id, review_due_at, seq)
	WHERE status IN ('pending', 'in_review', 'appealed');
-- the worker: open items by deadline and by warning time, across programs
CREATE INDEX submissions_due ON submissions (review_due_at)
	WHERE status IN ('pending', 'in_review', 'appealed');
CREATE INDEX submissions_warn ON submissions (review_warn_at)
	WHERE status IN ('pending', 'in_review', 'appealed') AND sla_warned_at IS NULL;

-- Every decision, human or deemed, in order. Append-only.
CREATE TABLE decisions (
	id             bigserial PRIMARY KEY,
	submission_id  uuid NOT NULL REFERENCES submissions (id),
	outcome        text NOT NULL
	               CHECK (outcome IN ('approved', 'rejected', 'changes_requested', 'deemed_approved')),
	reason         text CHECK (length(reason) BETWEEN 1 AND 2000),
	clause_keys    text[] NOT NULL DEFAULT '{}',
	decided_by     uuid REFERENCES users (id),     -- NULL: deemed by the deadline
	on_appeal      boolean NOT NULL,
	decided_at     timestamptz NOT NULL DEFAULT now(),
	CHECK ((outcome = 'deemed_approved') = (decided_by IS NULL)),
	CHECK (outcome NOT IN ('rejected', 'changes_requested')
	       OR (reason IS NOT NULL AND cardinality(clause_keys) >= 1))
);
CREATE INDEX decisions_submission ON decisions (submission_id, id);
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON decisions
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

CREATE TABLE exhibitions (
	id             uuid PRIMARY KEY,
	submission_id  uuid NOT NULL REFERENCES submissions (id),
	venue          text NOT NULL CHECK (length(venue) BETWEEN 1 AND 200),
	starts_at      timestamptz NOT NULL,
	created_by     uuid NOT NULL REFERENCES users (id),
	created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX exhibitions_once ON exhibitions (submission_id, lower(venue));

-- The ledger's hooks: every path that accepts a submission (a reviewer's
-- approval, the worker's deemed approval) or records an exhibition calls
-- these in its own transaction. The ledger migration gives them bodies that
-- post the accruals; until then accepting a submission posts nothing.
CREATE FUNCTION ledger_on_accepted(submission uuid) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN END $$;

CREATE FUNCTION ledger_on_exhibited(exhibition uuid) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN END $$;
