"""Submissions (API.md, "Submissions and the review queue"): an enrolled artist
submits work, bug reports, feedback and logged sessions; the order of the
checks (visibility, enrollment, open program, accepted kinds, accepted terms)
and their problem types; who sees which submission; the lists and their
filters; withdrawing; Idempotency-Key replays; when a submission is
shareable; and recording exhibitions once per submission and venue.

The helpers at the top (submitted, claim, decide, approved_submission, ...)
are shared with test_review.py and test_worker.py."""

import collections
import datetime
import hashlib
import json
import uuid

import pytest

from harness import UUID_RE, create_users
from test_enrollments import enrolled, invite
from test_programs import (CLAUSES, TS_RE, assert_invalid, assert_slug, audit_actions,
                           list_all, make_program, open_program, parse_ts, publish_terms,
                           put_rates, run_at_once, set_status)

SUBMISSION_KEYS = {"id", "program_id", "artist_id", "kind", "title", "description", "media",
                   "hours", "generation", "status", "terms_version", "rate_card_version",
                   "review_due_at", "created_at", "updated_at", "decided_at", "shareable",
                   "claim", "appeal"}
DETAIL_KEYS = SUBMISSION_KEYS | {"decisions", "exhibitions"}
DECISION_KEYS = {"outcome", "reason", "clause_keys", "decided_by", "decided_at", "on_appeal"}
EXHIBITION_KEYS = {"id", "submission_id", "venue", "starts_at", "created_at"}
STATUSES = ["pending", "in_review", "approved", "deemed_approved", "rejected",
            "changes_requested", "appealed", "withdrawn"]
SLA_HOURS = 72

GENERATION = {"model": "Sora", "model_version": "turbo", "prompt": "A paper boat on a canal",
              "seed": 42, "resolution": "1080p", "duration_s": 12.5}


def media(i=0, **over):
    m = {"uri": "https://cdn.example.com/clips/%d.mp4" % i,
         "sha256": hashlib.sha256(b"clip %d" % i).hexdigest(),
         "bytes": 1048576 + i, "mime": "video/mp4"}
    m.update(over)
    return m


def work_body(**over):
    body = {"kind": "work", "title": "Paper boats", "description": "A short film.",
            "media": [media()], "generation": dict(GENERATION)}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def submit(api, token, pid, body=None, **kw):
    return api.request("POST", "/v1/programs/%s/submissions" % pid,
                       work_body() if body is None else body, token=token, **kw)


def submitted(api, token, pid, **over):
    """A new submission (201) made with work_body(**over)."""
    r = submit(api, token, pid, work_body(**over))
    assert r.status == 201, r
    return r.json


def get_submission(api, token, sid, **kw):
    return api.request("GET", "/v1/submissions/%s" % sid, token=token, **kw)


def detail(api, token, sid):
    r = get_submission(api, token, sid)
    assert r.status == 200, r
    return r.json


def withdraw(api, token, sid, body=None, **kw):
    return api.request("POST", "/v1/submissions/%s/withdraw" % sid, body, token=token, **kw)


def claim(api, token, pid, body=None, **kw):
    return api.request("POST", "/v1/programs/%s/queue/claim" % pid, body, token=token, **kw)


def claimed(api, token, pid, body=None):
    """Claims the next item and returns it (asserting 200)."""
    r = claim(api, token, pid, body)
    assert r.status == 200, r
    return r.json


def release(api, token, sid):
    return api.request("POST", "/v1/submissions/%s/release" % sid, token=token)


def decide(api, token, sid, outcome="approved", reason=None, clause_keys=None, **extra):
    body = dict({"outcome": outcome}, **extra)
    if reason is not None:
        body["reason"] = reason
    if clause_keys is not None:
        body["clause_keys"] = clause_keys
    return api.request("POST", "/v1/submissions/%s/decision" % sid, body, token=token)


def decided(api, token, sid, outcome="approved", reason=None, clause_keys=None):
    r = decide(api, token, sid, outcome, reason, clause_keys)
    assert r.status == 200, r
    assert r.json["status"] == outcome, r.json
    return r.json


def appeal(api, token, sid, statement="The clause cited does not apply to this work."):
    return api.request("POST", "/v1/submissions/%s/appeal" % sid, {"statement": statement},
                       token=token)


def exhibit(api, token, sid, venue="Gallery One", starts_at="2026-12-01T18:00:00Z"):
    return api.request("POST", "/v1/submissions/%s/exhibit" % sid,
                       {"venue": venue, "starts_at": starts_at}, token=token)


def reviewed(api, reviewer, artist, pid, outcome="approved", **over):
    """A new submission in an otherwise empty queue, claimed and decided."""
    s = submitted(api, artist, pid, **over)
    c = claimed(api, reviewer, pid)
    assert c["id"] == s["id"], (c, s)
    if outcome == "approved":
        return decided(api, reviewer, s["id"])
    return decided(api, reviewer, s["id"], outcome, "Shows a real person without consent.",
                   ["responsible-use"])


def approved_submission(api, reviewer, artist, pid):
    return reviewed(api, reviewer, artist, pid, "approved")


def enrolled_program(api, staff, tokens, **over):
    """An open program (terms v1, full rate card) in which every artist token is enrolled."""
    p = open_program(api, staff, **over)
    inv = invite(api, staff, p["id"], max_uses=1000)
    enrollments = [enrolled(api, t, inv["code"]) for t in tokens]
    return p, enrollments


def outbox_count(pg, event_type, entity_id):
    return int(pg.psql("SELECT count(*) FROM outbox WHERE event_type = '%s' AND entity_id = '%s'"
                       % (event_type, entity_id)))


def audit_count_of(pg, action, entity_id):
    return int(pg.psql("SELECT count(*) FROM audit_log WHERE action = '%s' AND entity_id = '%s'"
                       % (action, entity_id)))


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def about(ts, expected, slack=60):
    """ts (RFC 3339 text) lies within slack seconds of the datetime expected."""
    return abs((parse_ts(ts) - expected).total_seconds()) <= slack


@pytest.fixture(scope="module")
def people(api, admin):
    """{name: (user_json, token)}: staff, a second staff, finance and three artists."""
    return create_users(api, admin["token"],
                        staff="staff", staff2="staff", finance="finance", a="artist", b="artist", c="artist")


@pytest.fixture
def prog(api, staff, people):
    """An open program in which artists a and b are enrolled (c is not)."""
    p, _ = enrolled_program(api, staff, [people["a"][1], people["b"][1]])
    return p


# ---- POST /v1/programs/{id}/submissions: success ----

def test_create_work_submission_is_201_pending(api, people, prog, pg):
    user, token = people["a"]
    body = work_body()
    before = now_utc()
    r = submit(api, token, prog["id"], body)
    assert r.status == 201, r
    assert (r.header("Content-Type") or "").startswith("application/json")
    s = r.json
    assert set(s) == SUBMISSION_KEYS, s
    assert UUID_RE.match(s["id"])
    assert s["program_id"] == prog["id"]
    assert s["artist_id"] == user["id"]
    assert s["kind"] == "work"
    assert s["title"] == body["title"] and s["description"] == body["description"]
    assert s["media"] == body["media"]
    assert s["hours"] is None
    assert s["generation"] == GENERATION
    assert s["status"] == "pending"
    assert s["terms_version"] == 1 and s["rate_card_version"] == 1
    for k in ("review_due_at", "created_at", "updated_at"):
        assert TS_RE.match(s[k]), (k, s[k])
    assert about(s["created_at"], before, 30), s
    due = parse_ts(s["review_due_at"]) - parse_ts(s["created_at"])
    assert abs(due.total_seconds() - SLA_HOURS * 3600) <= 5, s
    assert s["decided_at"] is None
    assert s["shareable"] is False
    assert s["claim"] is None and s["appeal"] is None


def test_minimal_submission_gets_the_defaults(api, people, prog):
    r = submit(api, people["a"][1], prog["id"], {"kind": "feedback", "title": "Hands look odd"})
    assert r.status == 201, r
    s = r.json
    assert s["kind"] == "feedback"
    assert s["description"] == ""
    assert s["media"] == []
    assert s["hours"] is None and s["generation"] is None
    assert s["status"] == "pending"


@pytest.mark.parametrize("hours", [0.01, 7.75, 1, 24])
def test_session_submission_records_hours(api, people, prog, hours):
    r = submit(api, people["a"][1], prog["id"],
               {"kind": "session", "title": "Evening session", "hours": hours})
    assert r.status == 201, r
    assert r.json["kind"] == "session"
    assert r.json["hours"] == hours


def test_bug_report_is_accepted(api, people, prog):
    r = submit(api, people["b"][1], prog["id"],
               work_body(kind="bug_report", title="Crash at 4K", generation=None))
    assert r.status == 201, r
    assert r.json["kind"] == "bug_report"
    assert r.json["generation"] is None


def test_submission_limits_are_inclusive(api, people, prog):
    body = {"kind": "work", "title": "t" * 200, "description": "d" * 10000,
            "media": [media(i) for i in range(19)]
            + [media(19, uri="http://" + "u" * 2041, bytes=10 ** 12,
                     mime="video/" + "m" * 249)],
            "generation": {"model": "m" * 100, "model_version": "v" * 100,
                           "prompt": "p" * 10000, "seed": 4294967296,
                           "resolution": "r" * 32, "duration_s": 3600}}
    body["media"][0]["bytes"] = 0
    assert len(body["media"][19]["uri"]) == 2048 and len(body["media"][19]["mime"]) == 255
    r = submit(api, people["a"][1], prog["id"], body)
    assert r.status == 201, r
    s = r.json
    assert s["title"] == body["title"] and s["description"] == body["description"]
    assert s["media"] == body["media"]
    assert s["generation"] == body["generation"]


def test_generation_needs_only_a_model(api, people, prog):
    r = submit(api, people["a"][1], prog["id"],
               work_body(generation={"model": "Mochi 1", "duration_s": 0}))
    assert r.status == 201, r
    assert r.json["generation"]["model"] == "Mochi 1"
    assert r.json["generation"]["duration_s"] == 0


def test_submission_records_current_rate_card_and_accepted_terms(api, staff, people):
    p, [e] = enrolled_program(api, staff, [people["a"][1]])
    put_rates(api, staff, p["id"])
    publish_terms(api, staff, p["id"])
    r = api.request("POST", "/v1/enrollments/%s/accept-terms" % e["id"], {"version": 2},
                    token=people["a"][1])
    assert r.status == 200, r
    s = submitted(api, people["a"][1], p["id"])
    assert s["rate_card_version"] == 2
    assert s["terms_version"] == 2


def test_review_due_follows_the_program_sla(api, staff, people):
    p, _ = enrolled_program(api, staff, [people["a"][1]], review_sla_hours=5)
    s = submitted(api, people["a"][1], p["id"])
    due = parse_ts(s["review_due_at"]) - parse_ts(s["created_at"])
    assert abs(due.total_seconds() - 5 * 3600) <= 5, s
    assert about(s["review_due_at"], now_utc() + datetime.timedelta(hours=5))


def test_create_writes_audit_row_and_outbox_event(api, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    assert audit_actions(pg, s["id"]) == ["submission.create"]
    assert outbox_count(pg, "submission.created", s["id"]) == 1
    assert pg.psql("SELECT program_id FROM outbox WHERE event_type = 'submission.created'"
                   " AND entity_id = '%s'" % s["id"]) == prog["id"]


def test_new_submission_is_stored_pending(api, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    row = pg.psql("SELECT status, kind, artist_id, claimed_by IS NULL FROM submissions"
                  " WHERE id = '%s'" % s["id"])
    assert row == "pending|work|%s|t" % people["a"][0]["id"]


# ---- POST /v1/programs/{id}/submissions: refusals, in order ----

def test_submit_to_unknown_program_is_404(api, people):
    for pid in (str(uuid.uuid4()), "not-a-uuid"):
        assert_slug(submit(api, people["a"][1], pid), 404, "not-found")


def test_submit_to_a_draft_program_is_404_for_an_artist(api, staff, people, pg):
    p = make_program(api, staff)
    assert_slug(submit(api, people["a"][1], p["id"]), 404, "not-found")
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'" % p["id"]) == "0"


def test_submit_to_a_closed_program_never_joined_is_404(api, staff, people):
    p, _ = enrolled_program(api, staff, [people["a"][1]])
    set_status(api, staff, p["id"], "closed")
    assert_slug(submit(api, people["c"][1], p["id"]), 404, "not-found")


def test_artist_without_enrollment_is_403_not_enrolled(api, people, prog, pg):
    assert_slug(submit(api, people["c"][1], prog["id"]), 403, "not-enrolled")
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "0"


def test_withdrawn_enrollment_is_403_not_enrolled(api, staff, people):
    p, [e] = enrolled_program(api, staff, [people["a"][1]])
    r = api.request("POST", "/v1/enrollments/%s/withdraw" % e["id"], token=people["a"][1])
    assert r.status == 200, r
    assert_slug(submit(api, people["a"][1], p["id"]), 403, "not-enrolled")


def test_closed_program_is_409_program_not_open(api, staff, people, pg):
    p, _ = enrolled_program(api, staff, [people["a"][1]], submission_kinds=["work"])
    set_status(api, staff, p["id"], "closed")
    assert_slug(submit(api, people["a"][1], p["id"]), 409, "program-not-open")
    # checked before the kind
    r = submit(api, people["a"][1], p["id"], work_body(kind="feedback"))
    assert_slug(r, 409, "program-not-open")
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'" % p["id"]) == "0"


def test_kind_the_program_does_not_accept_is_422(api, staff, people, pg):
    p, _ = enrolled_program(api, staff, [people["a"][1]], submission_kinds=["work", "feedback"])
    r = submit(api, people["a"][1], p["id"], work_body(kind="bug_report"))
    assert_invalid(r, "kind")
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'" % p["id"]) == "0"
    assert submitted(api, people["a"][1], p["id"], kind="feedback")["kind"] == "feedback"


def test_terms_not_accepted_is_409_until_accepted(api, staff, people, pg):
    p, [e] = enrolled_program(api, staff, [people["a"][1]])
    publish_terms(api, staff, p["id"])
    r = submit(api, people["a"][1], p["id"])
    problem = assert_slug(r, 409, "terms-not-accepted")
    assert problem.get("latest_terms_version") == 2, problem
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'" % p["id"]) == "0"
    acc = api.request("POST", "/v1/enrollments/%s/accept-terms" % e["id"], {"version": 2},
                      token=people["a"][1])
    assert acc.status == 200, acc
    s = submitted(api, people["a"][1], p["id"])
    assert s["terms_version"] == 2 and s["status"] == "pending"


def test_kind_is_checked_before_terms(api, staff, people):
    p, _ = enrolled_program(api, staff, [people["a"][1]], submission_kinds=["work"])
    publish_terms(api, staff, p["id"])
    assert_invalid(submit(api, people["a"][1], p["id"], work_body(kind="feedback")), "kind")
    assert_slug(submit(api, people["a"][1], p["id"]), 409, "terms-not-accepted")


def test_body_is_checked_before_enrollment(api, people, prog):
    r = submit(api, people["c"][1], prog["id"], {"kind": "work"})
    assert_invalid(r, "title")


@pytest.mark.parametrize("who", ["staff", "finance", "admin"])
def test_only_artists_may_submit(api, people, admin, prog, pg, who):
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(submit(api, token, prog["id"]), 403, "forbidden")
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "0"


def test_submit_needs_a_token(api, prog):
    assert_slug(submit(api, None, prog["id"]), 401, "unauthorized")


def test_submit_malformed_json_is_400(api, people, prog):
    r = api.request("POST", "/v1/programs/%s/submissions" % prog["id"],
                    raw=b'{"kind": "work", "title": ', token=people["a"][1])
    assert_slug(r, 400, "malformed-json")


def test_submit_wrong_content_type_is_415(api, people, prog):
    r = api.request("POST", "/v1/programs/%s/submissions" % prog["id"],
                    raw=json.dumps(work_body()).encode(), token=people["a"][1],
                    content_type="text/plain")
    assert_slug(r, 415, "unsupported-media-type")


@pytest.mark.parametrize("over,field", [
    ({"kind": None}, "kind"),
    ({"kind": "video"}, "kind"),
    ({"kind": 3}, "kind"),
    ({"title": None}, "title"),
    ({"title": ""}, "title"),
    ({"title": "t" * 201}, "title"),
    ({"title": "two\nlines"}, "title"),
    ({"title": 5}, "title"),
    ({"description": "d" * 10001}, "description"),
    ({"description": 7}, "description"),
    ({"media": "https://cdn.example.com/a.mp4"}, "media"),
    ({"media": [media(i) for i in range(21)]}, "media"),
    ({"media": [{"sha256": "a" * 64, "bytes": 1, "mime": "video/mp4"}]}, "media[0].uri"),
    ({"media": [media(uri="")]}, "media[0].uri"),
    ({"media": [media(uri="ftp://cdn.example.com/a.mp4")]}, "media[0].uri"),
    ({"media": [media(uri="cdn.example.com/a.mp4")]}, "media[0].uri"),
    ({"media": [media(uri="https://" + "u" * 2041)]}, "media[0].uri"),
    ({"media": [media(), media(1, sha256="A" * 64)]}, "media[1].sha256"),
    ({"media": [media(sha256="a" * 63)]}, "media[0].sha256"),
    ({"media": [media(sha256="g" * 64)]}, "media[0].sha256"),
    ({"media": [media(bytes=-1)]}, "media[0].bytes"),
    ({"media": [media(bytes=10 ** 12 + 1)]}, "media[0].bytes"),
    ({"media": [media(bytes=1.5)]}, "media[0].bytes"),
    ({"media": [media(bytes="10")]}, "media[0].bytes"),
    ({"media": [media(mime="video")]}, "media[0].mime"),
    ({"media": [media(mime="a/")]}, "media[0].mime"),
    ({"media": [media(mime="video/" + "m" * 250)]}, "media[0].mime"),
    ({"media": [media(colour="red")]}, "media[0].colour"),
    ({"hours": 1}, "hours"),
    ({"generation": "Sora"}, "generation"),
    ({"generation": {"model_version": "turbo"}}, "generation.model"),
    ({"generation": {"model": ""}}, "generation.model"),
    ({"generation": {"model": "m" * 101}}, "generation.model"),
    ({"generation": {"model": "Sora", "model_version": "v" * 101}}, "generation.model_version"),
    ({"generation": {"model": "Sora", "prompt": "p" * 10001}}, "generation.prompt"),
    ({"generation": {"model": "Sora", "seed": 1.5}}, "generation.seed"),
    ({"generation": {"model": "Sora", "seed": "42"}}, "generation.seed"),
    ({"generation": {"model": "Sora", "resolution": ""}}, "generation.resolution"),
    ({"generation": {"model": "Sora", "resolution": "r" * 33}}, "generation.resolution"),
    ({"generation": {"model": "Sora", "duration_s": -1}}, "generation.duration_s"),
    ({"generation": {"model": "Sora", "duration_s": 3600.5}}, "generation.duration_s"),
    ({"generation": {"model": "Sora", "duration_s": "12"}}, "generation.duration_s"),
    ({"generation": {"model": "Sora", "sampler": "ddim"}}, "generation.sampler"),
    ({"status": "approved"}, "status"),
    ({"artist_id": str(uuid.uuid4())}, "artist_id"),
])
def test_submission_field_problems_are_422_naming_the_field(api, people, prog, pg, over, field):
    body = work_body(**over)
    r = submit(api, people["a"][1], prog["id"], body)
    assert_invalid(r, field)
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "0"


@pytest.mark.parametrize("hours", [None, 0, -1, 24.01, 25, 1.234, "2", True])
def test_session_hours_problems_are_422(api, people, prog, hours):
    body = {"kind": "session", "title": "Night session"}
    if hours is not None:
        body["hours"] = hours
    assert_invalid(submit(api, people["a"][1], prog["id"], body), "hours")


@pytest.mark.parametrize("kind", ["work", "bug_report", "feedback"])
def test_hours_are_refused_for_other_kinds(api, people, prog, kind):
    r = submit(api, people["a"][1], prog["id"], {"kind": kind, "title": "x", "hours": 2})
    assert_invalid(r, "hours")


def test_missing_kind_and_title_are_both_named(api, people, prog):
    assert_invalid(submit(api, people["a"][1], prog["id"], {}), "kind", "title")


# ---- Idempotency-Key ----

def test_same_key_and_body_replays_the_first_submission(api, people, prog, pg):
    token = people["a"][1]
    key = {"Idempotency-Key": "sub-%s" % uuid.uuid4()}
    first = submit(api, token, prog["id"], work_body(), headers=key)
    assert first.status == 201, first
    assert first.header("Idempotent-Replayed") in (None, "false"), first.headers
    again = submit(api, token, prog["id"], work_body(), headers=key)
    assert again.status == 201, again
    assert again.header("Idempotent-Replayed") == "true", again.headers
    assert again.json == first.json
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "1"
    assert outbox_count(pg, "submission.created", first.json["id"]) == 1
    assert audit_actions(pg, first.json["id"]) == ["submission.create"]


def test_same_key_with_a_different_body_is_422(api, people, prog, pg):
    token = people["a"][1]
    key = {"Idempotency-Key": "sub-%s" % uuid.uuid4()}
    assert submit(api, token, prog["id"], work_body(), headers=key).status == 201
    r = submit(api, token, prog["id"], work_body(title="Another title"), headers=key)
    assert_invalid(r, "Idempotency-Key")
    assert r.header("Idempotent-Replayed") != "true"
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "1"


def test_different_keys_make_different_submissions(api, people, prog, pg):
    token = people["a"][1]
    ids = {submit(api, token, prog["id"], work_body(),
                  headers={"Idempotency-Key": "k-%s" % uuid.uuid4()}).json["id"]
           for _ in range(2)}
    assert len(ids) == 2
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "2"


def test_idempotency_keys_are_scoped_to_the_artist(api, people, prog):
    key = {"Idempotency-Key": "shared-%s" % uuid.uuid4()}
    ra = submit(api, people["a"][1], prog["id"], work_body(), headers=key)
    rb = submit(api, people["b"][1], prog["id"], work_body(), headers=key)
    assert ra.status == 201 and rb.status == 201, (ra, rb)
    assert rb.header("Idempotent-Replayed") != "true"
    assert ra.json["id"] != rb.json["id"]
    assert rb.json["artist_id"] == people["b"][0]["id"]


def test_idempotency_key_of_200_printable_characters_is_accepted(api, people, prog):
    key = {"Idempotency-Key": ("~K!" + uuid.uuid4().hex * 7)[:200]}
    first = submit(api, people["a"][1], prog["id"], work_body(), headers=key)
    assert first.status == 201, first
    again = submit(api, people["a"][1], prog["id"], work_body(), headers=key)
    assert again.status == 201 and again.json["id"] == first.json["id"]


@pytest.mark.parametrize("key", ["k" * 201, "caf\u00e9-key"])
def test_bad_idempotency_key_is_422(api, people, prog, pg, key):
    r = submit(api, people["a"][1], prog["id"], work_body(),
               headers={"Idempotency-Key": key})
    assert_invalid(r, "Idempotency-Key")
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "0"


def test_simultaneous_duplicates_end_with_one_submission(api, people, prog, pg):
    token = people["a"][1]
    key = {"Idempotency-Key": "race-%s" % uuid.uuid4()}
    results = run_at_once(10, lambda i: submit(api, token, prog["id"], work_body(),
                                               headers=key))
    statuses = collections.Counter(r.status for r in results)
    assert set(statuses) <= {201, 409}, results
    assert statuses[201] >= 1, statuses
    assert len({r.json["id"] for r in results if r.status == 201}) == 1
    assert pg.psql("SELECT count(*) FROM submissions WHERE program_id = '%s'"
                   % prog["id"]) == "1"
    later = submit(api, token, prog["id"], work_body(), headers=key)
    assert later.status == 201 and later.header("Idempotent-Replayed") == "true", later


# ---- GET /v1/submissions/{id} ----

def test_owner_gets_the_submission_with_history_and_etag(api, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    r = get_submission(api, people["a"][1], s["id"])
    assert r.status == 200, r
    d = r.json
    assert set(d) == DETAIL_KEYS, d
    assert d["decisions"] == [] and d["exhibitions"] == []
    assert {k: d[k] for k in SUBMISSION_KEYS} == s
    assert r.header("ETag"), r.headers


@pytest.mark.parametrize("who", ["staff", "admin"])
def test_staff_and_admin_get_any_submission(api, people, admin, prog, who):
    s = submitted(api, people["a"][1], prog["id"])
    token = admin["token"] if who == "admin" else people["staff"][1]
    r = get_submission(api, token, s["id"])
    assert r.status == 200, r
    assert r.json["id"] == s["id"] and r.json["artist_id"] == people["a"][0]["id"]


def test_another_artists_submission_is_404(api, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    r = get_submission(api, people["b"][1], s["id"])
    assert_slug(r, 404, "not-found")
    assert s["title"] not in r.body.decode()
    assert_slug(get_submission(api, people["c"][1], s["id"]), 404, "not-found")


def test_finance_may_not_read_submissions(api, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert_slug(get_submission(api, people["finance"][1], s["id"]), 403, "forbidden")
    assert_slug(api.request("GET", "/v1/submissions", token=people["finance"][1]), 403,
                "forbidden")


@pytest.mark.parametrize("sid", ["not-a-uuid", "12345", str(uuid.uuid4())])
def test_unknown_or_malformed_submission_id_is_404(api, staff, sid):
    assert_slug(get_submission(api, staff, sid), 404, "not-found")


def test_get_submission_needs_a_token(api, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert_slug(get_submission(api, None, s["id"]), 401, "unauthorized")


def test_artist_never_sees_the_claim(api, staff, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    c = claimed(api, staff, prog["id"])
    assert c["id"] == s["id"]
    mine = detail(api, people["a"][1], s["id"])
    assert mine["status"] == "in_review"
    assert mine["claim"] is None
    listed = list_all(api, people["a"][1], "/v1/submissions", program_id=prog["id"])
    assert [(i["id"], i["claim"]) for i in listed] == [(s["id"], None)]
    theirs = detail(api, staff, s["id"])
    assert theirs["claim"]["reviewer_id"] == people["staff"][0]["id"]
    assert TS_RE.match(theirs["claim"]["lease_expires_at"])


def test_etag_changes_when_the_submission_changes(api, people, prog):
    token = people["a"][1]
    s = submitted(api, token, prog["id"])
    tag = get_submission(api, token, s["id"]).header("ETag")
    assert get_submission(api, token, s["id"]).header("ETag") == tag
    assert withdraw(api, token, s["id"]).status == 200
    new = get_submission(api, token, s["id"]).header("ETag")
    assert new and new != tag, (tag, new)


# ---- GET /v1/submissions ----

def test_artist_lists_only_their_own(api, people, prog):
    mine = [submitted(api, people["a"][1], prog["id"])["id"] for _ in range(2)]
    theirs = submitted(api, people["b"][1], prog["id"])["id"]
    items = list_all(api, people["a"][1], "/v1/submissions")
    ids = [i["id"] for i in items]
    assert set(mine) <= set(ids)
    assert theirs not in ids
    assert all(i["artist_id"] == people["a"][0]["id"] for i in items)
    scoped = list_all(api, people["b"][1], "/v1/submissions", program_id=prog["id"])
    assert [i["id"] for i in scoped] == [theirs]


@pytest.mark.parametrize("who", ["staff", "admin"])
def test_staff_list_every_artists_submissions_newest_first(api, people, admin, prog, who):
    made = [submitted(api, people["a" if i % 2 else "b"][1], prog["id"], title="n%d" % i)
            for i in range(5)]
    token = admin["token"] if who == "admin" else people["staff"][1]
    items = list_all(api, token, "/v1/submissions", limit=2, program_id=prog["id"])
    assert [i["id"] for i in items] == [s["id"] for s in reversed(made)]
    for item in items:
        assert set(item) == SUBMISSION_KEYS, item
    assert items[0] == made[-1]


def test_list_filters_by_status_and_kind(api, people, prog):
    token = people["a"][1]
    w1 = submitted(api, token, prog["id"])
    w2 = submitted(api, token, prog["id"])
    f1 = submitted(api, token, prog["id"], kind="feedback", generation=None)
    assert withdraw(api, token, w1["id"]).status == 200
    by = lambda **q: [i["id"] for i in list_all(api, token, "/v1/submissions",
                                                program_id=prog["id"], **q)]
    assert by(status="withdrawn") == [w1["id"]]
    assert by(status="pending") == [f1["id"], w2["id"]]
    assert by(kind="feedback") == [f1["id"]]
    assert by(kind="work") == [w2["id"], w1["id"]]
    assert by(kind="work", status="pending") == [w2["id"]]
    assert by(status="approved") == []


def test_list_default_page_and_cursor(api, people, prog):
    token = people["a"][1]
    made = [submitted(api, token, prog["id"], title="p%d" % i)["id"] for i in range(3)]
    r = api.request("GET", "/v1/submissions?limit=1&program_id=%s" % prog["id"], token=token)
    assert r.status == 200, r
    assert set(r.json) == {"items", "next_cursor"}
    assert [i["id"] for i in r.json["items"]] == [made[-1]]
    assert r.json["next_cursor"]
    r2 = api.request("GET", "/v1/submissions?limit=1&program_id=%s&cursor=%s"
                     % (prog["id"], r.json["next_cursor"]), token=token)
    assert [i["id"] for i in r2.json["items"]] == [made[1]]


@pytest.mark.parametrize("query,field", [
    ("program_id=nope", "program_id"), ("status=done", "status"), ("kind=video", "kind"),
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"),
    ("colour=blue", "colour"),
])
def test_list_bad_query_is_422(api, people, query, field):
    for token in (people["staff"][1], people["a"][1]):
        assert_invalid(api.request("GET", "/v1/submissions?" + query, token=token), field)


@pytest.mark.parametrize("status", STATUSES)
def test_list_accepts_every_status(api, staff, status):
    r = api.request("GET", "/v1/submissions?limit=1&status=" + status, token=staff)
    assert r.status == 200, r
    assert all(i["status"] == status for i in r.json["items"])


def test_list_needs_a_token(api):
    assert_slug(api.request("GET", "/v1/submissions"), 401, "unauthorized")


# ---- withdraw ----

def test_owner_withdraws_a_pending_submission(api, people, prog, pg):
    token = people["a"][1]
    s = submitted(api, token, prog["id"])
    r = withdraw(api, token, s["id"])
    assert r.status == 200, r
    w = r.json
    assert set(w) >= SUBMISSION_KEYS, w
    assert w["id"] == s["id"] and w["status"] == "withdrawn"
    assert w["updated_at"] >= s["updated_at"]
    assert detail(api, token, s["id"])["status"] == "withdrawn"
    assert audit_actions(pg, s["id"]) == ["submission.create", "submission.withdraw"]
    assert_slug(withdraw(api, token, s["id"]), 409, "conflict")
    assert audit_count_of(pg, "submission.withdraw", s["id"]) == 1


def test_withdraw_with_an_empty_object(api, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    r = withdraw(api, people["a"][1], s["id"], {})
    assert r.status == 200, r
    assert r.json["status"] == "withdrawn"


def test_withdraw_while_in_review_is_409(api, staff, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert claimed(api, staff, prog["id"])["id"] == s["id"]
    assert_slug(withdraw(api, people["a"][1], s["id"]), 409, "conflict")
    assert detail(api, staff, s["id"])["status"] == "in_review"


def test_withdraw_after_a_decision_is_409(api, staff, people, prog):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    assert_slug(withdraw(api, people["a"][1], s["id"]), 409, "conflict")
    assert detail(api, staff, s["id"])["status"] == "approved"


def test_withdrawn_submission_leaves_the_queue(api, staff, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert withdraw(api, people["a"][1], s["id"]).status == 200
    r = claim(api, staff, prog["id"])
    assert r.status == 204, r


def test_others_may_not_withdraw(api, staff, admin, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert_slug(withdraw(api, people["b"][1], s["id"]), 404, "not-found")
    assert_slug(withdraw(api, staff, s["id"]), 403, "forbidden")
    assert_slug(withdraw(api, admin["token"], s["id"]), 403, "forbidden")
    assert_slug(withdraw(api, people["finance"][1], s["id"]), 403, "forbidden")
    assert_slug(withdraw(api, None, s["id"]), 401, "unauthorized")
    assert_slug(withdraw(api, people["a"][1], str(uuid.uuid4())), 404, "not-found")
    assert_slug(withdraw(api, people["a"][1], "nope"), 404, "not-found")
    assert detail(api, staff, s["id"])["status"] == "pending"


# ---- shareable ----

def test_open_sharing_program_makes_submissions_shareable(api, staff, people):
    p, _ = enrolled_program(api, staff, [people["a"][1]], sharing="open")
    s = submitted(api, people["a"][1], p["id"])
    assert s["status"] == "pending" and s["shareable"] is True
    assert detail(api, people["a"][1], s["id"])["shareable"] is True


def confidential_program(api, staff, tokens, until):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"], CLAUSES, confidential_until=until)
    put_rates(api, staff, p["id"])
    set_status(api, staff, p["id"], "open")
    inv = invite(api, staff, p["id"])
    for t in tokens:
        enrolled(api, t, inv["code"])
    return p


def test_passed_confidential_until_makes_submissions_shareable(api, staff, people):
    p = confidential_program(api, staff, [people["a"][1]], "2020-01-01T00:00:00Z")
    s = submitted(api, people["a"][1], p["id"])
    assert s["status"] == "pending" and s["shareable"] is True


def test_future_confidential_until_keeps_submissions_confidential(api, staff, people):
    p = confidential_program(api, staff, [people["a"][1]], "2099-01-01T00:00:00Z")
    s = submitted(api, people["a"][1], p["id"])
    assert s["shareable"] is False


def test_approval_makes_a_submission_shareable(api, staff, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert s["shareable"] is False
    claimed(api, staff, prog["id"])
    assert detail(api, staff, s["id"])["shareable"] is False
    d = decided(api, staff, s["id"])
    assert d["shareable"] is True
    assert detail(api, people["a"][1], s["id"])["shareable"] is True


@pytest.mark.parametrize("outcome", ["rejected", "changes_requested"])
def test_rejection_does_not_make_a_submission_shareable(api, staff, people, prog, outcome):
    s = reviewed(api, staff, people["a"][1], prog["id"], outcome)
    assert s["status"] == outcome and s["shareable"] is False


# ---- exhibit ----

def test_exhibit_an_approved_submission(api, staff, people, prog, pg):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    r = exhibit(api, staff, s["id"], "Gallery One", "2026-12-01T18:00:00Z")
    assert r.status == 201, r
    x = r.json
    assert set(x) == EXHIBITION_KEYS, x
    assert UUID_RE.match(x["id"])
    assert x["submission_id"] == s["id"] and x["venue"] == "Gallery One"
    assert TS_RE.match(x["starts_at"]) and TS_RE.match(x["created_at"]), x
    assert parse_ts(x["starts_at"]) == parse_ts("2026-12-01T18:00:00Z")
    shown = detail(api, people["a"][1], s["id"])["exhibitions"]
    assert shown == [{k: x[k] for k in ("id", "venue", "starts_at", "created_at")}]
    assert audit_count_of(pg, "submission.exhibit", s["id"]) + \
        audit_count_of(pg, "submission.exhibit", x["id"]) == 1
    assert pg.psql("SELECT count(*) FROM exhibitions WHERE submission_id = '%s'"
                   % s["id"]) == "1"


def test_exhibit_once_per_venue_ignoring_case(api, staff, admin, people, prog):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    assert exhibit(api, staff, s["id"], "Gallery One").status == 201
    assert_slug(exhibit(api, staff, s["id"], "Gallery One", "2027-01-01T10:00:00Z"), 409,
                "conflict")
    assert_slug(exhibit(api, admin["token"], s["id"], "GALLERY one"), 409, "conflict")
    other = exhibit(api, admin["token"], s["id"], "Kunsthalle Basel")
    assert other.status == 201, other
    venues = [x["venue"] for x in detail(api, staff, s["id"])["exhibitions"]]
    assert sorted(venues) == ["Gallery One", "Kunsthalle Basel"]


def test_same_venue_for_another_submission_is_fine(api, staff, people, prog):
    s1 = approved_submission(api, staff, people["a"][1], prog["id"])
    s2 = approved_submission(api, staff, people["b"][1], prog["id"])
    assert exhibit(api, staff, s1["id"], "Tate Modern").status == 201
    assert exhibit(api, staff, s2["id"], "Tate Modern").status == 201


def test_simultaneous_exhibits_at_one_venue_record_one(api, staff, people, prog, pg):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    results = run_at_once(8, lambda i: exhibit(api, staff, s["id"],
                                               "Venue X" if i % 2 else "VENUE x"))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {201: 1, 409: 7}, statuses
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "conflict")
    assert pg.psql("SELECT count(*) FROM exhibitions WHERE submission_id = '%s'"
                   % s["id"]) == "1"


@pytest.mark.parametrize("outcome", ["pending", "rejected", "changes_requested", "withdrawn"])
def test_exhibit_needs_an_approved_submission(api, staff, people, prog, pg, outcome):
    if outcome == "pending":
        s = submitted(api, people["a"][1], prog["id"])
    elif outcome == "withdrawn":
        s = submitted(api, people["a"][1], prog["id"])
        assert withdraw(api, people["a"][1], s["id"]).status == 200
    else:
        s = reviewed(api, staff, people["a"][1], prog["id"], outcome)
    assert_slug(exhibit(api, staff, s["id"]), 409, "conflict")
    assert pg.psql("SELECT count(*) FROM exhibitions WHERE submission_id = '%s'"
                   % s["id"]) == "0"


@pytest.mark.parametrize("body,field", [
    ({"starts_at": "2026-12-01T18:00:00Z"}, "venue"),
    ({"venue": "", "starts_at": "2026-12-01T18:00:00Z"}, "venue"),
    ({"venue": "v" * 201, "starts_at": "2026-12-01T18:00:00Z"}, "venue"),
    ({"venue": "two\nlines", "starts_at": "2026-12-01T18:00:00Z"}, "venue"),
    ({"venue": 5, "starts_at": "2026-12-01T18:00:00Z"}, "venue"),
    ({"venue": "Gallery"}, "starts_at"),
    ({"venue": "Gallery", "starts_at": "tomorrow"}, "starts_at"),
    ({"venue": "Gallery", "starts_at": "2026-12-01"}, "starts_at"),
    ({"venue": "Gallery", "starts_at": "2026-12-01T18:00:00Z", "fee": 1}, "fee"),
])
def test_exhibit_problems_are_422(api, staff, people, prog, pg, body, field):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    r = api.request("POST", "/v1/submissions/%s/exhibit" % s["id"], body, token=staff)
    assert_invalid(r, field)
    assert pg.psql("SELECT count(*) FROM exhibitions WHERE submission_id = '%s'"
                   % s["id"]) == "0"


def test_exhibit_venue_of_200_characters_is_accepted(api, staff, people, prog):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    r = exhibit(api, staff, s["id"], "v" * 200)
    assert r.status == 201, r
    assert r.json["venue"] == "v" * 200


def test_exhibit_roles_and_unknown_ids(api, staff, people, prog, pg):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    for who in ("a", "finance"):
        assert_slug(exhibit(api, people[who][1], s["id"]), 403, "forbidden")
    assert_slug(exhibit(api, None, s["id"]), 401, "unauthorized")
    assert_slug(exhibit(api, staff, str(uuid.uuid4())), 404, "not-found")
    assert_slug(exhibit(api, staff, "nope"), 404, "not-found")
    assert pg.psql("SELECT count(*) FROM exhibitions WHERE submission_id = '%s'"
                   % s["id"]) == "0"


def test_exhibit_malformed_json_and_content_type(api, staff, people, prog):
    s = approved_submission(api, staff, people["a"][1], prog["id"])
    path = "/v1/submissions/%s/exhibit" % s["id"]
    assert_slug(api.request("POST", path, raw=b'{"venue": ', token=staff), 400,
                "malformed-json")
    assert_slug(api.request("POST", path, raw=b'{"venue": "x", "starts_at": '
                            b'"2026-12-01T18:00:00Z"}', token=staff,
                            content_type="text/plain"), 415, "unsupported-media-type")
