"""Migrations (issue: Foundation): applied once, in order, under an advisory
lock; a changed applied migration stops `migrate` and makes /readyz 503."""

import threading

import pytest

from harness import Api, Postgres, run_admin


@pytest.fixture()
def fresh_db():
    db = Postgres()
    try:
        db.start()
        yield db
    finally:
        db.destroy()


def test_two_migrators_at_once_apply_each_migration_once(fresh_db):
    outs = [None, None]

    def migrate(i):
        outs[i] = run_admin(fresh_db.url, "migrate")

    threads = [threading.Thread(target=migrate, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [o.returncode for o in outs] == [0, 0], [o.stderr for o in outs]
    applied = "".join(o.stdout for o in outs).count("applied 0001_foundation.sql")
    assert applied == 1
    assert fresh_db.psql("SELECT count(*) FROM schema_migrations") == \
        fresh_db.psql("SELECT count(*) FROM schema_migrations WHERE checksum ~ '^[0-9a-f]{64}$'")
    assert int(fresh_db.psql("SELECT count(*) FROM schema_migrations")) >= 1


def test_readyz_503_until_migrated_and_changed_migration_stops_migrate(fresh_db):
    api = Api(fresh_db.url).start(wait_ready=False)
    try:
        r = api.request("GET", "/readyz")
        assert r.status == 503
        assert r.json["migrations"] == "pending"

        assert run_admin(fresh_db.url, "migrate").returncode == 0
        assert api.request("GET", "/readyz").status == 200

        # An applied file whose text changed: the recorded checksum no longer matches.
        fresh_db.psql("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = '0001'")
        out = run_admin(fresh_db.url, "migrate")
        assert out.returncode != 0
        assert "0001_foundation.sql was changed" in out.stderr
        r = api.request("GET", "/readyz")
        assert r.status == 503
        assert r.json["migrations"] == "mismatch"
    finally:
        api.stop()
