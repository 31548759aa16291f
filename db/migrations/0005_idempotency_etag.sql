-- 0005: a replayed reply carries the ETag the first one had (a created
-- program's, for instance); Location was never sent, so it goes.
ALTER TABLE idempotency_keys ADD COLUMN etag text;
ALTER TABLE idempotency_keys DROP COLUMN location;
