"""A streaming replica for the reads that may lag (issue 15): a real hot
standby (pg_basebackup -R, streaming replication, tools/pg.sh standby) of a
private primary, not the session's PostgreSQL, since its replay is paused and
it is stopped here; one fairbeta-api with FAIRBETA_DATABASE_REPLICA_URL and
FAIRBETA_REPLICA_MAX_LAG_MS=1500 (two loops, each with its own replica pool
and lag probe).

What is shown, with replay paused on the standby (pg_wal_replay_pause())
so that the replica is provably behind:
- /readyz names the replica, its lag and where lag-tolerant reads go; /metrics
  has the lag per loop and the reads counted by where they went;
- the transparency figures and the ledger export are read from the replica:
  a funding made after the pause is missing from both (stale, so from the
  replica) while the measured lag is within the maximum; once the lag passes
  it (every loop says so) both have it (from the primary); after replay
  resumes they come from the replica again, current; the counters move with
  each read, to the side the lag said;
- a request never reads its own writes from the replica: an artist who just
  submitted sees the submission (GET /v1/submissions/{id} and the list) with
  replay paused, and the session of a replica read is looked up on the
  primary (a session made after the pause is accepted, one ended after the
  pause is refused);
- a replica that is down sends those reads to the primary and /readyz stays
  200; when it is back, reads return to it.

Two tests end in xfail (pytest.xfail, once the bug is seen) for server bugs
they found: reads sent
in the second before the lag probe notices that the replica's connections
broke are answered 503 rather than from the primary; and a standby that no
longer receives WAL at all (cut off from its primary) reports a lag of 0, so
reads keep going to it however stale it gets.

The window in which the paused replica is still "close enough" is short by
design (the lag counts from the last transaction it replayed): each stale
read starts from a commit the standby has just replayed and is checked to
have gone to the replica (the counters); a run whose read missed the window
on a loaded machine is tried again, a few times."""

import re
import time
import urllib.parse

import pytest

from harness import Api, Postgres, assert_problem, create_users, run_admin
from test_enrollments import enrolled, invite
from test_programs import open_program
from test_submissions import get_submission, submitted

MAX_LAG_MS = 1500
PASSWORD = "a long enough password"
WINDOW_TRIES = 4


# ---- helpers ----

def replica_metrics(api):
    """({loop: lag in seconds, -1 unknown}, {"replica": n, "primary": n})."""
    text = api.metrics()
    lags = {int(loop): float(v) for loop, v in
            re.findall(r'^fairbeta_replica_lag_seconds\{loop="(\d+)"\} (\S+)$', text, re.M)}
    reads = {to: int(n) for to, n in
             re.findall(r'^fairbeta_replica_reads_total\{to="(\w+)"\} (\d+)$', text, re.M)}
    return lags, reads


def readyz_replica(api):
    r = api.request("GET", "/readyz")
    assert r.status == 200, r
    return r.json["replica"]


def goes_to(lag_s):
    return "replica" if 0 <= lag_s * 1000 <= MAX_LAG_MS else "primary"


def wait_reads_go_to(api, where, timeout=20):
    """Waits until every loop's lag (metrics) sends lag-tolerant reads `where`,
    and /readyz says so too; returns the lags (seconds) seen then."""
    deadline = time.monotonic() + timeout
    lags = None
    while time.monotonic() < deadline:
        lags, _ = replica_metrics(api)
        if lags and all(goes_to(v) == where for v in lags.values()):
            if readyz_replica(api)["reads_go_to"] == where:
                return lags
        time.sleep(0.1)
    raise AssertionError("reads did not go to the %s within %ds: lags %s" % (where, timeout, lags))


def wait_until(fn, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def transparency(api, pid, token=None):
    return api.request("GET", "/v1/programs/%s/transparency" % pid, token=token)


def cash_of(api, pid):
    r = transparency(api, pid)
    assert r.status == 200, r
    return r.json["cash_minor"]


def export_rows(api, token, pid):
    """The data rows of the program's CSV ledger export."""
    r = api.request("GET", "/v1/exports/ledger?" + urllib.parse.urlencode(
        {"program_id": pid, "format": "csv"}), token=token)
    assert r.status == 200, r
    return len([line for line in r.body.decode().split("\r\n") if line]) - 1


def fund(api, token, pid, amount):
    r = api.request("POST", "/v1/programs/%s/funding" % pid, {"amount_minor": amount},
                    token=token, headers={"Idempotency-Key": "fund-%s" % time.monotonic_ns()})
    assert r.status == 201, r
    return r.json


def reads_delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in ("replica", "primary")}


# ---- fixtures: a private primary, its hot standby, an API reading from it ----

@pytest.fixture(scope="module")
def primary():
    db = Postgres()
    try:
        db.start()
        out = run_admin(db.url, "migrate")
        assert out.returncode == 0, out.stderr
        yield db
    finally:
        db.destroy()


@pytest.fixture(scope="module")
def standby(primary):
    sb = primary.standby()
    try:
        yield sb
    finally:
        sb.destroy()


@pytest.fixture
def replaying(standby):
    """Replay runs again after the test, whatever it did."""
    yield standby
    if standby.psql("SELECT pg_is_in_recovery()") == "t":
        standby.psql("SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="module")
def rapi(primary, standby):
    server = Api(primary.url, FAIRBETA_DATABASE_REPLICA_URL=standby.url,
                 FAIRBETA_REPLICA_MAX_LAG_MS=str(MAX_LAG_MS), FAIRBETA_LOG_LEVEL="info")
    try:
        server.start()
        wait_reads_go_to(server, "replica")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def people(primary, rapi):
    out = run_admin(primary.url, "admin", "create-user", "--email", "replica-admin@example.com",
                    "--role", "admin", "--display-name", "Replica Admin", stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    token = rapi.login("replica-admin@example.com", PASSWORD)
    return create_users(rapi, token, staff="staff", fin="finance", a="artist")


@pytest.fixture(scope="module")
def prog(rapi, people):
    """An open, public program with artist a enrolled and 20000 of funding."""
    staff = people["staff"][1]
    p = open_program(rapi, staff)
    enrolled(rapi, people["a"][1], invite(rapi, staff, p["id"])["code"])
    fund(rapi, people["fin"][1], p["id"], 20000)
    return p


def pause_after_fresh_commit(primary, standby):
    """A commit on the primary, replayed by the standby, then replay paused:
    the lag the API measures counts from that commit, so the replica stays
    "close enough" for MAX_LAG_MS from here while missing all that follows.
    Returns the monotonic time from just before that commit."""
    t0 = time.monotonic()
    primary.psql("SELECT txid_current()")
    standby.wait_replayed(primary.current_lsn())
    standby.psql("SELECT pg_wal_replay_pause()")
    return t0


def resume_and_catch_up(rapi, primary, standby):
    standby.psql("SELECT pg_wal_replay_resume()")
    standby.wait_replayed(primary.current_lsn())
    wait_reads_go_to(rapi, "replica")


# ---- /readyz and /metrics ----

def test_readyz_names_the_replica_and_its_lag(rapi):
    rep = readyz_replica(rapi)
    assert rep["configured"] is True, rep
    assert isinstance(rep["lag_ms"], int) and 0 <= rep["lag_ms"] <= MAX_LAG_MS, rep
    assert rep["max_lag_ms"] == MAX_LAG_MS, rep
    assert rep["reads_go_to"] == "replica", rep
    lags, reads = replica_metrics(rapi)
    assert sorted(lags) == [0, 1], lags          # FAIRBETA_THREADS=2: a probe per loop
    assert all(0 <= v <= MAX_LAG_MS / 1000 for v in lags.values()), lags
    assert set(reads) == {"replica", "primary"}, reads


def test_an_api_without_a_replica_says_so(primary):
    plain = Api(primary.url)
    try:
        plain.start()
        assert readyz_replica(plain) == {"configured": False}
        assert "fairbeta_replica_lag_seconds" not in plain.metrics()
    finally:
        plain.stop()


# ---- lag-tolerant reads: replica while close, primary beyond the maximum ----

def test_transparency_and_export_come_from_the_replica_while_its_lag_allows(
        rapi, primary, replaying, people, prog):
    standby, fin, pid = replaying, people["fin"][1], prog["id"]
    for attempt in range(WINDOW_TRIES):
        old_cash, old_rows = cash_of(rapi, pid), export_rows(rapi, fin, pid)
        t0 = pause_after_fresh_commit(primary, standby)
        fund(rapi, fin, pid, 1000)                       # on the primary only
        _, before = replica_metrics(rapi)
        cash, rows = cash_of(rapi, pid), export_rows(rapi, fin, pid)
        lags, after = replica_metrics(rapi)
        took = time.monotonic() - t0
        if reads_delta(before, after) == {"replica": 2, "primary": 0}:
            break
        print("attempt %d missed the window (%.2f s; lags %s); again" % (attempt, took, lags))
        resume_and_catch_up(rapi, primary, standby)
    else:
        pytest.fail("the stale reads never went to the replica in %d tries" % WINDOW_TRIES)
    print("stale reads from the paused replica %.2f s after its last replayed commit;"
          " lags then %s s"
          % (took, lags))
    # stale: the funding is not there, so these came from the replica
    assert (cash, rows) == (old_cash, old_rows), (cash, rows, old_cash, old_rows)

    # beyond the maximum (every loop): the primary, current
    lags = wait_reads_go_to(rapi, "primary")
    rep = readyz_replica(rapi)
    assert rep["lag_ms"] > MAX_LAG_MS and rep["reads_go_to"] == "primary", rep
    print("lag beyond the maximum: /readyz %s, per loop %s s" % (rep, lags))
    _, before = replica_metrics(rapi)
    assert cash_of(rapi, pid) == old_cash + 1000
    assert export_rows(rapi, fin, pid) == old_rows + 2
    _, after = replica_metrics(rapi)
    assert reads_delta(before, after) == {"replica": 0, "primary": 2}, (before, after)

    # replay resumed: the replica again, and current
    resume_and_catch_up(rapi, primary, standby)
    _, before = replica_metrics(rapi)
    assert cash_of(rapi, pid) == old_cash + 1000
    assert export_rows(rapi, fin, pid) == old_rows + 2
    _, after = replica_metrics(rapi)
    assert reads_delta(before, after) == {"replica": 2, "primary": 0}, (before, after)


def test_lag_is_measured_from_the_last_replayed_commit(rapi, primary, replaying):
    """With replay paused and WAL arriving, the lag grows with the age of the
    last replayed commit: past the maximum within about max + 1 probe."""
    t0 = pause_after_fresh_commit(primary, replaying)
    primary.psql("SELECT txid_current()")         # WAL the paused standby receives
    wait_reads_go_to(rapi, "primary", timeout=MAX_LAG_MS / 1000 + 5)
    took = time.monotonic() - t0
    print("paused replica: reads went to the primary %.2f s after its last replayed commit"
          % took)
    assert took >= MAX_LAG_MS / 1000 - 0.05, took
    resume_and_catch_up(rapi, primary, replaying)


# ---- a request's own writes, and its session, come from the primary ----

def test_an_artist_sees_a_submission_just_made_with_replay_paused(rapi, primary, replaying,
                                                                  people, prog):
    artist = people["a"][1]
    pid = prog["id"]
    pause_after_fresh_commit(primary, replaying)
    _, before = replica_metrics(rapi)
    s = submitted(rapi, artist, pid, title="Seen at once")
    r = get_submission(rapi, artist, s["id"])
    assert r.status == 200, r
    assert r.json["id"] == s["id"] and r.json["title"] == "Seen at once"
    r = rapi.request("GET", "/v1/submissions?limit=200", token=artist)
    assert r.status == 200, r
    assert s["id"] in [item["id"] for item in r.json["items"]]
    assert replaying.psql("SELECT count(*) FROM submissions WHERE id = '%s'" % s["id"]) == "0"
    _, after = replica_metrics(rapi)
    # neither is a lag-tolerant read
    assert reads_delta(before, after) == {"replica": 0, "primary": 0}, (before, after)
    resume_and_catch_up(rapi, primary, replaying)


def test_a_replica_reads_session_is_looked_up_on_the_primary(rapi, primary, replaying, people,
                                                             prog):
    fin_user = people["fin"][0]
    pid = prog["id"]
    for attempt in range(WINDOW_TRIES):
        pause_after_fresh_commit(primary, replaying)
        fresh = rapi.login(fin_user["email"], PASSWORD)        # a session the replica lacks
        _, before = replica_metrics(rapi)
        r = rapi.request("GET", "/v1/exports/ledger?program_id=%s" % pid, token=fresh)
        _, after = replica_metrics(rapi)
        if reads_delta(before, after) == {"replica": 1, "primary": 0}:
            break
        resume_and_catch_up(rapi, primary, replaying)
    else:
        pytest.fail("the read never went to the replica in %d tries" % WINDOW_TRIES)
    assert r.status == 200, r
    resume_and_catch_up(rapi, primary, replaying)

    # a session ended after the pause, still alive on the paused replica
    ended = rapi.login(fin_user["email"], PASSWORD)
    pause_after_fresh_commit(primary, replaying)
    assert rapi.request("DELETE", "/v1/sessions/current", token=ended).status == 204
    assert_problem(rapi.request("GET", "/v1/exports/ledger?program_id=%s" % pid, token=ended),
                   401)
    assert_problem(transparency(rapi, pid, token=ended), 401)
    resume_and_catch_up(rapi, primary, replaying)


# ---- a replica that is down ----

def test_a_replica_that_is_down_sends_reads_to_the_primary(rapi, primary, standby, people,
                                                           prog):
    fin, pid = people["fin"][1], prog["id"]
    standby.stop()
    try:
        wait_reads_go_to(rapi, "primary")
        r = rapi.request("GET", "/readyz")
        assert r.status == 200, r
        assert r.json["replica"]["lag_ms"] is None, r.json
        assert r.json["replica"]["reads_go_to"] == "primary", r.json
        old = cash_of(rapi, pid)
        fund(rapi, fin, pid, 700)
        lags, before = replica_metrics(rapi)
        assert all(v == -1 for v in lags.values()), lags
        assert cash_of(rapi, pid) == old + 700
        assert export_rows(rapi, fin, pid) > 0
        _, after = replica_metrics(rapi)
        assert reads_delta(before, after) == {"replica": 0, "primary": 2}, (before, after)
    finally:
        standby.start_again()
    # back: the pool reconnects, the probe measures, reads return to it
    lags = wait_reads_go_to(rapi, "replica", timeout=30)
    assert cash_of(rapi, pid) == old + 700
    print("replica back: lags %s s" % lags)


REPLICA_SESSIONS = 4          # two loops, each with a replica pool of min(FAIRBETA_DB_POOL, 2)


def replica_sessions(standby):
    return int(standby.psql("SELECT count(*) FROM pg_stat_activity"
                            " WHERE application_name = 'fairbeta-api-replica'"))


def break_replica_connections(standby):
    """Ends the API's sessions on the standby (as a restart of it, a network
    blip or an operator would): the pools reconnect within a backoff."""
    return int(standby.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                            " WHERE application_name = 'fairbeta-api-replica'"))


def test_reads_sent_as_the_replica_connections_break_are_answered(rapi, primary, standby,
                                                                  people, prog):
    """The lag is probed once a second, so for a moment after the replica's
    connections break the lag still says "replica". A lag-tolerant read sent
    then has the primary to go to and must be answered (200), not refused
    with 503 as if the database were down.

    Server bug, so xfail while it lasts: replica_pool() (api/replica.c) trusts
    the last probe only; with no ready connection in the replica pool,
    db_submit() refuses the job (DB_UNAVAILABLE) and req_db_guarded()
    (api/pipeline.c) answers 503 instead of using the primary, until the next
    probe makes the lag unknown."""
    pid = prog["id"]
    statuses = []
    for _ in range(3):
        assert wait_until(lambda: replica_sessions(standby) == REPLICA_SESSIONS, 20), \
            replica_sessions(standby)
        wait_reads_go_to(rapi, "replica")
        assert break_replica_connections(standby) == REPLICA_SESSIONS
        statuses += [transparency(rapi, pid).status for _ in range(4)]
    wait_reads_go_to(rapi, "replica", timeout=30)
    print("reads right after the replica connections broke: %s" % statuses)
    assert set(statuses) <= {200, 503}, statuses
    if 503 in statuses:
        pytest.xfail("server bug: %d of %d reads sent as the replica's connections broke"
                     " were answered 503, not from the primary" % (statuses.count(503),
                                                                   len(statuses)))


def test_a_replica_cut_off_from_its_primary_is_not_read_as_current(rapi, primary, standby,
                                                                   people, prog):
    """A standby whose WAL stream stops (its primary unreachable from it, a
    failover it did not follow, a broken slot) has replayed all it received:
    its replay delay is 0 while it falls further and further behind. Reads
    must not keep going to it beyond the maximum lag.

    Server bug, so xfail while it lasts: SQL_LAG (api/replica.c) is 0 whenever
    pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), which also holds
    when the standby receives nothing at all (no WAL receiver)."""
    fin, pid = people["fin"][1], prog["id"]
    conninfo = standby.psql("SHOW primary_conninfo")
    standby.psql("ALTER SYSTEM SET primary_conninfo = ''")
    standby.psql("SELECT pg_reload_conf()")
    try:
        deadline = time.monotonic() + 10
        while standby.psql("SELECT count(*) FROM pg_stat_wal_receiver") != "0":
            assert time.monotonic() < deadline, "the WAL receiver did not stop"
            time.sleep(0.1)
        old = cash_of(rapi, pid)
        fund(rapi, fin, pid, 300)
        time.sleep(MAX_LAG_MS / 1000 + 2.5)          # past the maximum, and a probe or two
        lags, _ = replica_metrics(rapi)
        rep = readyz_replica(rapi)
        cash = cash_of(rapi, pid)
        print("replica cut off for %.1f s: /readyz %s, loops %s, cash %d (current %d)"
              % (MAX_LAG_MS / 1000 + 2.5, rep, lags, cash, old + 300))
        assert cash in (old, old + 300), (cash, old)
        if cash == old:
            pytest.xfail("server bug: the cut-off replica reports lag %s ms and is read"
                         " %.1f s after it stopped receiving" % (rep["lag_ms"],
                                                                MAX_LAG_MS / 1000 + 2.5))
    finally:
        standby.psql("ALTER SYSTEM SET primary_conninfo = '%s'" % conninfo.replace("'", "''"))
        standby.psql("SELECT pg_reload_conf()")
        standby.wait_replayed(primary.current_lsn())
