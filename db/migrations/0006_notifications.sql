-- 0006: notifications. Every outbox event fans out into deliveries (an
-- email to a user, a POST to a webhook); the worker sends each at least
-- once, retrying with backoff, until it is delivered or dead.

-- Email per user and event type; no row means on.
CREATE TABLE notification_preferences (
	user_id     uuid NOT NULL REFERENCES users (id),
	event_type  text NOT NULL,
	email       boolean NOT NULL,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (user_id, event_type)
);

CREATE TABLE webhooks (
	id          uuid PRIMARY KEY,
	seq         bigserial NOT NULL UNIQUE,
	program_id  uuid NOT NULL REFERENCES programs (id),
	url         text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
	events      text[] NOT NULL CHECK (cardinality(events) >= 1),
	-- the signing key must be usable, so it is stored as given out (whsec_...)
	secret      text NOT NULL,
	created_by  uuid NOT NULL REFERENCES users (id),
	created_at  timestamptz NOT NULL DEFAULT now(),
	disabled_at timestamptz
);
CREATE INDEX webhooks_program ON webhooks (program_id) WHERE disabled_at IS NULL;

CREATE TABLE deliveries (
	id               uuid PRIMARY KEY,
	seq              bigserial NOT NULL UNIQUE,
	event_id         uuid NOT NULL REFERENCES outbox (event_id),
	channel          text NOT NULL CHECK (channel IN ('email', 'webhook')),
	webhook_id       uuid REFERENCES webhooks (id),
	user_id          uuid REFERENCES users (id),
	status           text NOT NULL DEFAULT 'pending'
	                 CHECK (status IN ('pending', 'in_flight', 'delivered', 'dead')),
	attempts         integer NOT NULL DEFAULT 0,
	next_attempt_at  timestamptz NOT NULL DEFAULT now(),
	locked_until     timestamptz,
	last_status      integer,
	last_error       text,
	created_at       timestamptz NOT NULL DEFAULT now(),
	delivered_at     timestamptz,
	CHECK ((channel = 'webhook') = (webhook_id IS NOT NULL)),
	CHECK ((channel = 'email') = (user_id IS NOT NULL)),
	UNIQUE NULLS NOT DISTINCT (event_id, webhook_id, user_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
	WHERE status IN ('pending', 'in_flight');
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, seq) WHERE webhook_id IS NOT NULL;

-- Who is told by email about an event: its artist, the program's artists,
-- the reviewer or the staff, as the event calls for; preferences decide.
CREATE FUNCTION notification_recipients(p_type text, p_program uuid, p_payload jsonb)
RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
	SELECT u.id FROM users u
	 WHERE u.disabled_at IS NULL
	   AND CASE
	       WHEN p_type IN ('enrollment.created', 'submission.decided',
	                       'submission.deemed_approved', 'accrual.posted',
	                       'payout.paid', 'payout.failed')
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

-- Events written before notifications existed were never meant to be sent.
UPDATE outbox SET dispatched_at = now() WHERE dispatched_at IS NULL;

-- The worker wakes when an event is written (it also polls).
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('fairbeta_outbox', '');
	RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
	FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
