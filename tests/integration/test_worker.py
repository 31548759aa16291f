"""The deadline worker (build/fairbeta-worker): a submission nobody decided by
its review_due_at becomes deemed_approved (one decision row, one outbox
event, one audit row), an open submission past 80% of its SLA gets exactly
one review.sla_warning, both hold with two workers running at once, finished
submissions are left alone, and SIGTERM stops the worker with status 0.

Deadlines are moved with SQL, as the spec allows; the worker runs with a
200 ms tick so that each test takes a few seconds."""

import concurrent.futures
import datetime
import json
import time

import pytest

from harness import Workers, create_users
from test_programs import TS_RE, assert_slug, parse_ts
from test_submissions import (appeal, audit_count_of, claimed, decide, detail, enrolled_program,
                              exhibit, outbox_count, reviewed, submit, submitted, withdraw)

TICK_MS = "200"


@pytest.fixture(scope="module")
def people(api, admin):
    return create_users(api, admin["token"], s1="staff", s2="staff", a="artist")


@pytest.fixture(scope="module")
def s1(people):
    return people["s1"][1]


@pytest.fixture(scope="module")
def artist(people):
    return people["a"][1]


@pytest.fixture
def prog(api, s1, artist):
    p, _ = enrolled_program(api, s1, [artist])
    return p


@pytest.fixture
def workers(pg):
    """start(n, **env) starts n workers (tick 200 ms); any left running are stopped."""
    ws = Workers(pg.url, FAIRBETA_WORKER_TICK_MS=TICK_MS)
    yield ws.start
    ws.stop_all()


def wait_until(fn, timeout, interval=0.1):
    """Polls fn until it returns something true; returns that, or the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def due_at(pg, sid):
    return parse_ts(pg.psql("SELECT rfc3339(review_due_at) FROM submissions WHERE id = '%s'"
                            % sid))


def status_of(pg, sid):
    return pg.psql("SELECT status FROM submissions WHERE id = '%s'" % sid)


def decision_count(pg, sid):
    return int(pg.psql("SELECT count(*) FROM decisions WHERE submission_id = '%s'" % sid))


def stop_all(ws):
    return [w.stop(timeout=5) for w in ws]


# ---- deemed approval ----

def test_due_submission_is_deemed_approved_after_its_deadline(api, people, prog, pg, workers,
                                                              artist):
    s = submitted(api, artist, prog["id"])
    ws = workers(1)
    pg.psql("UPDATE submissions SET review_due_at = now() + interval '3 seconds'"
            " WHERE id = '%s'" % s["id"])
    due = due_at(pg, s["id"])
    time.sleep(1)
    early = detail(api, artist, s["id"])
    assert early["status"] == "pending" and early["decided_at"] is None, early
    assert early["decisions"] == [] and early["shareable"] is False
    assert outbox_count(pg, "submission.deemed_approved", s["id"]) == 0
    left = (due - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert wait_until(lambda: status_of(pg, s["id"]) == "deemed_approved", left + 4), \
        (status_of(pg, s["id"]), ws[0].logtext())
    d = detail(api, artist, s["id"])
    assert d["status"] == "deemed_approved"
    assert TS_RE.match(d["decided_at"] or ""), d
    assert due <= parse_ts(d["decided_at"]) <= due + datetime.timedelta(seconds=4), \
        (due, d["decided_at"])
    assert d["claim"] is None and d["shareable"] is True
    [dec] = d["decisions"]
    assert dec["outcome"] == "deemed_approved" and dec["decided_by"] is None, dec
    assert dec["clause_keys"] == [] and dec["on_appeal"] is False, dec
    assert dec["decided_at"] == d["decided_at"]
    assert decision_count(pg, s["id"]) == 1
    assert outbox_count(pg, "submission.deemed_approved", s["id"]) == 1
    assert audit_count_of(pg, "submission.deemed_approve", s["id"]) == 1
    assert pg.psql("SELECT count(*) FROM audit_log WHERE action = 'submission.deemed_approve'"
                   " AND entity_id = '%s' AND actor_id IS NULL" % s["id"]) == "1"
    assert stop_all(ws) == [0]


def test_claimed_submission_past_its_deadline_is_deemed_approved(api, people, prog, pg,
                                                                 workers, s1, artist):
    s = submitted(api, artist, prog["id"])
    assert claimed(api, s1, prog["id"])["id"] == s["id"]
    ws = workers(1)
    pg.psql("UPDATE submissions SET review_due_at = now() + interval '500 milliseconds'"
            " WHERE id = '%s'" % s["id"])
    assert wait_until(lambda: status_of(pg, s["id"]) == "deemed_approved", 4), \
        ws[0].logtext()
    d = detail(api, s1, s["id"])
    assert d["claim"] is None
    assert pg.psql("SELECT claimed_by IS NULL FROM submissions WHERE id = '%s'"
                   % s["id"]) == "t"
    assert_slug(decide(api, s1, s["id"], "rejected", "Too late.", ["pay"]), 409,
                "not-claim-holder")
    assert [x["outcome"] for x in detail(api, s1, s["id"])["decisions"]] == ["deemed_approved"]
    assert stop_all(ws) == [0]


def test_appeal_past_its_deadline_is_deemed_approved(api, people, prog, pg, workers, s1,
                                                     artist):
    x = reviewed(api, s1, artist, prog["id"], "rejected")
    assert appeal(api, artist, x["id"]).status == 200
    ws = workers(1)
    pg.psql("UPDATE submissions SET review_due_at = now() + interval '500 milliseconds'"
            " WHERE id = '%s'" % x["id"])
    assert wait_until(lambda: status_of(pg, x["id"]) == "deemed_approved", 4), \
        ws[0].logtext()
    d = detail(api, artist, x["id"])
    assert [(e["outcome"], e["decided_by"]) for e in d["decisions"]] == [
        ("rejected", people["s1"][0]["id"]), ("deemed_approved", None)]
    assert d["shareable"] is True
    assert outbox_count(pg, "submission.deemed_approved", x["id"]) == 1
    assert stop_all(ws) == [0]


def test_deemed_approved_submission_counts_as_approved(api, people, prog, pg, workers, s1,
                                                       artist):
    s = submitted(api, artist, prog["id"])
    ws = workers(1)
    pg.psql("UPDATE submissions SET review_due_at = now() WHERE id = '%s'" % s["id"])
    assert wait_until(lambda: status_of(pg, s["id"]) == "deemed_approved", 4), \
        ws[0].logtext()
    assert stop_all(ws) == [0]
    r = exhibit(api, s1, s["id"], "Deemed Gallery")
    assert r.status == 201, r
    assert_slug(appeal(api, artist, s["id"]), 409, "conflict")
    assert_slug(withdraw(api, artist, s["id"]), 409, "conflict")
    assert_slug(decide(api, s1, s["id"]), 409, "not-claim-holder")
    assert decision_count(pg, s["id"]) == 1


def test_finished_submissions_are_left_alone(api, people, prog, pg, workers, s1, artist):
    done = {o: reviewed(api, s1, artist, prog["id"], o)
            for o in ("approved", "rejected", "changes_requested")}
    w = submitted(api, artist, prog["id"])
    assert withdraw(api, artist, w["id"]).status == 200
    done["withdrawn"] = w
    control = submitted(api, artist, prog["id"])
    pg.psql("UPDATE submissions SET review_due_at = now() - interval '1 minute',"
            " review_warn_at = now() - interval '2 minutes' WHERE program_id = '%s'"
            % prog["id"])
    ws = workers(1)
    assert wait_until(lambda: status_of(pg, control["id"]) == "deemed_approved", 4), \
        ws[0].logtext()
    time.sleep(0.6)
    for outcome, s in done.items():
        assert status_of(pg, s["id"]) == outcome, outcome
        assert decision_count(pg, s["id"]) == (0 if outcome == "withdrawn" else 1), outcome
        assert outbox_count(pg, "submission.deemed_approved", s["id"]) == 0
        assert outbox_count(pg, "review.sla_warning", s["id"]) == 0
    assert stop_all(ws) == [0]


def test_two_workers_deem_each_of_50_submissions_once(api, people, prog, pg, workers, artist):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        made = list(ex.map(lambda i: submit(api, artist, prog["id"],
                                            {"kind": "feedback", "title": "due %d" % i}),
                           range(50)))
    assert [r.status for r in made] == [201] * 50
    ids = sorted(r.json["id"] for r in made)
    ws = workers(2)
    pg.psql("UPDATE submissions SET review_due_at = now() + interval '1 second'"
            " WHERE program_id = '%s'" % prog["id"])
    count = lambda: int(pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                                " AND status = 'deemed_approved'" % prog["id"]))
    assert wait_until(lambda: count() == 50, 10), (count(), ws[0].logtext())
    time.sleep(0.6)
    assert pg.psql("SELECT count(*), count(DISTINCT d.submission_id) FROM decisions d"
                   " JOIN submissions s ON s.id = d.submission_id"
                   " WHERE s.program_id = '%s'" % prog["id"]) == "50|50"
    assert pg.psql("SELECT count(*), count(DISTINCT entity_id) FROM outbox"
                   " WHERE event_type = 'submission.deemed_approved' AND program_id = '%s'"
                   % prog["id"]) == "50|50"
    assert sorted(pg.psql("SELECT entity_id FROM outbox WHERE event_type ="
                          " 'submission.deemed_approved' AND program_id = '%s'"
                          % prog["id"]).split()) == ids
    in_list = ",".join("'%s'" % i for i in ids)
    assert pg.psql("SELECT count(*), count(DISTINCT entity_id) FROM audit_log"
                   " WHERE action = 'submission.deemed_approve' AND entity_id IN (%s)"
                   % in_list) == "50|50"
    assert stop_all(ws) == [0, 0]


# ---- SLA warning ----

def test_sla_warning_is_written_once_with_two_workers(api, people, prog, pg, workers, artist):
    warn = submitted(api, artist, prog["id"], title="warn me")
    quiet = submitted(api, artist, prog["id"], title="not yet")
    ws = workers(2)
    pg.psql("UPDATE submissions SET review_warn_at = now() WHERE id = '%s'" % warn["id"])
    rows = lambda: int(pg.psql("SELECT count(*) FROM outbox WHERE event_type ="
                               " 'review.sla_warning' AND program_id = '%s'" % prog["id"]))
    assert wait_until(lambda: rows() >= 1, 4), ws[0].logtext()
    time.sleep(1.2)
    assert rows() == 1
    row = pg.psql("SELECT entity_id || ' ' || payload::text FROM outbox WHERE event_type ="
                  " 'review.sla_warning' AND program_id = '%s'" % prog["id"])
    assert warn["id"] in row and quiet["id"] not in row, row
    assert pg.psql("SELECT sla_warned_at IS NOT NULL FROM submissions WHERE id = '%s'"
                   % warn["id"]) == "t"
    assert pg.psql("SELECT sla_warned_at IS NULL FROM submissions WHERE id = '%s'"
                   % quiet["id"]) == "t"
    assert status_of(pg, warn["id"]) == "pending"
    assert stop_all(ws) == [0, 0]


def test_warning_point_is_80_percent_of_the_sla(api, people, pg, s1, artist):
    p, _ = enrolled_program(api, s1, [artist], review_sla_hours=10)
    s = submitted(api, artist, p["id"])
    secs = float(pg.psql("SELECT extract(epoch FROM review_warn_at - created_at) FROM"
                         " submissions WHERE id = '%s'" % s["id"]))
    assert abs(secs - 8 * 3600) <= 2, secs
    total = float(pg.psql("SELECT extract(epoch FROM review_due_at - created_at) FROM"
                          " submissions WHERE id = '%s'" % s["id"]))
    assert abs(total - 10 * 3600) <= 2, total


def test_appeal_moves_the_warning_point(api, people, pg, s1, artist):
    p, _ = enrolled_program(api, s1, [artist], review_sla_hours=10)
    x = reviewed(api, s1, artist, p["id"], "rejected")
    pg.psql("UPDATE submissions SET created_at = created_at - interval '5 hours'"
            " WHERE id = '%s'" % x["id"])
    assert appeal(api, artist, x["id"]).status == 200
    secs = float(pg.psql("SELECT extract(epoch FROM review_warn_at - appealed_at) FROM"
                         " submissions WHERE id = '%s'" % x["id"]))
    assert abs(secs - 8 * 3600) <= 2, secs
    total = float(pg.psql("SELECT extract(epoch FROM review_due_at - appealed_at) FROM"
                          " submissions WHERE id = '%s'" % x["id"]))
    assert abs(total - 10 * 3600) <= 2, total


def test_warned_submission_is_not_warned_again_when_deemed(api, people, prog, pg, workers,
                                                           artist):
    s = submitted(api, artist, prog["id"])
    ws = workers(1)
    pg.psql("UPDATE submissions SET review_warn_at = now(),"
            " review_due_at = now() + interval '2 seconds' WHERE id = '%s'" % s["id"])
    assert wait_until(lambda: status_of(pg, s["id"]) == "deemed_approved", 5), \
        ws[0].logtext()
    time.sleep(0.5)
    assert pg.psql("SELECT count(*) FROM outbox WHERE event_type = 'review.sla_warning'"
                   " AND program_id = '%s'" % prog["id"]) == "1"
    assert outbox_count(pg, "submission.deemed_approved", s["id"]) == 1
    assert stop_all(ws) == [0]


# ---- process ----

def test_sigterm_stops_the_worker_with_status_0(pg, workers):
    [w] = workers(1, FAIRBETA_WORKER_TICK_MS="5000", FAIRBETA_LOG_LEVEL="debug")
    time.sleep(0.5)
    assert w.running(), w.logtext()
    # exits by itself with 0 (stop_process kills it and raises after the timeout)
    assert w.stop(timeout=30) == 0
    lines = w.loglines()
    assert lines, "the worker wrote no log lines"
    for line in lines:
        assert isinstance(json.loads(line), dict), line


def test_idle_workers_stop_with_status_0(pg, workers):
    ws = workers(2)
    time.sleep(0.8)
    assert all(w.running() for w in ws), [w.logtext() for w in ws]
    assert stop_all(ws) == [0, 0]


def test_worker_deletes_idempotency_keys_older_than_48_hours_only(api, people, pg, workers):
    user = people["a"][0]["id"]
    pg.psql("INSERT INTO idempotency_keys (user_id, key, request_hash, state, status, body,"
            " created_at, locked_until) VALUES"
            " ('%s', 'purge-old', 'h', 'done', 201, '{}', now() - interval '49 hours', now()),"
            " ('%s', 'purge-day', 'h', 'done', 201, '{}', now() - interval '25 hours', now())"
            % (user, user))
    workers(1)
    assert wait_until(lambda: pg.psql("SELECT count(*) FROM idempotency_keys WHERE key ="
                                      " 'purge-old'") == "0", 5)
    assert pg.psql("SELECT count(*) FROM idempotency_keys WHERE key = 'purge-day'") == "1"
