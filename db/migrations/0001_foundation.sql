-- 0001: accounts, sessions, login throttling, the audit log and the outbox.

-- RFC 3339 in UTC with microseconds: the one way times leave the database.
CREATE FUNCTION rfc3339(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
	SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- Raised by triggers on append-only tables.
CREATE FUNCTION refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% on % is not allowed: the table is append-only', TG_OP, TG_TABLE_NAME
		USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TABLE users (
	id            uuid PRIMARY KEY,
	email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
	password_hash text NOT NULL,
	display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
	role          text NOT NULL CHECK (role IN ('admin', 'staff', 'finance', 'artist')),
	created_at    timestamptz NOT NULL DEFAULT now(),
	disabled_at   timestamptz
);

CREATE TABLE sessions (
	id          uuid PRIMARY KEY,
	user_id     uuid NOT NULL REFERENCES users (id),
	token_hash  text NOT NULL UNIQUE,          -- hex SHA-256 of the bearer token
	created_at  timestamptz NOT NULL DEFAULT now(),
	expires_at  timestamptz NOT NULL,
	revoked_at  timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed sign-ins per address, so that throttling holds across servers.
CREATE TABLE login_failures (
	id     bigserial PRIMARY KEY,
	email  text NOT NULL,
	at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_at ON login_failures (email, at);

CREATE TABLE audit_log (
	id           bigserial PRIMARY KEY,
	at           timestamptz NOT NULL DEFAULT now(),
	actor_id     uuid,                -- NULL: the system (a worker, a command)
	actor_role   text,
	action       text NOT NULL,       -- e.g. user.create
	entity_type  text NOT NULL,
	entity_id    text NOT NULL,
	before       jsonb,
	after        jsonb,
	request_id   text NOT NULL
);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, id);
CREATE INDEX audit_log_actor ON audit_log (actor_id, id);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Events written in the same transaction as the change they announce; the
-- worker delivers them. dispatched_at is set once every delivery is queued.
CREATE TABLE outbox (
	id             bigserial PRIMARY KEY,
	event_id       uuid NOT NULL UNIQUE,
	event_type     text NOT NULL,
	program_id     uuid,
	entity_type    text NOT NULL,
	entity_id      text NOT NULL,
	payload        jsonb NOT NULL,
	request_id     text NOT NULL,
	created_at     timestamptz NOT NULL DEFAULT now(),
	dispatched_at  timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE dispatched_at IS NULL;
