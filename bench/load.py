"""Big tables written set-wise in SQL, as Postgres.bulk_ledger (the test
harness) writes the ledger: a review queue of n pending submissions in
seconds rather than n API calls."""


def pending_submissions(db, program_id, enrollment_id, n):
    """n pending work submissions by the enrolled artist, submitted evenly
    over the last review_sla_hours (so their deadlines are spread over the
    next ones, as a real queue's are, and no two are equal), each against
    terms version 1 and rate card version 1. The per-row foreign key checks
    are skipped (session_replication_role = replica): every row refers to
    the program, enrollment, artist, terms and rate card given."""
    db.psql("""
        SET session_replication_role = replica;
        INSERT INTO submissions (id, program_id, artist_id, enrollment_id, kind, title,
                                 terms_version, rate_card_version, review_due_at,
                                 review_warn_at, created_at, updated_at)
        SELECT gen_random_uuid(), p.id, e.artist_id, e.id, 'work', 'bench ' || g, 1, 1,
               x.t + make_interval(hours => p.review_sla_hours),
               x.t + make_interval(secs => p.review_sla_hours * 3600 * 0.8), x.t, x.t
          FROM programs p
          JOIN enrollments e ON e.id = '{e}' AND e.program_id = p.id
          CROSS JOIN generate_series(1, {n}) g
          CROSS JOIN LATERAL (SELECT now() - make_interval(hours => p.review_sla_hours)
                                     * (1 - g::float8 / {n}) AS t) x
         WHERE p.id = '{p}'
         ORDER BY g;
    """.format(p=program_id, e=enrollment_id, n=n))


def pending(db, program_id):
    return int(db.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                       " AND status = 'pending'" % program_id))


def settle(db):
    """After the loads: statistics and visibility for the planner, and the
    dirty pages written, so neither autovacuum nor a checkpoint runs during
    a measurement."""
    for table in ("submissions", "ledger_transactions", "ledger_entries", "ledger_accounts"):
        db.psql("VACUUM ANALYZE %s" % table)
    db.psql("CHECKPOINT")
