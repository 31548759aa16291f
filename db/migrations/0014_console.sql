-- 0014: what the web console lists that no list served before: users (an
-- admin's page) get a sequence for keyset pagination, like every other
-- listed table.

ALTER TABLE users ADD COLUMN seq bigserial;
CREATE UNIQUE INDEX users_seq ON users (seq);
CREATE INDEX payout_batches_program ON payout_batches (program_id, seq);
CREATE INDEX webhooks_program_seq ON webhooks (program_id, seq);
