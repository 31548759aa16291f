-- 0002: programs, their versioned terms and rate cards, invitations and
-- enrollments. Published terms, rate cards and acceptances are append-only:
-- what an artist agreed to, and the rates that paid them, never change.

CREATE TABLE programs (
	id                   uuid PRIMARY KEY,
	seq                  bigserial NOT NULL UNIQUE,     -- list order and cursor
	slug                 text NOT NULL UNIQUE
	                     CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) BETWEEN 3 AND 64),
	name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	description          text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
	currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	capacity             integer NOT NULL CHECK (capacity BETWEEN 1 AND 100000),
	review_sla_hours     integer NOT NULL CHECK (review_sla_hours BETWEEN 1 AND 720),
	sharing              text NOT NULL CHECK (sharing IN ('after_review', 'open')),
	public_transparency  boolean NOT NULL,
	submission_kinds     text[] NOT NULL
	                     CHECK (cardinality(submission_kinds) BETWEEN 1 AND 4 AND
	                            submission_kinds <@ '{work,bug_report,feedback,session}'),
	status               text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'open', 'closed')),
	revision             integer NOT NULL DEFAULT 1,   -- the ETag; +1 on every change
	seats_taken          integer NOT NULL DEFAULT 0,   -- active enrollments
	created_by           uuid NOT NULL REFERENCES users (id),
	created_at           timestamptz NOT NULL DEFAULT now(),
	updated_at           timestamptz NOT NULL DEFAULT now(),
	opened_at            timestamptz,
	closed_at            timestamptz,
	CHECK (seats_taken BETWEEN 0 AND capacity)
);
CREATE INDEX programs_status ON programs (status, seq);

CREATE TABLE terms_versions (
	program_id          uuid NOT NULL REFERENCES programs (id),
	version             integer NOT NULL CHECK (version >= 1),
	clauses             jsonb NOT NULL,        -- [{key, kind, title, body}]
	confidential_until  timestamptz,
	published_by        uuid NOT NULL REFERENCES users (id),
	published_at        timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (program_id, version)
);
CREATE TRIGGER terms_versions_append_only BEFORE UPDATE OR DELETE ON terms_versions
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER terms_versions_no_truncate BEFORE TRUNCATE ON terms_versions
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

CREATE TABLE rate_cards (
	program_id    uuid NOT NULL REFERENCES programs (id),
	version       integer NOT NULL CHECK (version >= 1),
	created_by    uuid NOT NULL REFERENCES users (id),
	effective_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (program_id, version)
);

-- One row per kind and card; a kind missing from the request is stored as 0.
CREATE TABLE rates (
	program_id    uuid NOT NULL,
	version       integer NOT NULL,
	kind          text NOT NULL
	              CHECK (kind IN ('work', 'bug_report', 'feedback', 'session_hour', 'exhibition')),
	amount_minor  bigint NOT NULL CHECK (amount_minor BETWEEN 0 AND 1000000000000000),
	PRIMARY KEY (program_id, version, kind),
	FOREIGN KEY (program_id, version) REFERENCES rate_cards (program_id, version)
);

CREATE TRIGGER rate_cards_append_only BEFORE UPDATE OR DELETE ON rate_cards
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER rate_cards_no_truncate BEFORE TRUNCATE ON rate_cards
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
CREATE TRIGGER rates_append_only BEFORE UPDATE OR DELETE ON rates
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER rates_no_truncate BEFORE TRUNCATE ON rates
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

CREATE TABLE invitations (
	id          uuid PRIMARY KEY,
	seq         bigserial NOT NULL UNIQUE,
	program_id  uuid NOT NULL REFERENCES programs (id),
	code_hash   text NOT NULL UNIQUE,          -- hex SHA-256 of the code
	email       text CHECK (email = lower(email)),
	max_uses    integer NOT NULL CHECK (max_uses BETWEEN 1 AND 10000),
	uses        integer NOT NULL DEFAULT 0,
	expires_at  timestamptz NOT NULL,
	created_by  uuid NOT NULL REFERENCES users (id),
	created_at  timestamptz NOT NULL DEFAULT now(),
	revoked_at  timestamptz,
	CHECK (uses BETWEEN 0 AND max_uses)
);
CREATE INDEX invitations_program ON invitations (program_id, seq);

CREATE TABLE enrollments (
	id                 uuid PRIMARY KEY,
	seq                bigserial NOT NULL UNIQUE,
	program_id         uuid NOT NULL REFERENCES programs (id),
	artist_id          uuid NOT NULL REFERENCES users (id),
	invitation_id      uuid NOT NULL REFERENCES invitations (id),
	status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
	terms_version      integer NOT NULL,
	terms_accepted_at  timestamptz NOT NULL DEFAULT now(),
	created_at         timestamptz NOT NULL DEFAULT now(),
	withdrawn_at       timestamptz,
	withdraw_reason    text CHECK (length(withdraw_reason) <= 1000),
	FOREIGN KEY (program_id, terms_version) REFERENCES terms_versions (program_id, version),
	CHECK ((status = 'withdrawn') = (withdrawn_at IS NOT NULL))
);
-- At most one active enrollment per artist and program.
CREATE UNIQUE INDEX enrollments_active ON enrollments (program_id, artist_id)
	WHERE status = 'active';
CREATE INDEX enrollments_program ON enrollments (program_id, seq);
CREATE INDEX enrollments_artist ON enrollments (artist_id, seq);

-- Every version of the terms each enrollment accepted, and when.
CREATE TABLE terms_acceptances (
	enrollment_id  uuid NOT NULL REFERENCES enrollments (id),
	program_id     uuid NOT NULL,
	version        integer NOT NULL,
	accepted_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (enrollment_id, version),
	FOREIGN KEY (program_id, version) REFERENCES terms_versions (program_id, version)
);
CREATE TRIGGER terms_acceptances_append_only BEFORE UPDATE OR DELETE ON terms_acceptances
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER terms_acceptances_no_truncate BEFORE TRUNCATE ON terms_acceptances
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Why a program may not be open: no terms, terms without a confidentiality
-- or responsible-use clause, no rate card, or a submission kind it accepts
-- that the current card does not pay. Empty when it may.
CREATE FUNCTION program_readiness(pid uuid, kinds text[]) RETURNS text[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
	reasons       text[] := '{}';
	terms_v       integer;
	rates_v       integer;
	clause_kinds  text[];
	k             text;
	rate_kind     text;
	amount        bigint;
BEGIN
	SELECT max(version) INTO terms_v FROM terms_versions WHERE program_id = pid;
	IF terms_v IS NULL THEN
		reasons := reasons || 'no terms have been published'::text;
	ELSE
		SELECT array_agg(DISTINCT c ->> 'kind') INTO clause_kinds
		  FROM terms_versions t, jsonb_array_elements(t.clauses) c
		 WHERE t.program_id = pid AND t.version = terms_v;
		IF NOT 'confidentiality' = ANY (clause_kinds) THEN
			reasons := reasons || format('terms version %s has no confidentiality clause', terms_v);
		END IF;
		IF NOT 'responsible_use' = ANY (clause_kinds) THEN
			reasons := reasons || format('terms version %s has no responsible_use clause', terms_v);
		END IF;
	END IF;
	SELECT max(version) INTO rates_v FROM rate_cards WHERE program_id = pid;
	IF rates_v IS NULL THEN
		reasons := reasons || 'no rate card has been published'::text;
	ELSE
		FOREACH k IN ARRAY kinds LOOP
			rate_kind := CASE k WHEN 'session' THEN 'session_hour' ELSE k END;
			SELECT amount_minor INTO amount FROM rates
			 WHERE program_id = pid AND version = rates_v AND kind = rate_kind;
			IF coalesce(amount, 0) = 0 THEN
				reasons := reasons || format('rate card version %s pays nothing for %s submissions (rate %s)',
				    rates_v, k, rate_kind);
			END IF;
		END LOOP;
	END IF;
	RETURN reasons;
END
$$;
