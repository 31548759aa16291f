-- 0012: one Idempotency-Key layer (issue 12). The claim of a key now rides
-- as a guard in the first job a request sends (api/idem.c), in the same
-- round trip and, for a transaction, in the same transaction as the change:
-- a change that rolls back takes its claim with it, and a funding is one
-- transaction fewer (issue 11, P2). claim is the token of the request that
-- holds the key; the reply is stored under it (inserted when the claim
-- rolled back with its transaction), so a request never overwrites
-- another's. idem_taken() is how the guard fails when the key is taken.
ALTER TABLE idempotency_keys ADD COLUMN claim text;

CREATE FUNCTION idem_taken() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION 'this Idempotency-Key is taken' USING ERRCODE = 'FB409';
END $$;

-- Submissions keep their effect's key (api/idem.h, idem_effect_key) under
-- the same unique index; the request's hash is part of it.
ALTER TABLE submissions DROP COLUMN request_hash;
