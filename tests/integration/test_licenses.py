"""Usage licenses (API.md, "Usage licenses: promotion and training"; the
decisions in /tmp/licenses-design.md): staff ask for a paid license to use an
approved work for promotion or training, only its artist may accept (the fee
accrues through the ledger in the same transaction), decline or later revoke
it with the program's notice period, silence is never consent (the worker
expires unanswered requests and ends licenses whose term is over), the
check a pipeline asks before using a work, the lists, the events, emails,
webhooks and audit rows, the transparency figures and the program's
license_notice_days.

Deadlines (a request's expires_at, a license's until) are moved with SQL, as
test_worker.py moves review_due_at; the worker runs with a short tick."""

import collections
import datetime
import json
import time
import urllib.parse
import uuid

import pytest

from harness import UUID_RE, WebhookReceiver, Workers, create_users, run_admin
# dapi (a server allowing private webhook hosts) and smtp are fixtures shared with test_delivery
from test_delivery import body_text, check_webhook_request, dapi, event_payload, smtp
from test_enrollments import enrolled, invite
from test_idempotency import assert_fresh, assert_replay_of, replayed
from test_ledger import (ENTRY_KEYS, RATE, TITLE, account_id, approve_new, get_tx, my_balance,
                         new_key, statement, transactions, tx_count)
from test_notifications import (EVENT_TYPES, created_webhook, get_prefs, put_prefs,
                                retire_webhooks)
from test_programs import (FULL_RATES, TS_RE, assert_invalid, assert_slug, audit_actions,
                           get_program, list_all, make_program, patch_program, program_body,
                           publish_terms, put_rates, run_at_once, set_status)
from test_submissions import (about, claimed, now_utc, reviewed, submitted,
                              withdraw)
from test_worker import wait_until

REQUEST_KEYS = {"id", "submission_id", "program_id", "artist_id", "use", "scope", "term_days",
                "fee_minor", "currency", "note", "status", "requested_by", "created_at",
                "expires_at", "decided_at", "decline_reason"}
LICENSE_KEYS = {"id", "request_id", "submission_id", "program_id", "artist_id", "use", "scope",
                "fee_minor", "currency", "status", "starts_at", "until", "revoked_at",
                "revoke_reason", "ended_at", "transaction_id"}
CHECK_KEYS = {"licensed", "license_id", "until"}
USES = ["promotion", "training"]
# the contract's six, and license.withdrawn: every state change writes an event
LICENSE_EVENTS = ["license.requested", "license.granted", "license.declined",
                  "license.withdrawn", "license.expired", "license.revoked", "license.ended"]
PROMOTION_RATE = 20000
TRAINING_RATE = 50000
FEE = {"promotion": PROMOTION_RATE, "training": TRAINING_RATE}
SCOPE = "Stills in the launch campaign on the company's website and social accounts."
NOTE = "We would love to show this one at the launch."
DAY = 86400
TICK_MS = "200"


# ---- helpers ----

def license_rates(promotion=PROMOTION_RATE, training=TRAINING_RATE):
    """FULL_RATES plus the two license rates (None: the kind is left off the card)."""
    extra = [{"kind": k, "amount_minor": v}
             for k, v in (("promotion_license", promotion), ("training_license", training))
             if v is not None]
    return FULL_RATES + extra


def license_program(api, staff, tokens, promotion=PROMOTION_RATE, training=TRAINING_RATE,
                    **over):
    """An open program (terms v1, a rate card with these license rates) in which
    every artist token is enrolled."""
    p = make_program(api, staff, **over)
    publish_terms(api, staff, p["id"])
    put_rates(api, staff, p["id"], license_rates(promotion, training))
    p = set_status(api, staff, p["id"], "open")
    inv = invite(api, staff, p["id"], max_uses=1000)
    for t in tokens:
        enrolled(api, t, inv["code"])
    return p


def request_body(use="promotion", **over):
    body = {"use": use, "scope": SCOPE, "term_days": 365, "fee_minor": FEE[use]}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def request_license(api, token, sid, body=None, key=None, **kw):
    headers = {"Idempotency-Key": key} if key else None
    return api.request("POST", "/v1/submissions/%s/license-requests" % sid,
                       request_body() if body is None else body, token=token,
                       headers=headers, **kw)


def requested(api, token, sid, use="promotion", **over):
    r = request_license(api, token, sid, request_body(use, **over))
    assert r.status == 201, r
    return r.json


def accept(api, token, rid, body=None, **kw):
    return api.request("POST", "/v1/license-requests/%s/accept" % rid, body, token=token, **kw)


def accepted(api, token, rid):
    r = accept(api, token, rid)
    assert r.status == 200, r
    return r.json


def decline(api, token, rid, body=None, **kw):
    return api.request("POST", "/v1/license-requests/%s/decline" % rid, body, token=token, **kw)


def withdraw_request(api, token, rid, body=None, **kw):
    return api.request("POST", "/v1/license-requests/%s/withdraw" % rid, body, token=token,
                       **kw)


def revoke(api, token, lid, body=None, **kw):
    return api.request("POST", "/v1/licenses/%s/revoke" % lid, body, token=token, **kw)


def granted(api, staff, artist, sid, use="promotion", **over):
    """A request made by staff and accepted by the artist: (request, license)."""
    req = requested(api, staff, sid, use, **over)
    return req, accepted(api, artist, req["id"])


def check(api, token, **params):
    return api.request("GET", "/v1/licenses/check?" + urllib.parse.urlencode(params),
                       token=token)


def checked(api, token, sid, use="promotion"):
    r = check(api, token, submission_id=sid, use=use)
    assert r.status == 200, r
    assert set(r.json) == CHECK_KEYS, r.json
    return r.json


NOT_LICENSED = {"licensed": False, "license_id": None, "until": None}


def licenses_of(api, token, sid):
    return api.request("GET", "/v1/submissions/%s/licenses" % sid, token=token)


def request_status(pg, rid):
    return pg.psql("SELECT status FROM license_requests WHERE id = '%s'" % rid)


def license_status(pg, lid):
    return pg.psql("SELECT status FROM licenses WHERE id = '%s'" % lid)


def licenses_for_request(pg, rid):
    return int(pg.psql("SELECT count(*) FROM licenses WHERE request_id = '%s'" % rid))


def license_accruals(pg, sid):
    """Accruals of license fees for this work (its approval's accrual is not one)."""
    return int(pg.psql("SELECT count(*) FROM ledger_transactions WHERE kind = 'accrual'"
                       " AND submission_id = '%s' AND memo LIKE '%% license: %%'" % sid))


def events(pg, event_type, key, value):
    """Payloads of outbox events of this type whose payload[key] is value."""
    out = pg.psql("SELECT payload FROM outbox WHERE event_type = '%s'"
                  " AND payload ->> '%s' = '%s' ORDER BY id" % (event_type, key, value))
    return [json.loads(line) for line in out.splitlines()] if out else []


def audit_of(pg, action, entity_id):
    """[(entity_type, actor_id or '')] of the audit rows of this action and entity."""
    out = pg.psql("SELECT entity_type, coalesce(actor_id::text, '') FROM audit_log"
                  " WHERE action = '%s' AND entity_id = '%s' ORDER BY id" % (action, entity_id))
    return [tuple(line.split("|")) for line in out.splitlines()] if out else []


def earned(api, token, pid):
    b = my_balance(api, token, pid)
    return (b["earned_minor"], b["payable_minor"]) if b else (0, 0)


def assert_request(req, work, staff_user, use="promotion", status="pending"):
    assert set(req) == REQUEST_KEYS, req
    assert UUID_RE.match(req["id"]), req
    assert req["submission_id"] == work["id"] and req["program_id"] == work["program_id"]
    assert req["artist_id"] == work["artist_id"], req
    assert req["use"] == use and req["status"] == status, req
    assert req["requested_by"] == staff_user["id"], req
    assert TS_RE.match(req["created_at"]) and TS_RE.match(req["expires_at"]), req
    return req


def assert_license(lic, req, status="active"):
    assert set(lic) == LICENSE_KEYS, lic
    assert UUID_RE.match(lic["id"]), lic
    assert lic["request_id"] == req["id"]
    for k in ("submission_id", "program_id", "artist_id", "use", "scope", "fee_minor",
              "currency"):
        assert lic[k] == req[k], (k, lic, req)
    assert lic["status"] == status, lic
    assert TS_RE.match(lic["starts_at"]) and TS_RE.match(lic["until"]), lic
    return lic


def set_expires(pg, rid, sql_time):
    pg.psql("UPDATE license_requests SET expires_at = %s WHERE id = '%s'" % (sql_time, rid))


def set_until(pg, lid, sql_time):
    pg.psql("UPDATE licenses SET until = %s WHERE id = '%s'" % (sql_time, lid))


def transparency(api, pid, token=None):
    r = api.request("GET", "/v1/programs/%s/transparency" % pid, token=token)
    assert r.status == 200, r
    return r.json


# ---- fixtures ----

@pytest.fixture(scope="module")
def people(api, admin):
    """{name: (user_json, token)}: two staff, finance, and artists a, b and quiet
    (quiet turns license.requested emails off)."""
    return create_users(api, admin["token"], staff="staff", staff2="staff", f1="finance",
                        a="artist", b="artist", quiet="artist")


@pytest.fixture(scope="module")
def a(people):
    return people["a"][1]


@pytest.fixture(scope="module")
def b(people):
    return people["b"][1]


@pytest.fixture
def prog(api, staff, a, b):
    """An open program with both license rates in which artists a and b are enrolled."""
    return license_program(api, staff, [a, b])


@pytest.fixture
def work(api, staff, a, prog):
    """An approved work of artist a in prog."""
    return approve_new(api, staff, a, prog["id"])


@pytest.fixture
def workers(pg, smtp):
    """start(n, **env) starts n workers (tick 200 ms) delivering to the SMTP sink;
    any left running are stopped after the test. Events written before the test
    (by the suites before this one: thousands) are not this test's to deliver,
    so they are marked dispatched first; the test's own mail then comes in time."""
    pg.psql("UPDATE outbox SET dispatched_at = now() WHERE dispatched_at IS NULL")
    ws = Workers(pg.url, FAIRBETA_SMTP_URL=smtp.url, FAIRBETA_WORKER_TICK_MS=TICK_MS,
                 FAIRBETA_DELIVERY_BACKOFF_MS="100", FAIRBETA_DELIVERY_LEASE_S="2",
                 FAIRBETA_WEBHOOK_ALLOW_PRIVATE="1")
    yield ws.start
    ws.stop_all()


@pytest.fixture
def receiver():
    rec = WebhookReceiver().start()
    yield rec
    rec.stop()


# ---- POST /v1/submissions/{id}/license-requests ----

def test_request_is_201_pending_and_expires_in_30_days(api, pg, people, staff, prog, work):
    before = now_utc()
    r = request_license(api, staff, work["id"], request_body(note=NOTE))
    assert r.status == 201, r
    assert (r.header("Content-Type") or "").startswith("application/json")
    req = assert_request(r.json, work, people["staff"][0])
    assert req["artist_id"] == people["a"][0]["id"]
    assert (req["scope"], req["term_days"], req["fee_minor"]) == (SCOPE, 365, PROMOTION_RATE)
    assert req["currency"] == "EUR" and req["note"] == NOTE, req
    assert req["decided_at"] is None and req["decline_reason"] is None, req
    assert about(req["created_at"], before, 30), req
    span = (datetime.datetime.fromisoformat(req["expires_at"].replace("Z", "+00:00")) -
            datetime.datetime.fromisoformat(req["created_at"].replace("Z", "+00:00")))
    assert abs(span.total_seconds() - 30 * DAY) <= 5, span
    assert request_status(pg, req["id"]) == "pending"
    rows = audit_of(pg, "license.request", req["id"])
    assert [actor for _, actor in rows] == [people["staff"][0]["id"]], \
        (rows, audit_actions(pg, req["id"]))
    [ev] = events(pg, "license.requested", "request_id", req["id"])
    assert (ev["program_id"], ev["submission_id"], ev["artist_id"], ev["use"]) == \
        (prog["id"], work["id"], people["a"][0]["id"], "promotion"), ev


def test_admin_may_request_and_note_is_optional(api, pg, admin, work):
    r = request_license(api, admin["token"], work["id"], request_body("training", term_days=1))
    assert r.status == 201, r
    req = r.json
    assert req["use"] == "training" and req["fee_minor"] == TRAINING_RATE
    assert req["note"] is None and req["term_days"] == 1, req


def test_request_currency_is_the_programs(api, staff, a):
    p = license_program(api, staff, [a], currency="JPY")
    w = approve_new(api, staff, a, p["id"])
    req = requested(api, staff, w["id"])
    assert req["currency"] == "JPY", req


@pytest.mark.parametrize("who", ["a", "b", "f1"])
def test_artists_and_finance_may_not_request(api, pg, people, work, who):
    r = request_license(api, people[who][1], work["id"])
    assert_slug(r, 403, "forbidden")
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % work["id"]) == "0"


def test_request_needs_a_token(api, pg, work):
    assert_slug(request_license(api, None, work["id"]), 401, "unauthorized")


@pytest.mark.parametrize("sid", [lambda: str(uuid.uuid4()), lambda: "not-a-uuid"])
def test_request_for_an_unknown_submission_is_404(api, staff, sid):
    assert_slug(request_license(api, staff, sid()), 404, "not-found")


def test_request_for_a_work_that_is_not_kind_work_is_409(api, pg, staff, a, prog):
    s = approve_new(api, staff, a, prog["id"], kind="bug_report", media=None, generation=None)
    assert s["status"] == "approved"
    assert_slug(request_license(api, staff, s["id"]), 409, "conflict")
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % s["id"]) == "0"


@pytest.mark.parametrize("state", ["pending", "in_review", "rejected", "changes_requested",
                                   "withdrawn"])
def test_request_for_a_work_not_approved_is_409(api, pg, staff, a, prog, state):
    if state in ("rejected", "changes_requested"):
        s = reviewed(api, staff, a, prog["id"], state)
    else:
        s = submitted(api, a, prog["id"])
        if state == "in_review":
            assert claimed(api, staff, prog["id"])["id"] == s["id"]
        elif state == "withdrawn":
            assert withdraw(api, a, s["id"]).status == 200
    assert pg.psql("SELECT status FROM submissions WHERE id = '%s'" % s["id"]) == state
    for use in USES:
        assert_slug(request_license(api, staff, s["id"], request_body(use)), 409, "conflict")
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % s["id"]) == "0"


def test_program_without_license_rates_cannot_request_either_use(api, pg, staff, a):
    p = license_program(api, staff, [a], promotion=None, training=None)
    w = approve_new(api, staff, a, p["id"])
    for use in USES:
        r = request_license(api, staff, w["id"], request_body(use))
        pr = assert_slug(r, 409, "no-rate")
        assert pr["type"].endswith("no-rate"), pr
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % w["id"]) == "0"


def test_a_zero_rate_is_no_rate_for_that_use_only(api, staff, a):
    p = license_program(api, staff, [a], promotion=0, training=TRAINING_RATE)
    w = approve_new(api, staff, a, p["id"])
    assert_slug(request_license(api, staff, w["id"], request_body("promotion", fee_minor=1)),
                409, "no-rate")
    assert requested(api, staff, w["id"], "training")["status"] == "pending"


def test_no_rate_is_judged_on_the_current_rate_card(api, staff, a, prog, work):
    put_rates(api, staff, prog["id"], license_rates(promotion=None))
    assert_slug(request_license(api, staff, work["id"], request_body("promotion")),
                409, "no-rate")
    assert requested(api, staff, work["id"], "training")["status"] == "pending"
    card = put_rates(api, staff, prog["id"], license_rates(promotion=7))
    assert card["version"] == 3
    assert requested(api, staff, work["id"], "promotion", fee_minor=7)["fee_minor"] == 7


@pytest.mark.parametrize("use", USES)
def test_fee_below_the_rate_is_422_naming_fee_minor(api, pg, staff, work, use):
    r = request_license(api, staff, work["id"], request_body(use, fee_minor=FEE[use] - 1))
    p = assert_invalid(r, "fee_minor")
    [err] = [e for e in p["errors"] if e["field"] == "fee_minor"]
    assert str(FEE[use]) in err["message"], err
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % work["id"]) == "0"


@pytest.mark.parametrize("use", USES)
def test_fee_equal_to_the_rate_is_accepted(api, staff, work, use):
    req = requested(api, staff, work["id"], use, fee_minor=FEE[use])
    assert req["fee_minor"] == FEE[use] and req["status"] == "pending", req


@pytest.mark.parametrize("use", USES)
def test_fee_above_the_rate_is_accepted(api, staff, work, use):
    req = requested(api, staff, work["id"], use, fee_minor=FEE[use] * 3 + 1)
    assert req["fee_minor"] == FEE[use] * 3 + 1


@pytest.mark.parametrize("over,field", [
    ({"use": "marketing"}, "use"),
    ({"use": "Promotion"}, "use"),
    ({"use": 1}, "use"),
    ({"use": None}, "use"),
    ({"scope": ""}, "scope"),
    ({"scope": "s" * 501}, "scope"),
    ({"scope": 5}, "scope"),
    ({"scope": None}, "scope"),
    ({"term_days": 0}, "term_days"),
    ({"term_days": 3651}, "term_days"),
    ({"term_days": -1}, "term_days"),
    ({"term_days": "30"}, "term_days"),
    ({"term_days": 1.5}, "term_days"),
    ({"term_days": None}, "term_days"),
    ({"fee_minor": "20000"}, "fee_minor"),
    ({"fee_minor": 20000.5}, "fee_minor"),
    ({"fee_minor": -1}, "fee_minor"),
    ({"fee_minor": 10 ** 15 + 1}, "fee_minor"),
    ({"fee_minor": None}, "fee_minor"),
    ({"note": "n" * 2001}, "note"),
    ({"note": 7}, "note"),
    ({"colour": "blue"}, "colour"),
    ({"status": "accepted"}, "status"),
])
def test_request_field_problems_are_422_naming_the_field(api, pg, staff, work, over, field):
    body = request_body()
    for k, v in over.items():
        if v is None:
            body.pop(k, None)
        else:
            body[k] = v
    assert_invalid(request_license(api, staff, work["id"], body), field)
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % work["id"]) == "0"


def test_request_missing_fields_are_each_named(api, staff, work):
    assert_invalid(request_license(api, staff, work["id"], {}),
                   "use", "scope", "term_days", "fee_minor")


def test_request_limits_are_inclusive(api, staff, work):
    req = requested(api, staff, work["id"], "promotion", scope="s" * 500, term_days=3650,
                    note="n" * 2000)
    assert (len(req["scope"]), req["term_days"], len(req["note"])) == (500, 3650, 2000)
    req = requested(api, staff, work["id"], "training", scope="x", term_days=1, note="")
    assert (req["scope"], req["term_days"]) == ("x", 1)


def test_request_malformed_json_and_content_type(api, staff, work):
    path = "/v1/submissions/%s/license-requests" % work["id"]
    assert_slug(api.request("POST", path, raw=b'{"use": "promotion",', token=staff),
                400, "malformed-json")
    assert_slug(api.request("POST", path, raw=json.dumps(request_body()).encode(), token=staff,
                            content_type="text/plain"), 415, "unsupported-media-type")


def test_one_pending_request_per_work_and_use(api, pg, staff, people, prog, work):
    first = requested(api, staff, work["id"], "promotion")
    r = request_license(api, people["staff2"][1], work["id"],
                        request_body("promotion", scope="Another scope", fee_minor=99999))
    assert_slug(r, 409, "conflict")
    other_use = requested(api, staff, work["id"], "training")
    assert other_use["id"] != first["id"]
    assert_slug(request_license(api, staff, work["id"], request_body("training")),
                409, "conflict")
    other_work = approve_new(api, staff, people["a"][1], prog["id"])
    assert requested(api, staff, other_work["id"], "promotion")["status"] == "pending"
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   " AND status = 'pending'" % work["id"]) == "2"


@pytest.mark.parametrize("end", ["decline", "withdraw"])
def test_after_a_decline_or_withdrawal_a_new_request_may_be_made(api, pg, staff, a, work, end):
    first = requested(api, staff, work["id"])
    if end == "decline":
        assert decline(api, a, first["id"], {"reason": "Not for ads."}).status == 200
    else:
        assert withdraw_request(api, staff, first["id"]).status == 200
    second = requested(api, staff, work["id"], fee_minor=PROMOTION_RATE * 2)
    assert second["id"] != first["id"] and second["status"] == "pending"
    assert request_status(pg, first["id"]) == ("declined" if end == "decline" else "withdrawn")


def test_idempotency_key_replays_the_request(api, pg, staff, work):
    key = new_key("license")
    body = request_body(note=NOTE)
    first = request_license(api, staff, work["id"], body, key=key)
    assert_fresh(first, 201)
    again = request_license(api, staff, work["id"], body, key=key)
    assert_replay_of(again, first)
    assert again.status == 201
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % work["id"]) == "1"
    assert len(audit_of(pg, "license.request", first.json["id"])) == 1
    assert len(events(pg, "license.requested", "request_id", first.json["id"])) == 1
    other = request_license(api, staff, work["id"], request_body("training"), key=key)
    assert_invalid(other, "Idempotency-Key")
    assert not replayed(other)
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % work["id"]) == "1"


def test_ten_staff_requests_at_once_make_one_pending_request(api, pg, people, work):
    tokens = [people["staff"][1], people["staff2"][1]]
    results = run_at_once(10, lambda i: request_license(
        api, tokens[i % 2], work["id"], request_body(scope="Scope %d" % i)))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {201: 1, 409: 9}, [r for r in results]
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "conflict")
    [won] = [r.json for r in results if r.status == 201]
    assert pg.psql("SELECT count(*), min(id::text) FROM license_requests"
                   " WHERE submission_id = '%s' AND status = 'pending'" % work["id"]) == \
        "1|%s" % won["id"]
    assert pg.psql("SELECT count(*) FROM license_requests WHERE submission_id = '%s'"
                   % work["id"]) == "1"
    assert int(pg.psql("SELECT count(*) FROM audit_log WHERE action = 'license.request'"
                       " AND (entity_id = '%s' OR after::text LIKE '%%%s%%')"
                       % (won["id"], work["id"]))) == 1
    assert int(pg.psql("SELECT count(*) FROM outbox WHERE event_type = 'license.requested'"
                       " AND payload ->> 'submission_id' = '%s'" % work["id"])) == 1


# ---- POST /v1/license-requests/{id}/accept ----

@pytest.mark.parametrize("body", [None, {}])
def test_accept_grants_the_license_and_accrues_the_fee(api, pg, people, staff, f1, prog, work,
                                                       body):
    pid = prog["id"]
    artist, token = people["a"]
    req = requested(api, staff, work["id"], term_days=90)
    before_balance = my_balance(api, token, pid)
    assert before_balance["earned_minor"] == RATE["work"]
    txs_before = tx_count(pg, pid)
    before = now_utc()
    r = accept(api, token, req["id"], body)
    assert r.status == 200, r
    lic = assert_license(r.json, req)
    assert lic["artist_id"] == artist["id"] and lic["currency"] == "EUR"
    assert lic["fee_minor"] == PROMOTION_RATE and lic["scope"] == SCOPE
    assert lic["revoked_at"] is None and lic["revoke_reason"] is None
    assert lic["ended_at"] is None
    assert about(lic["starts_at"], before, 30), lic
    assert about(lic["until"], before + datetime.timedelta(days=90), 30), lic
    span = (datetime.datetime.fromisoformat(lic["until"].replace("Z", "+00:00")) -
            datetime.datetime.fromisoformat(lic["starts_at"].replace("Z", "+00:00")))
    assert abs(span.total_seconds() - 90 * DAY) <= 5, span
    assert UUID_RE.match(lic["transaction_id"] or ""), lic

    # the request is accepted
    [got] = licenses_of(api, staff, work["id"]).json["requests"]
    assert got["status"] == "accepted" and TS_RE.match(got["decided_at"] or ""), got
    assert request_status(pg, req["id"]) == "accepted"

    # the accrual: expense debited, the artist's payable credited, one transaction
    assert tx_count(pg, pid) == txs_before + 1
    tx = get_tx(api, f1, lic["transaction_id"])
    assert tx["kind"] == "accrual" and tx["program_id"] == pid, tx
    assert tx["memo"] == "promotion license: %s" % TITLE, tx
    assert tx["submission_id"] == work["id"], tx
    for e in tx["entries"]:
        assert set(e) == ENTRY_KEYS, e
    assert [(e["account_kind"], e["owner_id"], e["amount_minor"]) for e in tx["entries"]] == \
        [("expense", None, PROMOTION_RATE), ("payable", artist["id"], -PROMOTION_RATE)], tx
    assert tx["entries"][0]["account_id"] == account_id(pg, pid, "expense")
    assert tx["entries"][1]["account_id"] == account_id(pg, pid, "payable", artist["id"])
    [listed] = [t for t in transactions(api, f1, pid) if t["id"] == lic["transaction_id"]]
    assert listed == tx, (listed, tx)
    assert license_accruals(pg, work["id"]) == 1

    # what the artist sees: balance and statement
    bal = my_balance(api, token, pid)
    assert bal["earned_minor"] == before_balance["earned_minor"] + PROMOTION_RATE, bal
    assert bal["payable_minor"] == before_balance["payable_minor"] + PROMOTION_RATE, bal
    assert bal["paid_minor"] == before_balance["paid_minor"], bal
    lines = statement(api, token, program_id=pid)
    [line] = [x for x in lines if x["transaction_id"] == lic["transaction_id"]]
    assert (line["kind"], line["memo"], line["amount_minor"]) == \
        ("accrual", "promotion license: %s" % TITLE, PROMOTION_RATE), line
    assert line["balance_minor"] == bal["payable_minor"], line
    assert lines[0]["transaction_id"] == lic["transaction_id"], lines

    # audit rows and events
    assert audit_of(pg, "license.accept", lic["id"]) == [("license", artist["id"])]
    assert int(pg.psql("SELECT count(*) FROM audit_log WHERE action = 'ledger.accrue' AND"
                       " (entity_id = '%s' OR after::text LIKE '%%%s%%')"
                       % (tx["id"], tx["id"]))) == 1
    [ev] = events(pg, "license.granted", "license_id", lic["id"])
    assert (ev["request_id"], ev["program_id"], ev["submission_id"], ev["artist_id"],
            ev["use"]) == (req["id"], pid, work["id"], artist["id"], "promotion"), ev
    [acc] = events(pg, "accrual.posted", "transaction_id", tx["id"])
    assert acc["amount_minor"] == PROMOTION_RATE and acc["artist_id"] == artist["id"], acc


def test_ledger_stays_consistent_after_license_accruals(api, pg, staff, a, work):
    granted(api, staff, a, work["id"], "promotion")
    granted(api, staff, a, work["id"], "training")
    out = run_admin(pg.url, "admin", "check-ledger")
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert out.stdout.startswith("ledger ok:"), out.stdout


def test_training_license_accrues_its_own_memo(api, pg, staff, f1, a, work):
    _, lic = granted(api, staff, a, work["id"], "training", fee_minor=TRAINING_RATE + 5)
    tx = get_tx(api, f1, lic["transaction_id"])
    assert tx["memo"] == "training license: %s" % TITLE, tx
    assert [e["amount_minor"] for e in tx["entries"]] == [TRAINING_RATE + 5,
                                                          -(TRAINING_RATE + 5)]


def test_only_the_works_artist_may_accept(api, pg, admin, people, staff, f1, work):
    req = requested(api, staff, work["id"])
    assert_slug(accept(api, people["b"][1], req["id"]), 404, "not-found")
    for token in (staff, admin["token"], f1):
        assert_slug(accept(api, token, req["id"]), 403, "forbidden")
    assert_slug(accept(api, None, req["id"]), 401, "unauthorized")
    assert request_status(pg, req["id"]) == "pending"
    assert licenses_for_request(pg, req["id"]) == 0
    assert license_accruals(pg, work["id"]) == 0


@pytest.mark.parametrize("rid", [lambda: str(uuid.uuid4()), lambda: "nope"])
def test_accept_of_an_unknown_request_is_404(api, a, rid):
    assert_slug(accept(api, a, rid()), 404, "not-found")


def test_accept_with_an_unknown_field_is_422(api, pg, staff, a, work):
    req = requested(api, staff, work["id"])
    assert_invalid(accept(api, a, req["id"], {"fee_minor": 1}), "fee_minor")
    assert request_status(pg, req["id"]) == "pending"


def test_accept_twice_is_409_and_grants_once(api, pg, staff, a, prog, work):
    req, lic = granted(api, staff, a, work["id"])
    bal = earned(api, a, prog["id"])
    assert_slug(accept(api, a, req["id"]), 409, "conflict")
    assert licenses_for_request(pg, req["id"]) == 1
    assert license_accruals(pg, work["id"]) == 1
    assert earned(api, a, prog["id"]) == bal


def test_ten_accepts_at_once_grant_one_license_and_one_accrual(api, pg, staff, f1, a, prog,
                                                               work):
    pid = prog["id"]
    req = requested(api, staff, work["id"])
    bal = earned(api, a, pid)
    txs = tx_count(pg, pid, "accrual")
    results = run_at_once(10, lambda i: accept(api, a, req["id"]))
    assert collections.Counter(r.status for r in results) == {200: 1, 409: 9}, results
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "conflict")
    [lic] = [r.json for r in results if r.status == 200]
    assert licenses_for_request(pg, req["id"]) == 1
    assert pg.psql("SELECT id FROM licenses WHERE request_id = '%s'" % req["id"]) == lic["id"]
    assert license_accruals(pg, work["id"]) == 1
    assert tx_count(pg, pid, "accrual") == txs + 1
    assert earned(api, a, pid) == (bal[0] + PROMOTION_RATE, bal[1] + PROMOTION_RATE)
    accruals = [t for t in transactions(api, f1, pid) if t["memo"].startswith("promotion")]
    assert [t["id"] for t in accruals] == [lic["transaction_id"]], accruals
    assert len(events(pg, "license.granted", "request_id", req["id"])) == 1
    assert len(audit_of(pg, "license.accept", lic["id"])) == 1
    out = run_admin(pg.url, "admin", "check-ledger")
    assert out.returncode == 0, (out.stdout, out.stderr)


# ---- decline and withdraw ----

def test_decline_with_a_reason(api, pg, people, staff, work):
    artist, token = people["a"]
    req = requested(api, staff, work["id"])
    before = now_utc()
    r = decline(api, token, req["id"], {"reason": "I do not want it in ads."})
    assert r.status == 200, r
    got = assert_request(r.json, work, people["staff"][0], status="declined")
    assert got["id"] == req["id"]
    assert got["decline_reason"] == "I do not want it in ads."
    assert about(got["decided_at"], before, 30), got
    assert got["expires_at"] == req["expires_at"] and got["created_at"] == req["created_at"]
    assert request_status(pg, req["id"]) == "declined"
    assert licenses_for_request(pg, req["id"]) == 0
    assert license_accruals(pg, work["id"]) == 0
    assert audit_of(pg, "license.decline", req["id"]) == [("license_request", artist["id"])]
    [ev] = events(pg, "license.declined", "request_id", req["id"])
    assert ev["use"] == "promotion" and ev["submission_id"] == work["id"], ev


@pytest.mark.parametrize("body", [None, {}])
def test_decline_needs_no_reason(api, pg, staff, a, work, body):
    req = requested(api, staff, work["id"])
    r = decline(api, a, req["id"], body)
    assert r.status == 200, r
    assert r.json["status"] == "declined" and r.json["decline_reason"] is None, r.json


@pytest.mark.parametrize("body,field", [({"reason": 5}, "reason"),
                                        ({"reason": "r" * 2001}, "reason"),
                                        ({"colour": "blue"}, "colour")])
def test_decline_body_problems_are_422(api, pg, staff, a, work, body, field):
    req = requested(api, staff, work["id"])
    assert_invalid(decline(api, a, req["id"], body), field)
    assert request_status(pg, req["id"]) == "pending"


def test_only_the_works_artist_may_decline(api, pg, admin, people, staff, work):
    req = requested(api, staff, work["id"])
    assert_slug(decline(api, people["b"][1], req["id"]), 404, "not-found")
    for token in (staff, admin["token"], people["f1"][1]):
        assert_slug(decline(api, token, req["id"]), 403, "forbidden")
    assert_slug(decline(api, people["a"][1], str(uuid.uuid4())), 404, "not-found")
    assert request_status(pg, req["id"]) == "pending"


def test_staff_withdraws_a_pending_request(api, pg, people, staff, work):
    req = requested(api, staff, work["id"])
    r = withdraw_request(api, people["staff2"][1], req["id"])
    assert r.status == 200, r
    got = assert_request(r.json, work, people["staff"][0], status="withdrawn")
    assert TS_RE.match(got["decided_at"] or ""), got
    assert request_status(pg, req["id"]) == "withdrawn"
    assert audit_of(pg, "license.withdraw", req["id"]) == \
        [("license_request", people["staff2"][0]["id"])]
    assert_slug(accept(api, people["a"][1], req["id"]), 409, "conflict")
    assert licenses_for_request(pg, req["id"]) == 0
    # withdrawing is a state change, announced like every other
    types = pg.psql("SELECT string_agg(event_type, ' ' ORDER BY id) FROM outbox"
                    " WHERE payload ->> 'request_id' = '%s'" % req["id"]).split()
    assert types == ["license.requested", "license.withdrawn"], types


def test_admin_may_withdraw_with_an_empty_body_and_artists_may_not(api, pg, admin, people,
                                                                   staff, work):
    req = requested(api, staff, work["id"])
    for who in ("a", "b", "f1"):
        assert_slug(withdraw_request(api, people[who][1], req["id"]), 403, "forbidden")
    assert_slug(withdraw_request(api, staff, str(uuid.uuid4())), 404, "not-found")
    r = withdraw_request(api, admin["token"], req["id"], {})
    assert r.status == 200, r
    assert r.json["status"] == "withdrawn"


@pytest.mark.parametrize("state", ["accepted", "declined", "withdrawn"])
@pytest.mark.parametrize("action", ["accept", "decline", "withdraw"])
def test_a_request_no_longer_pending_is_409(api, pg, staff, a, work, state, action):
    req = requested(api, staff, work["id"])
    if state == "accepted":
        accepted(api, a, req["id"])
    elif state == "declined":
        assert decline(api, a, req["id"]).status == 200
    else:
        assert withdraw_request(api, staff, req["id"]).status == 200
    r = {"accept": lambda: accept(api, a, req["id"]),
         "decline": lambda: decline(api, a, req["id"], {"reason": "late"}),
         "withdraw": lambda: withdraw_request(api, staff, req["id"])}[action]()
    assert_slug(r, 409, "conflict")
    assert request_status(pg, req["id"]) == state
    assert licenses_for_request(pg, req["id"]) == (1 if state == "accepted" else 0)
    assert license_accruals(pg, work["id"]) == (1 if state == "accepted" else 0)


# ---- POST /v1/licenses/{id}/revoke ----

def test_revoke_ends_the_license_after_the_notice_period(api, pg, people, staff, prog, work):
    artist, token = people["a"]
    _, lic = granted(api, staff, token, work["id"], term_days=365)
    bal = earned(api, token, prog["id"])
    txs = tx_count(pg, prog["id"])
    before = now_utc()
    r = revoke(api, token, lic["id"], {"reason": "I changed my mind."})
    assert r.status == 200, r
    got = r.json
    assert set(got) == LICENSE_KEYS, got
    assert got["id"] == lic["id"] and got["status"] == "ending", got
    assert about(got["until"], before + datetime.timedelta(days=30), 30), got
    assert about(got["revoked_at"], before, 30), got
    assert got["revoke_reason"] == "I changed my mind."
    assert got["ended_at"] is None and got["starts_at"] == lic["starts_at"]
    assert got["transaction_id"] == lic["transaction_id"]
    # the fee stays earned: no reversal
    assert earned(api, token, prog["id"]) == bal
    assert tx_count(pg, prog["id"]) == txs
    # still licensed inside the notice period
    c = checked(api, staff, work["id"])
    assert c == {"licensed": True, "license_id": lic["id"], "until": got["until"]}, c
    assert audit_of(pg, "license.revoke", lic["id"]) == [("license", artist["id"])]
    [ev] = events(pg, "license.revoked", "license_id", lic["id"])
    assert ev["use"] == "promotion" and ev["artist_id"] == artist["id"], ev
    assert events(pg, "license.ended", "license_id", lic["id"]) == []


def test_revoke_keeps_an_until_sooner_than_the_notice(api, staff, a, work):
    _, lic = granted(api, staff, a, work["id"], term_days=10)
    r = revoke(api, a, lic["id"])
    assert r.status == 200, r
    assert r.json["status"] == "ending" and r.json["until"] == lic["until"], (r.json, lic)
    assert r.json["revoke_reason"] is None


def test_revoke_uses_the_notice_in_force_at_revocation(api, staff, a, prog, work):
    _, lic = granted(api, staff, a, work["id"], term_days=365)
    r = patch_program(api, staff, prog["id"], {"license_notice_days": 7})
    assert r.status == 200 and r.json["license_notice_days"] == 7, r
    before = now_utc()
    r = revoke(api, a, lic["id"], {})
    assert r.status == 200, r
    assert r.json["status"] == "ending"
    assert about(r.json["until"], before + datetime.timedelta(days=7), 30), r.json


def test_revoke_with_notice_0_revokes_at_once(api, pg, staff, a, prog, work):
    _, lic = granted(api, staff, a, work["id"])
    _, other = granted(api, staff, a, work["id"], "training")
    assert patch_program(api, staff, prog["id"], {"license_notice_days": 0}).status == 200
    bal = earned(api, a, prog["id"])
    before = now_utc()
    r = revoke(api, a, lic["id"], {"reason": "No."})
    assert r.status == 200, r
    got = r.json
    assert got["status"] == "revoked", got
    assert about(got["until"], before, 30) and about(got["revoked_at"], before, 30), got
    assert TS_RE.match(got["ended_at"] or ""), got
    assert checked(api, staff, work["id"]) == NOT_LICENSED
    assert checked(api, staff, work["id"], "training")["license_id"] == other["id"]
    assert license_status(pg, lic["id"]) == "revoked"
    assert earned(api, a, prog["id"]) == bal
    assert len(events(pg, "license.revoked", "license_id", lic["id"])) == 1
    assert len(events(pg, "license.ended", "license_id", lic["id"])) == 1
    assert_slug(revoke(api, a, lic["id"]), 409, "conflict")


def test_second_revoke_is_409(api, pg, staff, a, work):
    _, lic = granted(api, staff, a, work["id"])
    first = revoke(api, a, lic["id"])
    assert first.status == 200, first
    again = revoke(api, a, lic["id"], {"reason": "again"})
    assert_slug(again, 409, "conflict")
    row = pg.psql("SELECT status, rfc3339(until), revoke_reason IS NULL FROM licenses"
                  " WHERE id = '%s'" % lic["id"])
    assert row == "ending|%s|t" % first.json["until"], row
    assert len(events(pg, "license.revoked", "license_id", lic["id"])) == 1


def test_only_the_works_artist_may_revoke(api, pg, admin, people, staff, work):
    _, lic = granted(api, staff, people["a"][1], work["id"])
    assert_slug(revoke(api, people["b"][1], lic["id"]), 404, "not-found")
    for token in (staff, admin["token"], people["f1"][1]):
        assert_slug(revoke(api, token, lic["id"]), 403, "forbidden")
    assert_slug(revoke(api, people["a"][1], str(uuid.uuid4())), 404, "not-found")
    assert_invalid(revoke(api, people["a"][1], lic["id"], {"reason": 1}), "reason")
    assert license_status(pg, lic["id"]) == "active"


# ---- GET /v1/licenses/check ----

def test_check_is_true_right_after_accept_and_false_otherwise(api, admin, staff, a, prog,
                                                              work):
    assert checked(api, staff, work["id"]) == NOT_LICENSED
    _, lic = granted(api, staff, a, work["id"])
    c = checked(api, staff, work["id"], "promotion")
    assert c == {"licensed": True, "license_id": lic["id"], "until": lic["until"]}, c
    assert checked(api, admin["token"], work["id"]) == c
    assert checked(api, staff, work["id"], "training") == NOT_LICENSED
    unlicensed = approve_new(api, staff, a, prog["id"])
    assert checked(api, staff, unlicensed["id"]) == NOT_LICENSED


def test_check_is_false_while_only_requested_or_after_decline(api, staff, a, work):
    req = requested(api, staff, work["id"])
    assert checked(api, staff, work["id"]) == NOT_LICENSED
    assert decline(api, a, req["id"]).status == 200
    assert checked(api, staff, work["id"]) == NOT_LICENSED


def test_check_names_the_license_ending_last(api, pg, staff, a, prog, work):
    _, short = granted(api, staff, a, work["id"], term_days=10)
    _, long_ = granted(api, staff, a, work["id"], term_days=100)
    c = checked(api, staff, work["id"])
    assert c == {"licensed": True, "license_id": long_["id"], "until": long_["until"]}, c
    assert patch_program(api, staff, prog["id"], {"license_notice_days": 0}).status == 200
    assert revoke(api, a, long_["id"]).status == 200
    c = checked(api, staff, work["id"])
    assert c == {"licensed": True, "license_id": short["id"], "until": short["until"]}, c


def test_check_of_an_unknown_submission_is_404(api, staff):
    r = check(api, staff, submission_id=str(uuid.uuid4()), use="promotion")
    assert_slug(r, 404, "not-found")


@pytest.mark.parametrize("params,field", [
    ({"use": "promotion"}, "submission_id"),
    ({"submission_id": "WORK"}, "use"),
    ({}, "submission_id"),
    ({"submission_id": "nope", "use": "promotion"}, "submission_id"),
    ({"submission_id": "WORK", "use": "marketing"}, "use"),
    ({"submission_id": "WORK", "use": ""}, "use"),
])
def test_check_missing_or_malformed_params_are_422(api, staff, work, params, field):
    params = {k: (work["id"] if v == "WORK" else v) for k, v in params.items()}
    assert_invalid(check(api, staff, **params), field)


@pytest.mark.parametrize("who", ["a", "b", "f1"])
def test_artists_and_finance_may_not_check(api, people, work, who):
    r = check(api, people[who][1], submission_id=work["id"], use="promotion")
    assert_slug(r, 403, "forbidden")
    assert_slug(check(api, None, submission_id=work["id"], use="promotion"), 401,
                "unauthorized")


# ---- the worker: expiry and end ----

def test_worker_expires_an_unanswered_request(api, pg, people, staff, work, workers):
    req = requested(api, staff, work["id"])
    keep = requested(api, staff, work["id"], "training")
    set_expires(pg, req["id"], "now() - interval '1 second'")
    ws = workers(1)
    assert wait_until(lambda: request_status(pg, req["id"]) == "expired", 10), ws[0].logtext()
    time.sleep(0.5)
    assert request_status(pg, keep["id"]) == "pending"
    [got] = [x for x in licenses_of(api, staff, work["id"]).json["requests"]
             if x["id"] == req["id"]]
    assert got["status"] == "expired" and TS_RE.match(got["decided_at"] or ""), got
    assert licenses_for_request(pg, req["id"]) == 0
    assert len(audit_of(pg, "license.expire", req["id"])) == 1
    assert audit_of(pg, "license.expire", req["id"])[0][1] == "", "actor must be null"
    [ev] = events(pg, "license.expired", "request_id", req["id"])
    assert (ev["submission_id"], ev["use"], ev["artist_id"]) == \
        (work["id"], "promotion", people["a"][0]["id"]), ev
    assert_slug(accept(api, people["a"][1], req["id"]), 409, "conflict")
    # silence is not consent, but a new question may be asked
    assert requested(api, staff, work["id"])["status"] == "pending"


def test_accept_past_expires_at_is_409_before_the_worker_runs(api, pg, staff, a, prog, work):
    req = requested(api, staff, work["id"])
    bal = earned(api, a, prog["id"])
    set_expires(pg, req["id"], "now() - interval '1 second'")
    assert_slug(accept(api, a, req["id"]), 409, "conflict")
    assert licenses_for_request(pg, req["id"]) == 0
    assert license_accruals(pg, work["id"]) == 0
    assert earned(api, a, prog["id"]) == bal
    assert request_status(pg, req["id"]) in ("pending", "expired")
    assert events(pg, "license.granted", "request_id", req["id"]) == []


def test_check_is_false_once_until_has_passed_even_before_the_worker(api, pg, staff, a, work):
    _, lic = granted(api, staff, a, work["id"])
    set_until(pg, lic["id"], "now() - interval '1 second'")
    assert checked(api, staff, work["id"]) == NOT_LICENSED
    set_until(pg, lic["id"], "now() + interval '1 hour'")
    assert checked(api, staff, work["id"])["licensed"] is True


def test_worker_ends_licenses_whose_until_passed(api, pg, people, staff, work, workers):
    artist, token = people["a"]
    _, active = granted(api, staff, token, work["id"], "promotion")
    _, ending = granted(api, staff, token, work["id"], "training")
    assert revoke(api, token, ending["id"]).json["status"] == "ending"
    set_until(pg, active["id"], "now() - interval '1 second'")
    set_until(pg, ending["id"], "now() - interval '1 second'")
    assert checked(api, staff, work["id"], "training") == NOT_LICENSED
    ws = workers(1)
    assert wait_until(lambda: license_status(pg, active["id"]) == "ended"
                      and license_status(pg, ending["id"]) == "revoked", 10), ws[0].logtext()
    lics = {x["id"]: x for x in licenses_of(api, token, work["id"]).json["licenses"]}
    assert lics[active["id"]]["status"] == "ended"
    assert TS_RE.match(lics[active["id"]]["ended_at"] or ""), lics
    assert lics[active["id"]]["revoked_at"] is None
    assert lics[ending["id"]]["status"] == "revoked"
    assert TS_RE.match(lics[ending["id"]]["ended_at"] or ""), lics
    for lid in (active["id"], ending["id"]):
        assert [actor for _, actor in audit_of(pg, "license.end", lid)] == [""], lid
        [ev] = events(pg, "license.ended", "license_id", lid)
        assert ev["submission_id"] == work["id"] and ev["artist_id"] == artist["id"], ev
    for use in USES:
        assert checked(api, staff, work["id"], use) == NOT_LICENSED
    assert_slug(revoke(api, token, active["id"]), 409, "conflict")


def test_worker_leaves_licenses_in_force_alone(api, pg, staff, a, work, workers):
    _, lic = granted(api, staff, a, work["id"])
    set_until(pg, lic["id"], "now() + interval '1 hour'")
    ws = workers(1)
    time.sleep(1.0)
    assert license_status(pg, lic["id"]) == "active", ws[0].logtext()
    assert events(pg, "license.ended", "license_id", lic["id"]) == []


def test_deemed_approved_work_may_be_licensed(api, pg, staff, a, prog, workers):
    s = submitted(api, a, prog["id"])
    pg.psql("UPDATE submissions SET review_due_at = now() WHERE id = '%s'" % s["id"])
    ws = workers(1)
    assert wait_until(lambda: pg.psql("SELECT status FROM submissions WHERE id = '%s'"
                                      % s["id"]) == "deemed_approved", 10), ws[0].logtext()
    req = requested(api, staff, s["id"])
    assert accepted(api, a, req["id"])["status"] == "active"


def test_accepts_racing_expiry_never_leave_a_mix(api, pg, staff, a, prog, workers):
    pid = prog["id"]
    n, per = 7, 4
    subs = [approve_new(api, staff, a, pid) for _ in range(n)]
    reqs = [requested(api, staff, s["id"]) for s in subs]
    bal = earned(api, a, pid)
    workers(1, FAIRBETA_WORKER_TICK_MS="50")
    ids = ",".join("'%s'" % r["id"] for r in reqs)
    deadline = float(pg.psql(
        "UPDATE license_requests SET expires_at = now() + interval '2.5 seconds'"
        " WHERE id IN (%s) RETURNING extract(epoch FROM expires_at)" % ids).splitlines()[0])
    offsets = [-1.2, -0.3, -0.1, 0.0, 0.05, 0.15, 1.2]          # one per request

    def go(i):
        k = i // per
        delay = deadline + offsets[k] - time.time()
        if delay > 0:
            time.sleep(delay)
        return k, accept(api, a, reqs[k]["id"])

    results = run_at_once(n * per, go)
    assert wait_until(lambda: pg.psql("SELECT count(*) FROM license_requests WHERE id IN (%s)"
                                      " AND status = 'pending'" % ids) == "0", 6)
    by_req = collections.defaultdict(list)
    for k, r in results:
        assert r.status in (200, 409), r
        by_req[k].append(r)
    outcomes = []
    for k, req in enumerate(reqs):
        status = request_status(pg, req["id"])
        oks = [r for r in by_req[k] if r.status == 200]
        lics = licenses_for_request(pg, req["id"])
        accruals = license_accruals(pg, subs[k]["id"])
        granted_events = len(events(pg, "license.granted", "request_id", req["id"]))
        expired_events = len(events(pg, "license.expired", "request_id", req["id"]))
        state = (status, len(oks), lics, accruals, granted_events, expired_events)
        assert state in (("accepted", 1, 1, 1, 1, 0), ("expired", 0, 0, 0, 0, 1)), (k, state)
        if oks:
            assert pg.psql("SELECT id FROM licenses WHERE request_id = '%s'"
                           % req["id"]) == oks[0].json["id"]
        outcomes.append(status)
    # well before the deadline it is accepted; well after, no answer counts
    assert outcomes[0] == "accepted" and outcomes[-1] == "expired", outcomes
    n_ok = outcomes.count("accepted")
    assert earned(api, a, pid) == (bal[0] + n_ok * PROMOTION_RATE,
                                   bal[1] + n_ok * PROMOTION_RATE)
    out = run_admin(pg.url, "admin", "check-ledger")
    assert out.returncode == 0, (out.stdout, out.stderr)


# ---- lists ----

def test_submission_licenses_list_requests_and_licenses_newest_first(api, admin, people, staff,
                                                                     work):
    a = people["a"][1]
    r1 = requested(api, staff, work["id"], "promotion")
    assert decline(api, a, r1["id"]).status == 200
    r2, l2 = granted(api, staff, a, work["id"], "promotion")
    r3, l3 = granted(api, staff, a, work["id"], "training")
    r4 = requested(api, staff, work["id"], "promotion")
    for token in (a, staff, admin["token"]):
        r = licenses_of(api, token, work["id"])
        assert r.status == 200, r
        body = r.json
        assert set(body) == {"requests", "licenses"}, body
        assert [x["id"] for x in body["requests"]] == [r4["id"], r3["id"], r2["id"], r1["id"]]
        assert [x["status"] for x in body["requests"]] == \
            ["pending", "accepted", "accepted", "declined"]
        for x in body["requests"]:
            assert set(x) == REQUEST_KEYS, x
        assert [x["id"] for x in body["licenses"]] == [l3["id"], l2["id"]]
        for x in body["licenses"]:
            assert set(x) == LICENSE_KEYS, x
        assert body["licenses"][1] == l2


def test_submission_licenses_of_another_artist_is_404(api, people, staff, work):
    requested(api, staff, work["id"])
    assert_slug(licenses_of(api, people["b"][1], work["id"]), 404, "not-found")
    assert_slug(licenses_of(api, people["f1"][1], work["id"]), 403, "forbidden")
    assert_slug(licenses_of(api, staff, str(uuid.uuid4())), 404, "not-found")
    assert_slug(licenses_of(api, None, work["id"]), 401, "unauthorized")


def test_submission_without_license_activity_lists_nothing(api, staff, work):
    r = licenses_of(api, staff, work["id"])
    assert r.status == 200, r
    assert r.json == {"requests": [], "licenses": []}


def test_my_license_requests_filter_and_page(api, people, staff, prog):
    token = people["b"][1]
    works = [approve_new(api, staff, token, prog["id"]) for _ in range(3)]
    mine = []
    for w in works:
        for use in USES:
            mine.append(requested(api, staff, w["id"], use))
    assert decline(api, token, mine[0]["id"]).status == 200
    assert withdraw_request(api, staff, mine[1]["id"]).status == 200
    accepted(api, token, mine[2]["id"])
    other = approve_new(api, staff, people["a"][1], prog["id"])
    requested(api, staff, other["id"])          # artist a's, never in b's list
    items = list_all(api, token, "/v1/me/license-requests")
    ids = [x["id"] for x in items]
    assert ids[:6] == [x["id"] for x in reversed(mine)], items
    assert all(x["artist_id"] == people["b"][0]["id"] for x in items)
    for x in items:
        assert set(x) == REQUEST_KEYS, x
    assert len(set(ids)) == len(ids)
    assert list_all(api, token, "/v1/me/license-requests", limit=1) == items
    r = api.request("GET", "/v1/me/license-requests?limit=2", token=token)
    assert r.status == 200 and len(r.json["items"]) == 2 and r.json["next_cursor"], r
    for status, expected in (("declined", [mine[0]]), ("withdrawn", [mine[1]]),
                             ("accepted", [mine[2]]),
                             ("pending", list(reversed(mine[3:])))):
        got = list_all(api, token, "/v1/me/license-requests", status=status)
        assert [x["id"] for x in got][:len(expected)] == [x["id"] for x in expected], status
        assert all(x["status"] == status for x in got), got
    expired = list_all(api, token, "/v1/me/license-requests", status="expired")
    assert not {x["id"] for x in expired} & {x["id"] for x in mine}, expired


@pytest.mark.parametrize("query,field", [("status=open", "status"), ("limit=0", "limit"),
                                         ("limit=201", "limit"), ("cursor=%%%%junk", "cursor")])
def test_my_license_requests_bad_query_is_422(api, people, query, field):
    r = api.request("GET", "/v1/me/license-requests?" + query, token=people["a"][1])
    assert_invalid(r, field)


@pytest.mark.parametrize("who", ["staff", "f1"])
def test_my_license_requests_is_for_artists(api, people, who):
    r = api.request("GET", "/v1/me/license-requests", token=people[who][1])
    assert_slug(r, 403, "forbidden")


def test_program_licenses_filter_by_use_and_status(api, admin, pg, people, staff, f1, prog):
    a = people["a"][1]
    w1 = approve_new(api, staff, a, prog["id"])
    w2 = approve_new(api, staff, people["b"][1], prog["id"])
    _, p1 = granted(api, staff, a, w1["id"], "promotion")
    _, t1 = granted(api, staff, a, w1["id"], "training")
    _, p2 = granted(api, staff, people["b"][1], w2["id"], "promotion")
    assert revoke(api, a, p1["id"]).json["status"] == "ending"
    path = "/v1/programs/%s/licenses" % prog["id"]
    for token in (staff, f1, admin["token"]):
        items = list_all(api, token, path)
        assert [x["id"] for x in items] == [p2["id"], t1["id"], p1["id"]], items
        for x in items:
            assert set(x) == LICENSE_KEYS, x
    assert list_all(api, staff, path, limit=1) == list_all(api, staff, path)
    assert [x["id"] for x in list_all(api, staff, path, use="promotion")] == \
        [p2["id"], p1["id"]]
    assert [x["id"] for x in list_all(api, staff, path, use="training")] == [t1["id"]]
    assert [x["id"] for x in list_all(api, staff, path, status="ending")] == [p1["id"]]
    assert [x["id"] for x in list_all(api, staff, path, status="active")] == \
        [p2["id"], t1["id"]]
    assert [x["id"] for x in list_all(api, staff, path, use="training", status="active")] == \
        [t1["id"]]
    assert list_all(api, staff, path, use="training", status="ending") == []
    assert list_all(api, staff, path, status="revoked") == []


def test_program_licenses_roles_and_problems(api, people, staff, prog):
    path = "/v1/programs/%s/licenses" % prog["id"]
    for who in ("a", "b"):
        assert_slug(api.request("GET", path, token=people[who][1]), 403, "forbidden")
    assert_slug(api.request("GET", path), 401, "unauthorized")
    assert_slug(api.request("GET", "/v1/programs/%s/licenses" % uuid.uuid4(), token=staff),
                404, "not-found")
    for query, field in (("use=marketing", "use"), ("status=pending", "status"),
                         ("limit=0", "limit"), ("colour=blue", "colour")):
        assert_invalid(api.request("GET", path + "?" + query, token=staff), field)
    r = api.request("GET", path, token=staff)
    assert r.status == 200 and r.json == {"items": [], "next_cursor": None}, r


# ---- events, emails, webhooks, audit ----

def test_license_events_are_in_the_notification_preferences(api, people):
    r = get_prefs(api, people["a"][1])
    assert r.status == 200, r
    for t in LICENSE_EVENTS:
        assert r.json["email"].get(t) is True, (t, r.json)
    # the six of the contract, no others
    assert set(EVENT_TYPES) >= set(LICENSE_EVENTS)
    assert sorted(r.json["email"]) == sorted(EVENT_TYPES), sorted(r.json["email"])


def test_license_request_is_emailed_to_the_artist_unless_turned_off(api, pg, smtp, people,
                                                                    staff, workers):
    artist, token = people["a"]
    quiet, quiet_token = people["quiet"]
    r = put_prefs(api, quiet_token, {"license.requested": False})
    assert r.status == 200, r
    assert r.json["email"]["license.requested"] is False
    p = license_program(api, staff, [token, quiet_token])
    w = approve_new(api, staff, token, p["id"], title="Lantern field")
    q = approve_new(api, staff, quiet_token, p["id"], title="Quiet field")
    req = requested(api, staff, w["id"], note=NOTE)
    qreq = requested(api, staff, q["id"])
    eid = pg.psql("SELECT event_id FROM outbox WHERE event_type = 'license.requested'"
                  " AND payload ->> 'request_id' = '%s'" % req["id"])
    qeid = pg.psql("SELECT event_id FROM outbox WHERE event_type = 'license.requested'"
                   " AND payload ->> 'request_id' = '%s'" % qreq["id"])
    assert eid and qeid
    workers(1)

    def mails_of(address, event):
        return [m for m in smtp.to(address) if event in body_text(m)]

    mails = wait_until(lambda: mails_of(artist["email"], eid), 20)
    assert mails, [m["raw"][:600] for m in smtp.to(artist["email"])]
    # quiet's other mail (accrual.posted of the approval) proves the worker got to them
    assert wait_until(lambda: pg.psql(
        "SELECT count(*) FROM outbox WHERE event_id IN ('%s', '%s')"
        " AND dispatched_at IS NOT NULL" % (eid, qeid)) == "2", 20)
    assert wait_until(lambda: len(smtp.to(quiet["email"])) >= 2, 20), \
        [m["raw"][:600] for m in smtp.to(quiet["email"])]
    time.sleep(1.0)
    [m] = mails_of(artist["email"], eid)
    assert [x.lower() for x in m["rcpt_tos"]] == [artist["email"]]
    assert str(m["msg"]["Subject"]).startswith("[fairbeta]"), m["msg"]["Subject"]
    assert "license.requested" in body_text(m)
    assert mails_of(quiet["email"], qeid) == []
    assert pg.psql("SELECT count(*) FROM deliveries WHERE channel = 'email'"
                   " AND event_id = '%s'" % qeid) == "0"
    assert pg.psql("SELECT count(*) FROM deliveries WHERE channel = 'email'"
                   " AND event_id = '%s' AND user_id = '%s'" % (eid, artist["id"])) == "1"
    # only the artist is mailed about a request (not the staff who asked)
    assert pg.psql("SELECT count(*) FROM deliveries WHERE channel = 'email'"
                   " AND event_id = '%s'" % eid) == "1"


def test_license_request_email_says_what_is_asked(api, pg, smtp, people, staff, workers):
    """Design-silent, but the email is what an artist answers within 30 days:
    it names the work, the use, the fee and the request to accept or decline."""
    artist, token = people["b"]
    p = license_program(api, staff, [token])
    w = approve_new(api, staff, token, p["id"], title="Harbour lights")
    req = requested(api, staff, w["id"], "training", fee_minor=TRAINING_RATE + 1234)
    eid = pg.psql("SELECT event_id FROM outbox WHERE event_type = 'license.requested'"
                  " AND payload ->> 'request_id' = '%s'" % req["id"])
    workers(1)
    mails = wait_until(lambda: [m for m in smtp.to(artist["email"]) if eid in body_text(m)], 20)
    assert len(mails) == 1, [m["raw"][:600] for m in smtp.to(artist["email"])]
    text = body_text(mails[0])
    assert "Harbour lights" in text and w["id"] in text, text
    assert "training" in text, text
    assert req["id"] in text, text
    assert "%d.%02d" % divmod(TRAINING_RATE + 1234, 100) in text, text


def test_webhook_receives_license_granted_signed(pg, dapi, people, staff, workers, receiver):
    artist, token = people["a"]
    p = license_program(dapi, staff, [token])
    hook = created_webhook(dapi, staff, p["id"], url=receiver.url, events=["license.granted"])
    try:
        w = approve_new(dapi, staff, token, p["id"])
        req, lic = granted(dapi, staff, token, w["id"], "training")
        eid = pg.psql("SELECT event_id FROM outbox WHERE event_type = 'license.granted'"
                      " AND payload ->> 'license_id' = '%s'" % lic["id"])
        assert eid
        workers(1)
        assert wait_until(lambda: [r for r in receiver.requests()
                                   if r["headers"].get("webhook-id") == eid], 20), \
            (receiver.requests(), pg.psql("SELECT * FROM deliveries WHERE webhook_id = '%s'"
                                          % hook["id"]))
        time.sleep(1.0)
        [req_] = receiver.requests()           # license.requested was not subscribed to
        body = check_webhook_request(req_, hook["secret"], eid, "license.granted")
        data = body["data"]
        assert data == event_payload(pg, eid)
        assert (data["license_id"], data["request_id"], data["program_id"],
                data["submission_id"], data["artist_id"], data["use"]) == \
            (lic["id"], req["id"], p["id"], w["id"], artist["id"], "training"), data
    finally:
        retire_webhooks(pg, [hook["id"]])


def test_webhook_may_subscribe_to_every_license_event(pg, dapi, staff, prog):
    hook = created_webhook(dapi, staff, prog["id"], events=list(LICENSE_EVENTS))
    try:
        assert sorted(hook["events"]) == sorted(LICENSE_EVENTS)
    finally:
        retire_webhooks(pg, [hook["id"]])


def test_every_license_action_writes_its_audit_row(api, pg, people, staff, prog, work,
                                                   workers):
    a_user, a = people["a"]
    staff_id = people["staff"][0]["id"]
    declined = requested(api, staff, work["id"], "promotion")
    assert decline(api, a, declined["id"]).status == 200
    withdrawn = requested(api, staff, work["id"], "promotion")
    assert withdraw_request(api, staff, withdrawn["id"]).status == 200
    req, lic = granted(api, staff, a, work["id"], "promotion")
    assert revoke(api, a, lic["id"]).status == 200
    expiring = requested(api, staff, work["id"], "training")
    set_expires(pg, expiring["id"], "now() - interval '1 second'")
    set_until(pg, lic["id"], "now() - interval '1 second'")
    ws = workers(1)
    assert wait_until(lambda: request_status(pg, expiring["id"]) == "expired"
                      and license_status(pg, lic["id"]) == "revoked", 10), ws[0].logtext()
    for r in (declined, withdrawn, req, expiring):
        rows = audit_of(pg, "license.request", r["id"])
        assert [actor for _, actor in rows] == [staff_id], (r["id"], rows)
    assert audit_of(pg, "license.decline", declined["id"]) == [("license_request", a_user["id"])]
    assert audit_of(pg, "license.withdraw", withdrawn["id"]) == [("license_request", staff_id)]
    assert audit_of(pg, "license.accept", lic["id"]) == [("license", a_user["id"])]
    assert audit_of(pg, "license.revoke", lic["id"]) == [("license", a_user["id"])]
    assert audit_of(pg, "license.expire", expiring["id"]) == [("license_request", "")]
    assert audit_of(pg, "license.end", lic["id"]) == [("license", "")]


# ---- transparency ----

def test_transparency_counts_license_requests_and_fees(api, staff, people, prog):
    a, b = people["a"][1], people["b"][1]
    t = transparency(api, prog["id"])
    assert t["license_requests"] == [], t
    assert t["license_fees_minor"] == {"promotion": 0, "training": 0}, t
    w1 = approve_new(api, staff, a, prog["id"])
    w2 = approve_new(api, staff, b, prog["id"])
    _, p1 = granted(api, staff, a, w1["id"], "promotion", fee_minor=PROMOTION_RATE + 1)
    granted(api, staff, b, w2["id"], "promotion")
    granted(api, staff, a, w1["id"], "training")
    d = requested(api, staff, w2["id"], "training")
    assert decline(api, b, d["id"]).status == 200
    requested(api, staff, w2["id"], "training")
    x = requested(api, staff, w1["id"], "promotion")
    assert withdraw_request(api, staff, x["id"]).status == 200
    assert revoke(api, a, p1["id"]).status == 200          # fees stay earned
    t = transparency(api, prog["id"])
    assert t["license_requests"] == [
        {"use": "promotion", "outcome": "accepted", "count": 2},
        {"use": "promotion", "outcome": "withdrawn", "count": 1},
        {"use": "training", "outcome": "accepted", "count": 1},
        {"use": "training", "outcome": "declined", "count": 1},
        {"use": "training", "outcome": "pending", "count": 1}], t["license_requests"]
    assert t["license_fees_minor"] == {"promotion": 2 * PROMOTION_RATE + 1,
                                       "training": TRAINING_RATE}, t
    assert transparency(api, prog["id"], staff) == t


# ---- the program's license_notice_days and the rate card ----

def test_license_notice_days_defaults_to_30(api, staff):
    p = make_program(api, staff)
    assert p["license_notice_days"] == 30, p
    assert get_program(api, staff, p["id"]).json["license_notice_days"] == 30


@pytest.mark.parametrize("days", [0, 1, 365])
def test_license_notice_days_is_set_on_post_and_patch(api, staff, days):
    p = make_program(api, staff, license_notice_days=days)
    assert p["license_notice_days"] == days
    new = 365 - days if days != 365 - days else 7
    r = patch_program(api, staff, p["id"], {"license_notice_days": new})
    assert r.status == 200, r
    assert r.json["license_notice_days"] == new
    assert r.header("ETag") == '"v2"', r.headers
    assert get_program(api, staff, p["id"]).json["license_notice_days"] == new


def test_license_notice_days_may_change_on_an_open_program(api, staff, prog):
    r = patch_program(api, staff, prog["id"], {"license_notice_days": 90})
    assert r.status == 200, r
    assert r.json["license_notice_days"] == 90 and r.json["status"] == "open"


@pytest.mark.parametrize("value", [-1, 366, "30", 1.5, None, True])
def test_license_notice_days_outside_0_to_365_is_422(api, pg, staff, value):
    body = program_body(license_notice_days=value)
    assert_invalid(api.request("POST", "/v1/programs", body, token=staff),
                   "license_notice_days")
    assert pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'" % body["slug"]) == "0"
    p = make_program(api, staff)
    assert_invalid(patch_program(api, staff, p["id"], {"license_notice_days": value}),
                   "license_notice_days")
    g = get_program(api, staff, p["id"])
    assert g.json["license_notice_days"] == 30 and g.header("ETag") == '"v1"'


def test_rate_card_lists_seven_kinds_in_order(api, staff):
    p = make_program(api, staff)
    card = put_rates(api, staff, p["id"], [{"kind": "training_license", "amount_minor": 700},
                                           {"kind": "work", "amount_minor": 5}])
    assert card["rates"] == [{"kind": "work", "amount_minor": 5},
                             {"kind": "bug_report", "amount_minor": 0},
                             {"kind": "feedback", "amount_minor": 0},
                             {"kind": "session_hour", "amount_minor": 0},
                             {"kind": "exhibition", "amount_minor": 0},
                             {"kind": "promotion_license", "amount_minor": 0},
                             {"kind": "training_license", "amount_minor": 700}]
    full = put_rates(api, staff, p["id"], license_rates())
    assert [r["kind"] for r in full["rates"]] == [
        "work", "bug_report", "feedback", "session_hour", "exhibition", "promotion_license",
        "training_license"]
    assert full["rates"][5:] == [{"kind": "promotion_license", "amount_minor": PROMOTION_RATE},
                                 {"kind": "training_license", "amount_minor": TRAINING_RATE}]
    got = api.request("GET", "/v1/programs/%s/rates" % p["id"], token=staff)
    assert got.status == 200 and got.json == full, got


def test_rate_card_of_eight_entries_is_422(api, staff):
    p = make_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"],
                    {"rates": license_rates() + [{"kind": "work", "amount_minor": 1}]},
                    token=staff)
    assert_invalid(r, "rates")


def test_a_program_need_not_have_license_rates_to_open(api, staff, a):
    p = license_program(api, staff, [a], promotion=None, training=None)
    assert p["status"] == "open"
