-- 0008: an account's address as an identity (issue 10, look-alike addresses).
--
-- email_norm is the address's NFKC case fold and email_skeleton the UTS #39
-- confusable skeleton of that: the same account, and an account that looks
-- the same. Both are computed with ICU (lib/email.c), which SQL cannot call,
-- so rows that exist now get them from `fairbeta migrate` right after this
-- migration (admin/migrate.c), and on every later run for any row still
-- without them. The unique indexes make the database refuse a duplicate or
-- a look-alike, also between two creations racing each other; NULLs do not
-- collide, so the API also compares a new address with the few rows still
-- pending in C (lib/email.h, EMAIL_SQL_PENDING) and stays exact before the
-- backfill as after it.
ALTER TABLE users
	ADD COLUMN email_norm text,
	ADD COLUMN email_skeleton text,
	ADD CONSTRAINT users_email_identity_whole
		CHECK ((email_norm IS NULL) = (email_skeleton IS NULL));

-- created in this order, so that a new address equal to an existing one once
-- normalized is reported on users_email_norm before users_email_skeleton
CREATE UNIQUE INDEX users_email_norm ON users (email_norm);
CREATE UNIQUE INDEX users_email_skeleton ON users (email_skeleton);
CREATE INDEX users_email_pending ON users (id) WHERE email_skeleton IS NULL;
