-- 0013: usage licenses. No work is used for promotion or to train a model
-- without its artist's explicit, paid, revocable license for that use.
-- Staff request; only the artist accepts, and silence is never consent: a
-- request unanswered by expires_at expires (the worker). Acceptance grants
-- the license and accrues its fee through ledger_accrue() in the same
-- transaction; a revoked license ends after the program's notice period and
-- its fee stays earned.

ALTER TABLE programs ADD COLUMN license_notice_days integer NOT NULL DEFAULT 30
	CHECK (license_notice_days BETWEEN 0 AND 365);

-- The minimum fee of one work's license, per use, on the rate card.
ALTER TABLE rates DROP CONSTRAINT rates_kind_check;
ALTER TABLE rates ADD CONSTRAINT rates_kind_check
	CHECK (kind IN ('work', 'bug_report', 'feedback', 'session_hour', 'exhibition',
	                'promotion_license', 'training_license'));

CREATE TABLE license_requests (
	id              uuid PRIMARY KEY,
	seq             bigserial NOT NULL UNIQUE,            -- list order and cursor
	program_id      uuid NOT NULL REFERENCES programs (id),
	submission_id   uuid NOT NULL REFERENCES submissions (id),
	artist_id       uuid NOT NULL REFERENCES users (id),
	use             text NOT NULL CHECK (use IN ('promotion', 'training')),
	scope           text NOT NULL CHECK (length(scope) BETWEEN 1 AND 500),
	term_days       integer NOT NULL CHECK (term_days BETWEEN 1 AND 3650),
	fee_minor       bigint NOT NULL CHECK (fee_minor BETWEEN 1 AND 1000000000000000),
	currency        text NOT NULL,
	note            text CHECK (length(note) <= 2000),
	status          text NOT NULL DEFAULT 'pending'
	                CHECK (status IN ('pending', 'accepted', 'declined', 'withdrawn', 'expired')),
	requested_by    uuid NOT NULL REFERENCES users (id),
	created_at      timestamptz NOT NULL DEFAULT now(),
	expires_at      timestamptz NOT NULL,
	decided_at      timestamptz,
	decline_reason  text CHECK (length(decline_reason) <= 2000),
	CHECK ((status = 'pending') = (decided_at IS NULL))
);
-- One open question per work and use: two staff asking at once make one.
CREATE UNIQUE INDEX license_requests_one_pending ON license_requests (submission_id, use)
	WHERE status = 'pending';
CREATE INDEX license_requests_artist ON license_requests (artist_id, seq);
CREATE INDEX license_requests_submission ON license_requests (submission_id, seq);
CREATE INDEX license_requests_due ON license_requests (expires_at) WHERE status = 'pending';
CREATE INDEX license_requests_program ON license_requests (program_id, use, status);

CREATE TABLE licenses (
	id              uuid PRIMARY KEY,
	seq             bigserial NOT NULL UNIQUE,
	request_id      uuid NOT NULL UNIQUE REFERENCES license_requests (id),
	program_id      uuid NOT NULL REFERENCES programs (id),
	submission_id   uuid NOT NULL REFERENCES submissions (id),
	artist_id       uuid NOT NULL REFERENCES users (id),
	use             text NOT NULL CHECK (use IN ('promotion', 'training')),
	scope           text NOT NULL,
	fee_minor       bigint NOT NULL CHECK (fee_minor > 0),
	currency        text NOT NULL,
	status          text NOT NULL DEFAULT 'active'
	                CHECK (status IN ('active', 'ending', 'revoked', 'ended')),
	starts_at       timestamptz NOT NULL DEFAULT now(),
	until           timestamptz NOT NULL,
	revoked_at      timestamptz,
	revoke_reason   text CHECK (length(revoke_reason) <= 2000),
	ended_at        timestamptz,
	transaction_id  uuid REFERENCES ledger_transactions (id),
	CHECK ((status IN ('ending', 'revoked')) = (revoked_at IS NOT NULL)),
	CHECK ((status IN ('revoked', 'ended')) = (ended_at IS NOT NULL))
);
-- The check a pipeline asks before using a work reads this index only.
CREATE INDEX licenses_in_force ON licenses (submission_id, use, until)
	WHERE status IN ('active', 'ending');
CREATE INDEX licenses_submission ON licenses (submission_id, seq);
CREATE INDEX licenses_program ON licenses (program_id, seq);
CREATE INDEX licenses_due ON licenses (until) WHERE status IN ('active', 'ending');

-- The fee of a granted license, accrued once (effect "accrual:license:<id>").
CREATE FUNCTION ledger_on_licensed(p_license uuid, p_request_id text) RETURNS uuid
LANGUAGE sql AS $$
	SELECT ledger_accrue(l.program_id, l.artist_id, l.fee_minor,
	                     format('%s license: %s', l.use, s.title),
	                     'accrual:license:' || l.id, l.submission_id, p_request_id)
	  FROM licenses l JOIN submissions s ON s.id = l.submission_id
	 WHERE l.id = p_license
$$;

-- license.requested is emailed to the work's artist (preferences apply).
CREATE OR REPLACE FUNCTION notification_recipients(p_type text, p_program uuid, p_payload jsonb)
RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
	SELECT u.id FROM users u
	 WHERE u.disabled_at IS NULL
	   AND CASE
	       WHEN p_type IN ('enrollment.created', 'submission.decided',
	                       'submission.deemed_approved', 'accrual.posted',
	                       'payout.paid', 'payout.failed', 'license.requested')
	         THEN u.id = (p_payload ->> 'artist_id')::uuid
	       WHEN p_type = 'terms.published'
	         THEN EXISTS (SELECT 1 FROM enrollments e WHERE e.program_id = p_program
	                         AND e.artist_id = u.id AND e.status = 'active')
	       WHEN p_type = 'review.sla_warning' AND p_payload ->> 'reviewer_id' IS NOT NULL
	         THEN u.id = (p_payload ->> 'reviewer_id')::uuid
	       WHEN p_type IN ('review.sla_warning', 'submission.appealed')
	         THEN u.role = 'staff'
	       ELSE false
	       END
	   AND NOT EXISTS (SELECT 1 FROM notification_preferences np
	                    WHERE np.user_id = u.id AND np.event_type = p_type AND NOT np.email)
$$;
