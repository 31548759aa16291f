"""The review queue (API.md, "Submissions and the review queue"): claiming the
next submission under a lease (earliest deadline first, appeals first among
equals, an optional kind filter), releasing it, expired leases returning the
item to the queue, the queue counters, decisions and the clauses a rejection
must cite from the terms the artist accepted, appeals within 14 days decided
by someone else, and twenty reviewers working one queue at once."""

import collections
import concurrent.futures
import datetime
import time
import uuid

import pytest

from harness import Api
from test_programs import (CLAUSES, TS_RE, assert_invalid, assert_slug, audit_actions, make_program,
                           parse_ts, publish_terms, put_rates, run_at_once, set_status)
from test_enrollments import enrolled, invite
from test_submissions import (DECISION_KEYS, SUBMISSION_KEYS, about, appeal, audit_count_of,
                              claim, claimed, decide, decided, detail, enrolled_program,
                              now_utc, outbox_count, release, reviewed, submit, submitted,
                              withdraw)

REASON = "Depicts a real person without their consent."
QUEUE_KEYS = {"program_id", "counts", "oldest_review_due_at", "overdue", "open_claims"}


@pytest.fixture(scope="module")
def people(api, admin):
    """{name: (user_json, token)}: three staff, finance and two artists."""
    names = ["s1", "s2", "s3", "finance", "a", "b"]
    roles = ["staff", "staff", "staff", "finance", "artist", "artist"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
        made = list(ex.map(lambda role: api.create_user(admin["token"], role), roles))
    return dict(zip(names, made))


@pytest.fixture(scope="module")
def s1(people):
    return people["s1"][1]


@pytest.fixture(scope="module")
def s2(people):
    return people["s2"][1]


@pytest.fixture(scope="module")
def artist(people):
    return people["a"][1]


@pytest.fixture
def prog(api, s1, people):
    """An open program (SLA 72 h) in which artists a and b are enrolled."""
    p, _ = enrolled_program(api, s1, [people["a"][1], people["b"][1]])
    return p


@pytest.fixture(scope="module")
def short_api(pg, api):
    """A second server over the same database whose claim leases last one second."""
    server = Api(pg.url, FAIRBETA_CLAIM_LEASE_S="1")
    try:
        yield server.start()
    finally:
        server.stop()


def set_due(pg, sid, sql_time):
    pg.psql("UPDATE submissions SET review_due_at = %s WHERE id = '%s'" % (sql_time, sid))


def queue(api, token, pid):
    return api.request("GET", "/v1/programs/%s/queue" % pid, token=token)


def rejected(api, reviewer, artist, pid):
    return reviewed(api, reviewer, artist, pid, "rejected")


def age_decision(pg, sid, days):
    """Moves the submission's decision `days` into the past (decisions rows are
    append-only; the submission's decided_at is when it was rejected)."""
    pg.psql("UPDATE submissions SET decided_at = now() - interval '%d days' WHERE id = '%s'"
            % (days, sid))


# ---- claim ----

def test_claim_hands_out_the_submission_under_a_lease(api, s1, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    before = now_utc()
    r = claim(api, s1, prog["id"])
    assert r.status == 200, r
    c = r.json
    assert set(c) >= SUBMISSION_KEYS, c
    assert c["id"] == s["id"]
    assert c["status"] == "in_review"
    assert set(c["claim"]) == {"reviewer_id", "lease_expires_at"}, c["claim"]
    assert c["claim"]["reviewer_id"] == people["s1"][0]["id"]
    assert TS_RE.match(c["claim"]["lease_expires_at"])
    lease = (parse_ts(c["claim"]["lease_expires_at"]) - before).total_seconds()
    assert 890 <= lease <= 920, lease
    assert c["decided_at"] is None
    assert detail(api, s1, s["id"])["claim"] == c["claim"]
    assert "submission.claim" in audit_actions(pg, s["id"])
    row = pg.psql("SELECT status, claimed_by FROM submissions WHERE id = '%s'" % s["id"])
    assert row == "in_review|%s" % people["s1"][0]["id"]


def test_claim_on_an_empty_queue_is_204(api, s1, prog):
    r = claim(api, s1, prog["id"])
    assert r.status == 204, r
    assert r.body == b""


def test_claim_with_an_empty_object_body(api, s1, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    r = claim(api, s1, prog["id"], {})
    assert r.status == 200, r
    assert r.json["id"] == s["id"]


def test_an_item_is_handed_to_one_reviewer_only(api, s1, s2, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert claimed(api, s1, prog["id"])["id"] == s["id"]
    assert claim(api, s2, prog["id"]).status == 204
    assert claim(api, s1, prog["id"]).status == 204


def test_claim_takes_the_earliest_deadline_first(api, s1, people, prog, pg):
    subs = [submitted(api, people["a"][1], prog["id"], title="d%d" % i) for i in range(3)]
    for s, hours in zip(subs, (30, 10, 20)):
        set_due(pg, s["id"], "now() + interval '%d hours'" % hours)
    got = [claimed(api, s1, prog["id"])["id"] for _ in range(3)]
    assert got == [subs[1]["id"], subs[2]["id"], subs[0]["id"]]
    assert claim(api, s1, prog["id"]).status == 204


def test_appeals_come_first_among_equal_deadlines(api, s1, s2, people, prog, pg):
    older = submitted(api, people["b"][1], prog["id"], title="older pending")
    set_due(pg, older["id"], "now() + interval '300 hours'")
    x = rejected(api, s1, people["a"][1], prog["id"])
    assert appeal(api, people["a"][1], x["id"]).status == 200
    pg.psql("UPDATE submissions SET review_due_at = '2031-01-01T00:00:00Z'"
            " WHERE id IN ('%s', '%s')" % (older["id"], x["id"]))
    first = claimed(api, s2, prog["id"])
    assert first["id"] == x["id"] and first["status"] == "in_review"
    assert claimed(api, s2, prog["id"])["id"] == older["id"]


def test_claim_filters_by_kind(api, s1, people, prog):
    w = submitted(api, people["a"][1], prog["id"])
    f = submitted(api, people["a"][1], prog["id"], kind="feedback", generation=None)
    assert claim(api, s1, prog["id"], {"kinds": ["session", "bug_report"]}).status == 204
    assert claimed(api, s1, prog["id"], {"kinds": ["feedback"]})["id"] == f["id"]
    assert claim(api, s1, prog["id"], {"kinds": ["feedback"]}).status == 204
    assert claimed(api, s1, prog["id"], {"kinds": ["work", "feedback", "session",
                                                   "bug_report"]})["id"] == w["id"]


def test_decided_and_withdrawn_submissions_are_not_claimable(api, s1, people, prog):
    a = people["a"][1]
    reviewed(api, s1, a, prog["id"], "approved")
    reviewed(api, s1, a, prog["id"], "rejected")
    reviewed(api, s1, a, prog["id"], "changes_requested")
    w = submitted(api, a, prog["id"])
    assert withdraw(api, a, w["id"]).status == 200
    assert claim(api, s1, prog["id"]).status == 204


def test_admin_may_claim(api, admin, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    c = claimed(api, admin["token"], prog["id"])
    assert c["id"] == s["id"]
    assert c["claim"]["reviewer_id"] != people["s1"][0]["id"]


@pytest.mark.parametrize("body,field", [
    ({"kinds": []}, "kinds"),
    ({"kinds": ["video"]}, "kinds"),
    ({"kinds": ["work", "work"]}, "kinds"),
    ({"kinds": "work"}, "kinds"),
    ({"kinds": [1]}, "kinds"),
    ({"kinds": ["work"], "limit": 1}, "limit"),
])
def test_claim_body_problems_are_422(api, s1, people, prog, pg, body, field):
    s = submitted(api, people["a"][1], prog["id"])
    assert_invalid(claim(api, s1, prog["id"], body), field)
    assert pg.psql("SELECT status FROM submissions WHERE id = '%s'" % s["id"]) == "pending"


def test_claim_malformed_json_and_content_type(api, s1, prog):
    path = "/v1/programs/%s/queue/claim" % prog["id"]
    assert_slug(api.request("POST", path, raw=b'{"kinds": [', token=s1), 400, "malformed-json")
    assert_slug(api.request("POST", path, raw=b'{"kinds": ["work"]}', token=s1,
                            content_type="text/plain"), 415, "unsupported-media-type")


def test_claim_roles_and_unknown_programs(api, s1, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    for who in ("a", "finance"):
        assert_slug(claim(api, people[who][1], prog["id"]), 403, "forbidden")
    assert_slug(claim(api, None, prog["id"]), 401, "unauthorized")
    assert_slug(claim(api, s1, str(uuid.uuid4())), 404, "not-found")
    assert_slug(claim(api, s1, "not-a-uuid"), 404, "not-found")
    assert pg.psql("SELECT status FROM submissions WHERE id = '%s'" % s["id"]) == "pending"


# ---- release ----

def test_holder_releases_and_another_reviewer_claims(api, s1, s2, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    r = release(api, s1, s["id"])
    assert r.status == 200, r
    assert r.json["id"] == s["id"]
    assert r.json["status"] == "pending" and r.json["claim"] is None
    assert detail(api, s1, s["id"])["claim"] is None
    c = claimed(api, s2, prog["id"])
    assert c["id"] == s["id"] and c["claim"]["reviewer_id"] == people["s2"][0]["id"]


def test_release_by_someone_else_is_409(api, s1, s2, admin, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    assert_slug(release(api, s2, s["id"]), 409, "not-claim-holder")
    assert_slug(release(api, admin["token"], s["id"]), 409, "not-claim-holder")
    d = detail(api, s1, s["id"])
    assert d["status"] == "in_review"
    assert d["claim"]["reviewer_id"] == people["s1"][0]["id"]


def test_release_of_an_unclaimed_or_decided_submission_is_409(api, s1, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert_slug(release(api, s1, s["id"]), 409, "not-claim-holder")
    claimed(api, s1, prog["id"])
    decided(api, s1, s["id"])
    assert_slug(release(api, s1, s["id"]), 409, "not-claim-holder")
    assert detail(api, s1, s["id"])["status"] == "approved"


def test_released_appeal_goes_back_to_appealed(api, s1, s2, people, prog):
    x = rejected(api, s1, people["a"][1], prog["id"])
    assert appeal(api, people["a"][1], x["id"]).status == 200
    assert claimed(api, s2, prog["id"])["id"] == x["id"]
    r = release(api, s2, x["id"])
    assert r.status == 200, r
    assert r.json["status"] == "appealed" and r.json["claim"] is None
    assert r.json["appeal"]["statement"]


def test_release_roles_and_unknown_ids(api, s1, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    for who in ("a", "finance"):
        assert_slug(release(api, people[who][1], s["id"]), 403, "forbidden")
    assert_slug(release(api, None, s["id"]), 401, "unauthorized")
    assert_slug(release(api, s1, str(uuid.uuid4())), 404, "not-found")
    assert_slug(release(api, s1, "nope"), 404, "not-found")
    assert detail(api, s1, s["id"])["status"] == "in_review"


# ---- lease expiry (a server with FAIRBETA_CLAIM_LEASE_S=1) ----

def test_expired_lease_returns_the_item_to_the_queue(short_api, s1, s2, people, pg):
    p, _ = enrolled_program(short_api, s1, [people["a"][1]])
    s = submitted(short_api, people["a"][1], p["id"])
    before = now_utc()
    c1 = claimed(short_api, s1, p["id"])
    lease = (parse_ts(c1["claim"]["lease_expires_at"]) - before).total_seconds()
    assert 0 < lease <= 2, lease
    assert claim(short_api, s2, p["id"]).status == 204
    time.sleep(1.5)
    q = queue(short_api, s1, p["id"]).json
    assert q["open_claims"] == 0, q
    c2 = claimed(short_api, s2, p["id"])
    assert c2["id"] == s["id"]
    assert c2["claim"]["reviewer_id"] == people["s2"][0]["id"]
    assert_slug(decide(short_api, s1, s["id"]), 409, "not-claim-holder")
    d = decide(short_api, s2, s["id"])
    assert d.status == 200, d
    assert_slug(release(short_api, s1, s["id"]), 409, "not-claim-holder")
    decisions = detail(short_api, s2, s["id"])["decisions"]
    assert [(x["outcome"], x["decided_by"]) for x in decisions] == \
        [("approved", people["s2"][0]["id"])]


def test_holder_may_not_decide_or_release_after_the_lease_expired(short_api, s1, people, pg):
    p, _ = enrolled_program(short_api, s1, [people["a"][1]])
    s = submitted(short_api, people["a"][1], p["id"])
    claimed(short_api, s1, p["id"])
    time.sleep(1.3)
    assert_slug(decide(short_api, s1, s["id"]), 409, "not-claim-holder")
    assert_slug(release(short_api, s1, s["id"]), 409, "not-claim-holder")
    assert pg.psql("SELECT count(*) FROM decisions WHERE submission_id = '%s'" % s["id"]) == "0"
    again = claimed(short_api, s1, p["id"])
    assert again["id"] == s["id"]
    assert decide(short_api, s1, s["id"]).status == 200


# ---- GET /v1/programs/{id}/queue ----

def test_queue_of_a_new_program_is_empty(api, s1, prog):
    r = queue(api, s1, prog["id"])
    assert r.status == 200, r
    assert r.json == {"program_id": prog["id"], "counts": [], "oldest_review_due_at": None,
                      "overdue": 0, "open_claims": 0}


def test_queue_counts_by_status_and_kind(api, s1, people, prog, pg):
    a = people["a"][1]
    w1 = submitted(api, a, prog["id"])
    w2 = submitted(api, a, prog["id"])
    w3 = submitted(api, a, prog["id"])
    f1 = submitted(api, a, prog["id"], kind="feedback", generation=None)
    assert claimed(api, s1, prog["id"])["id"] == w1["id"]
    decided(api, s1, w1["id"])
    assert claimed(api, s1, prog["id"])["id"] == w2["id"]
    r = queue(api, s1, prog["id"])
    assert r.status == 200, r
    q = r.json
    assert set(q) == QUEUE_KEYS, q
    assert q["program_id"] == prog["id"]
    assert sorted(q["counts"], key=lambda c: (c["status"], c["kind"])) == [
        {"status": "approved", "kind": "work", "count": 1},
        {"status": "in_review", "kind": "work", "count": 1},
        {"status": "pending", "kind": "feedback", "count": 1},
        {"status": "pending", "kind": "work", "count": 1}]
    assert q["oldest_review_due_at"] == w2["review_due_at"]
    assert q["overdue"] == 0 and q["open_claims"] == 1
    set_due(pg, w3["id"], "now() - interval '1 minute'")
    q = queue(api, s1, prog["id"]).json
    assert q["overdue"] == 1
    due = pg.psql("SELECT rfc3339(review_due_at) FROM submissions WHERE id = '%s'" % w3["id"])
    assert q["oldest_review_due_at"] == due
    assert f1["id"] != w3["id"]


def test_queue_counts_appeals_and_skips_withdrawn_from_oldest(api, s1, admin, people, prog):
    a = people["a"][1]
    x = rejected(api, s1, a, prog["id"])
    assert appeal(api, a, x["id"]).status == 200
    w = submitted(api, a, prog["id"])
    assert withdraw(api, a, w["id"]).status == 200
    q = queue(api, admin["token"], prog["id"]).json
    assert sorted(q["counts"], key=lambda c: c["status"]) == [
        {"status": "appealed", "kind": "work", "count": 1},
        {"status": "withdrawn", "kind": "work", "count": 1}]
    assert q["oldest_review_due_at"] == detail(api, s1, x["id"])["review_due_at"]
    assert q["open_claims"] == 0 and q["overdue"] == 0


def test_queue_roles_and_unknown_programs(api, s1, people, prog):
    for who in ("a", "finance"):
        assert_slug(queue(api, people[who][1], prog["id"]), 403, "forbidden")
    assert_slug(queue(api, None, prog["id"]), 401, "unauthorized")
    assert_slug(queue(api, s1, str(uuid.uuid4())), 404, "not-found")
    assert_slug(queue(api, s1, "nope"), 404, "not-found")


# ---- decision ----

def test_approval_by_the_claim_holder(api, s1, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    r = decide(api, s1, s["id"])
    assert r.status == 200, r
    d = r.json
    assert set(d) >= SUBMISSION_KEYS
    assert d["status"] == "approved"
    assert TS_RE.match(d["decided_at"] or ""), d
    assert d["claim"] is None and d["shareable"] is True
    full = detail(api, people["a"][1], s["id"])
    assert len(full["decisions"]) == 1
    dec = full["decisions"][0]
    assert set(dec) == DECISION_KEYS, dec
    assert dec == {"outcome": "approved", "reason": None, "clause_keys": [],
                   "decided_by": people["s1"][0]["id"], "decided_at": d["decided_at"],
                   "on_appeal": False}
    assert audit_count_of(pg, "submission.decide", s["id"]) == 1
    assert outbox_count(pg, "submission.decided", s["id"]) == 1
    assert pg.psql("SELECT count(*) FROM decisions WHERE submission_id = '%s'" % s["id"]) == "1"


@pytest.mark.parametrize("outcome,keys", [("rejected", ["responsible-use"]),
                                          ("changes_requested", ["pay", "confidentiality"])])
def test_rejection_records_reason_and_clauses(api, s1, people, prog, pg, outcome, keys):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    r = decide(api, s1, s["id"], outcome, REASON, keys)
    assert r.status == 200, r
    assert r.json["status"] == outcome
    assert r.json["shareable"] is False and r.json["claim"] is None
    [dec] = detail(api, people["a"][1], s["id"])["decisions"]
    assert dec["outcome"] == outcome and dec["reason"] == REASON
    assert dec["clause_keys"] == keys
    assert dec["decided_by"] == people["s1"][0]["id"] and dec["on_appeal"] is False
    assert outbox_count(pg, "submission.decided", s["id"]) == 1


def test_approval_may_carry_a_reason(api, s1, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    r = decide(api, s1, s["id"], "approved", "Lovely work.")
    assert r.status == 200, r
    assert detail(api, s1, s["id"])["decisions"][0]["reason"] == "Lovely work."


@pytest.mark.parametrize("body,fields", [
    ({"outcome": "rejected"}, ["reason", "clause_keys"]),
    ({"outcome": "rejected", "clause_keys": ["pay"]}, ["reason"]),
    ({"outcome": "rejected", "reason": REASON}, ["clause_keys"]),
    ({"outcome": "rejected", "reason": REASON, "clause_keys": []}, ["clause_keys"]),
    ({"outcome": "changes_requested", "clause_keys": ["pay"]}, ["reason"]),
    ({"outcome": "changes_requested", "reason": REASON}, ["clause_keys"]),
    ({"outcome": "rejected", "reason": REASON, "clause_keys": ["nope"]}, ["clause_keys[0]"]),
    ({"outcome": "rejected", "reason": REASON, "clause_keys": ["pay", "Pay"]},
     ["clause_keys[1]"]),
    ({"outcome": "approved", "clause_keys": ["nope"]}, ["clause_keys[0]"]),
    ({"outcome": "rejected", "reason": "", "clause_keys": ["pay"]}, ["reason"]),
    ({"outcome": "rejected", "reason": "r" * 2001, "clause_keys": ["pay"]}, ["reason"]),
    ({"outcome": "rejected", "reason": REASON, "clause_keys": ["pay"] * 21}, ["clause_keys"]),
    ({"outcome": "rejected", "reason": REASON, "clause_keys": [5]}, ["clause_keys[0]"]),
    ({"outcome": "rejected", "reason": REASON, "clause_keys": "pay"}, ["clause_keys"]),
    ({"outcome": "deemed_approved"}, ["outcome"]),
    ({"outcome": "withdrawn"}, ["outcome"]),
    ({"outcome": "APPROVED"}, ["outcome"]),
    ({}, ["outcome"]),
    ({"outcome": "approved", "reviewer_id": str(uuid.uuid4())}, ["reviewer_id"]),
])
def test_decision_problems_are_422_and_keep_the_claim(api, s1, people, prog, pg, body, fields):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    r = api.request("POST", "/v1/submissions/%s/decision" % s["id"], body, token=s1)
    assert_invalid(r, *fields)
    d = detail(api, s1, s["id"])
    assert d["status"] == "in_review" and d["decisions"] == []
    assert d["claim"]["reviewer_id"] == people["s1"][0]["id"]
    assert decide(api, s1, s["id"]).status == 200


def test_clause_only_in_newer_terms_is_422(api, s1, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    v2 = publish_terms(api, s1, prog["id"], CLAUSES + [{"key": "likeness", "kind": "other",
                                                        "title": "Likeness",
                                                        "body": "No faces."}])
    assert v2["version"] == 2 and s["terms_version"] == 1
    claimed(api, s1, prog["id"])
    r = decide(api, s1, s["id"], "rejected", REASON, ["pay", "likeness"])
    p = assert_invalid(r, "clause_keys[1]")
    assert "clause_keys[0]" not in {e["field"] for e in p["errors"]}, p
    assert decide(api, s1, s["id"], "rejected", REASON, ["pay"]).status == 200


def test_clause_of_the_accepted_newer_terms_may_be_cited(api, s1, people):
    p, [e] = enrolled_program(api, s1, [people["a"][1]])
    t = publish_terms(api, s1, p["id"], CLAUSES + [{"key": "likeness", "kind": "other",
                                                    "title": "Likeness", "body": "No faces."}])
    assert t["version"] == 2
    acc = api.request("POST", "/v1/enrollments/%s/accept-terms" % e["id"], {"version": 2},
                      token=people["a"][1])
    assert acc.status == 200, acc
    s = submitted(api, people["a"][1], p["id"])
    assert s["terms_version"] == 2
    claimed(api, s1, p["id"])
    r = decide(api, s1, s["id"], "rejected", REASON, ["likeness"])
    assert r.status == 200, r
    assert detail(api, s1, s["id"])["decisions"][0]["clause_keys"] == ["likeness"]


def test_decision_limits_are_inclusive(api, s1, people):
    clauses = [{"key": "k%02d" % i, "kind": "other", "title": "Clause %d" % i,
                "body": "Body %d." % i} for i in range(20)]
    clauses[0]["kind"] = "confidentiality"
    clauses[1]["kind"] = "responsible_use"
    p = make_program(api, s1)
    publish_terms(api, s1, p["id"], clauses)
    put_rates(api, s1, p["id"])
    set_status(api, s1, p["id"], "open")
    enrolled(api, people["a"][1], invite(api, s1, p["id"])["code"])
    s = submitted(api, people["a"][1], p["id"])
    claimed(api, s1, p["id"])
    keys = [c["key"] for c in clauses]
    r = decide(api, s1, s["id"], "changes_requested", "r" * 2000, keys)
    assert r.status == 200, r
    [dec] = detail(api, s1, s["id"])["decisions"]
    assert dec["clause_keys"] == keys and dec["reason"] == "r" * 2000


def test_decision_without_a_claim_is_409(api, s1, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    assert_slug(decide(api, s1, s["id"]), 409, "not-claim-holder")
    assert detail(api, s1, s["id"])["status"] == "pending"
    assert pg.psql("SELECT count(*) FROM decisions WHERE submission_id = '%s'" % s["id"]) == "0"


def test_decision_by_someone_other_than_the_holder_is_409(api, s1, s2, admin, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    assert_slug(decide(api, s2, s["id"]), 409, "not-claim-holder")
    assert_slug(decide(api, admin["token"], s["id"], "rejected", REASON, ["pay"]), 409,
                "not-claim-holder")
    assert detail(api, s1, s["id"])["status"] == "in_review"


def test_second_decision_is_409(api, s1, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    decided(api, s1, s["id"])
    assert_slug(decide(api, s1, s["id"], "rejected", REASON, ["pay"]), 409, "not-claim-holder")
    assert detail(api, s1, s["id"])["status"] == "approved"
    assert pg.psql("SELECT count(*) FROM decisions WHERE submission_id = '%s'" % s["id"]) == "1"


def test_decision_after_release_is_409(api, s1, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    assert release(api, s1, s["id"]).status == 200
    assert_slug(decide(api, s1, s["id"]), 409, "not-claim-holder")
    assert detail(api, s1, s["id"])["status"] == "pending"


def test_admin_may_decide_a_claim_they_hold(api, admin, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, admin["token"], prog["id"])
    d = decided(api, admin["token"], s["id"], "rejected", REASON, ["confidentiality"])
    assert d["status"] == "rejected"


def test_simultaneous_decisions_by_the_holder_decide_once(api, s1, people, prog, pg):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    results = run_at_once(6, lambda i: decide(api, s1, s["id"]) if i % 2 else
                          decide(api, s1, s["id"], "rejected", REASON, ["pay"]))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {200: 1, 409: 5}, statuses
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "not-claim-holder")
    assert pg.psql("SELECT count(*) FROM decisions WHERE submission_id = '%s'" % s["id"]) == "1"
    assert outbox_count(pg, "submission.decided", s["id"]) == 1


def test_decision_roles_and_unknown_ids(api, s1, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    for who in ("a", "finance"):
        assert_slug(decide(api, people[who][1], s["id"]), 403, "forbidden")
    assert_slug(decide(api, None, s["id"]), 401, "unauthorized")
    assert_slug(decide(api, s1, str(uuid.uuid4())), 404, "not-found")
    assert_slug(decide(api, s1, "nope"), 404, "not-found")
    assert detail(api, s1, s["id"])["status"] == "in_review"


def test_decision_malformed_json_and_content_type(api, s1, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    claimed(api, s1, prog["id"])
    path = "/v1/submissions/%s/decision" % s["id"]
    assert_slug(api.request("POST", path, raw=b'{"outcome": ', token=s1), 400,
                "malformed-json")
    assert_slug(api.request("POST", path, raw=b'{"outcome": "approved"}', token=s1,
                            content_type="text/plain"), 415, "unsupported-media-type")
    assert detail(api, s1, s["id"])["status"] == "in_review"


# ---- appeal ----

def test_artist_appeals_a_rejection(api, s1, people, prog, pg):
    a = people["a"][1]
    x = rejected(api, s1, a, prog["id"])
    before = now_utc()
    r = appeal(api, a, x["id"], "The person shown is me; I consent.")
    assert r.status == 200, r
    ap = r.json
    assert set(ap) >= SUBMISSION_KEYS, ap
    assert ap["status"] == "appealed"
    assert ap["appeal"]["statement"] == "The person shown is me; I consent."
    assert set(ap["appeal"]) == {"statement", "appealed_at"}
    assert TS_RE.match(ap["appeal"]["appealed_at"])
    assert about(ap["appeal"]["appealed_at"], before, 30)
    assert about(ap["review_due_at"], before + datetime.timedelta(hours=72), 60)
    assert ap["review_due_at"] > x["review_due_at"]
    assert ap["claim"] is None
    assert outbox_count(pg, "submission.appealed", x["id"]) == 1
    assert audit_count_of(pg, "submission.appeal", x["id"]) == 1
    assert detail(api, a, x["id"])["appeal"] == ap["appeal"]


def test_original_reviewer_cannot_claim_the_appeal_but_another_can(api, s1, s2, people,
                                                                   prog):
    a = people["a"][1]
    x = rejected(api, s1, a, prog["id"])
    assert appeal(api, a, x["id"]).status == 200
    r = claim(api, s1, prog["id"])
    assert r.status == 204, r
    assert_slug(decide(api, s1, x["id"]), 409, "not-claim-holder")
    c = claimed(api, s2, prog["id"])
    assert c["id"] == x["id"] and c["claim"]["reviewer_id"] == people["s2"][0]["id"]
    assert_slug(decide(api, s1, x["id"]), 409, "not-claim-holder")
    d = decided(api, s2, x["id"])
    assert d["status"] == "approved" and d["shareable"] is True
    decisions = detail(api, a, x["id"])["decisions"]
    assert [(e["outcome"], e["decided_by"], e["on_appeal"]) for e in decisions] == [
        ("rejected", people["s1"][0]["id"], False),
        ("approved", people["s2"][0]["id"], True)]


def test_original_reviewer_gets_other_work_instead_of_the_appeal(api, s1, s2, people, prog,
                                                                 pg):
    a = people["a"][1]
    x = rejected(api, s1, a, prog["id"])
    assert appeal(api, a, x["id"]).status == 200
    later = submitted(api, people["b"][1], prog["id"])
    set_due(pg, x["id"], "now() + interval '1 hour'")
    c = claimed(api, s1, prog["id"])
    assert c["id"] == later["id"]
    assert claim(api, s1, prog["id"]).status == 204
    assert claimed(api, s2, prog["id"])["id"] == x["id"]


def test_appeal_rejected_again_cannot_be_appealed_twice(api, s1, s2, people, prog):
    a = people["a"][1]
    x = rejected(api, s1, a, prog["id"])
    assert appeal(api, a, x["id"]).status == 200
    claimed(api, s2, prog["id"])
    again = decided(api, s2, x["id"], "rejected", REASON, ["responsible-use"])
    assert again["status"] == "rejected"
    assert_slug(appeal(api, a, x["id"]), 409, "conflict")
    d = detail(api, a, x["id"])
    assert d["status"] == "rejected" and len(d["decisions"]) == 2
    assert d["decisions"][1]["on_appeal"] is True


@pytest.mark.parametrize("state", ["pending", "in_review", "approved", "changes_requested",
                                   "withdrawn", "appealed"])
def test_appeal_needs_a_rejected_submission(api, s1, people, prog, state):
    a = people["a"][1]
    if state in ("approved", "changes_requested"):
        s = reviewed(api, s1, a, prog["id"], state)
    elif state == "appealed":
        s = rejected(api, s1, a, prog["id"])
        assert appeal(api, a, s["id"]).status == 200
    else:
        s = submitted(api, a, prog["id"])
        if state == "in_review":
            claimed(api, s1, prog["id"])
        elif state == "withdrawn":
            assert withdraw(api, a, s["id"]).status == 200
    assert_slug(appeal(api, a, s["id"]), 409, "conflict")
    assert detail(api, s1, s["id"])["status"] == state


def test_appeal_after_14_days_is_409_window_closed(api, s1, people, prog, pg):
    a = people["a"][1]
    x = rejected(api, s1, a, prog["id"])
    age_decision(pg, x["id"], 15)
    assert_slug(appeal(api, a, x["id"]), 409, "appeal-window-closed")
    d = detail(api, a, x["id"])
    assert d["status"] == "rejected" and d["appeal"] is None


def test_appeal_on_day_13_is_still_open(api, s1, people, prog, pg):
    a = people["a"][1]
    x = rejected(api, s1, a, prog["id"])
    age_decision(pg, x["id"], 13)
    r = appeal(api, a, x["id"])
    assert r.status == 200, r
    assert r.json["status"] == "appealed"


@pytest.mark.parametrize("body,field", [({}, "statement"), ({"statement": ""}, "statement"),
                                        ({"statement": "s" * 5001}, "statement"),
                                        ({"statement": 5}, "statement"),
                                        ({"statement": "ok", "urgent": True}, "urgent")])
def test_appeal_problems_are_422(api, s1, people, prog, body, field):
    x = rejected(api, s1, people["a"][1], prog["id"])
    r = api.request("POST", "/v1/submissions/%s/appeal" % x["id"], body,
                    token=people["a"][1])
    assert_invalid(r, field)
    assert detail(api, s1, x["id"])["status"] == "rejected"


def test_appeal_statement_of_5000_characters_is_accepted(api, s1, people, prog):
    x = rejected(api, s1, people["a"][1], prog["id"])
    r = appeal(api, people["a"][1], x["id"], "s" * 5000)
    assert r.status == 200, r
    assert r.json["appeal"]["statement"] == "s" * 5000


def test_appeal_roles_and_unknown_ids(api, s1, admin, people, prog):
    x = rejected(api, s1, people["a"][1], prog["id"])
    assert_slug(appeal(api, people["b"][1], x["id"]), 404, "not-found")
    for token in (s1, admin["token"], people["finance"][1]):
        assert_slug(appeal(api, token, x["id"]), 403, "forbidden")
    assert_slug(appeal(api, None, x["id"]), 401, "unauthorized")
    assert_slug(appeal(api, people["a"][1], str(uuid.uuid4())), 404, "not-found")
    assert_slug(appeal(api, people["a"][1], "nope"), 404, "not-found")
    assert detail(api, s1, x["id"])["status"] == "rejected"


def test_appeal_malformed_json_and_content_type(api, s1, people, prog):
    x = rejected(api, s1, people["a"][1], prog["id"])
    path = "/v1/submissions/%s/appeal" % x["id"]
    token = people["a"][1]
    assert_slug(api.request("POST", path, raw=b'{"statement": ', token=token), 400,
                "malformed-json")
    assert_slug(api.request("POST", path, raw=b'{"statement": "x"}', token=token,
                            content_type="text/plain"), 415, "unsupported-media-type")


# ---- twenty reviewers at once ----

@pytest.fixture(scope="module")
def reviewers(api, admin):
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        return list(ex.map(lambda _: api.create_user(admin["token"], "staff"), range(20)))


@pytest.fixture(scope="module")
def artists(api, admin):
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        return [t for _, t in ex.map(lambda _: api.create_user(admin["token"], "artist"),
                                     range(4))]


def test_twenty_reviewers_decide_500_submissions_exactly_once(api, s1, pg, reviewers,
                                                              artists):
    p, _ = enrolled_program(api, s1, artists)
    kinds = ["work", "bug_report", "feedback"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        made = list(ex.map(lambda i: submit(api, artists[i % 4], p["id"],
                                            {"kind": kinds[i % 3], "title": "item %d" % i}),
                           range(500)))
    assert [r.status for r in made] == [201] * 500, [r for r in made if r.status != 201][:3]
    ids = {r.json["id"] for r in made}
    assert len(ids) == 500

    def review(i):
        user, token = reviewers[i]
        log = []
        for _ in range(600):
            c = claim(api, token, p["id"])
            if c.status != 200:
                log.append(("claim", c.status, c.body[:200], None))
                return log
            item = c.json
            ok = (item["status"] == "in_review" and item["claim"]["reviewer_id"] == user["id"])
            d = decide(api, token, item["id"])
            log.append(("decide", d.status, d.body[:200] if d.status != 200 else ok,
                        item["id"]))
            if d.status != 200:
                return log
        return log

    started = time.monotonic()
    logs = run_at_once(20, review)
    elapsed = time.monotonic() - started
    entries = [e for log in logs for e in log]
    assert all(log[-1][:2] == ("claim", 204) for log in logs), \
        [log[-1] for log in logs if log[-1][:2] != ("claim", 204)]
    bad = [e for e in entries if e[0] == "decide" and (e[1] != 200 or e[2] is not True)]
    assert bad == [], bad[:5]
    handed = [e[3] for e in entries if e[0] == "decide"]
    assert len(handed) == len(set(handed)) == 500, len(handed)
    assert set(handed) == ids
    assert sum(1 for log in logs if len(log) > 1) >= 10, [len(log) for log in logs]
    assert elapsed < 60, elapsed
    assert pg.psql("SELECT count(*), count(DISTINCT d.submission_id) FROM decisions d"
                   " JOIN submissions s ON s.id = d.submission_id"
                   " WHERE s.program_id = '%s'" % p["id"]) == "500|500"
    assert pg.psql("SELECT status || ':' || count(*) FROM submissions WHERE program_id = '%s'"
                   " GROUP BY status" % p["id"]) == "approved:500"
    q = queue(api, s1, p["id"]).json
    assert q["open_claims"] == 0 and q["oldest_review_due_at"] is None
    assert sum(c["count"] for c in q["counts"]) == 500
    assert {c["status"] for c in q["counts"]} == {"approved"}
