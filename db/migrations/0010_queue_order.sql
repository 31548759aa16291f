-- Issue 11 (P4): the claim takes the first open item in the order
-- (review_due_at, appeals first, seq). The queue index had only
-- (review_due_at, seq), so among items due at the same instant PostgreSQL had
-- to sort them all before taking one: a claim got slower as the queue grew.
-- This index holds exactly the claim's order, so a claim reads one entry
-- whatever the queue's length.
CREATE INDEX submissions_queue_order ON submissions
	(program_id, review_due_at, (appealed_at IS NOT NULL) DESC, seq)
	WHERE status IN ('pending', 'in_review', 'appealed');
DROP INDEX submissions_queue;
