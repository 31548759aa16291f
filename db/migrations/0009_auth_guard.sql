-- Issue 11: one round trip for a session lookup and a request's first
-- statements. A request whose token the API has seen runs at once as that
-- caller, and its first job starts with a guard (SQL_AUTH_GUARD in
-- api/http.c) that calls this function, and so fails with FB401 and makes
-- the database skip everything sent with it, unless the token still names
-- exactly that session, user, role, address and name. Revoking a session,
-- disabling a user or changing a role therefore still takes effect at once.
-- The check itself is plain SQL in the guard (a prepared statement, planned
-- once); only the refusal needs PL/pgSQL.
CREATE FUNCTION auth_refused() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION 'the session is not the one this request started with'
	      USING ERRCODE = 'FB401';
END $$;
