"""Programs, terms and rate cards (API.md, "Programs, terms, rates"): creating
and editing programs under If-Match, who sees which program, the draft → open
→ closed lifecycle and the rules for opening (no unpaid programs, no undefined
"confidential" or "responsible use"), immutable terms versions and rate card
versions, and the audit and outbox rows these changes write.

The helpers at the top (make_program, publish_terms, put_rates, open_program,
...) are shared with test_enrollments.py."""

import collections
import concurrent.futures
import datetime
import json
import re
import subprocess
import threading
import urllib.parse
import uuid

import pytest

from harness import PROBLEM_PREFIX, UUID_RE, assert_problem

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
ETAG_RE = re.compile(r'^"v(\d+)"$')
MAX_BODY = 1048576

PROGRAM_KEYS = {"id", "slug", "name", "description", "currency", "capacity",
                "review_sla_hours", "sharing", "public_transparency", "submission_kinds",
                "status", "created_at", "updated_at", "opened_at", "closed_at",
                "license_notice_days"}
TERMS_KEYS = {"program_id", "version", "clauses", "confidential_until", "published_at",
              "published_by"}
RATES_KEYS = {"program_id", "version", "currency", "effective_at", "rates"}
RATE_KINDS = ["work", "bug_report", "feedback", "session_hour", "exhibition",
              "promotion_license", "training_license"]
SUBMISSION_KINDS = ["work", "bug_report", "feedback", "session"]
RATE_KIND_OF = {"work": "work", "bug_report": "bug_report", "feedback": "feedback",
                "session": "session_hour"}

CLAUSES = [
    {"key": "confidentiality", "kind": "confidentiality", "title": "What stays confidential",
     "body": "Only unreleased model outputs marked confidential by staff. Nothing else."},
    {"key": "responsible-use", "kind": "responsible_use", "title": "Responsible use",
     "body": "Do not publish outputs that depict real people without their consent."},
    {"key": "pay", "kind": "compensation", "title": "Pay",
     "body": "Every accepted contribution is paid at the published rate card."},
]
FULL_RATES = [{"kind": "work", "amount_minor": 5000},
              {"kind": "bug_report", "amount_minor": 2000},
              {"kind": "feedback", "amount_minor": 1000},
              {"kind": "session_hour", "amount_minor": 3000},
              {"kind": "exhibition", "amount_minor": 10000}]


# ---- helpers (also used by test_enrollments.py) ----

def problem_type(slug):
    return PROBLEM_PREFIX + slug


def assert_slug(r, status, slug):
    """A problem document of this status whose type ends in this slug."""
    p = assert_problem(r, status)
    assert p["type"] == problem_type(slug), p
    return p


def assert_invalid(r, *fields):
    """A 422 `validation` problem whose errors name each of these fields (or an
    element of it: `submission_kinds[1]` names `submission_kinds`)."""
    p = assert_slug(r, 422, "validation")
    errors = p.get("errors")
    assert isinstance(errors, list) and errors, p
    for e in errors:
        assert isinstance(e.get("field"), str), e
        assert isinstance(e.get("message"), str) and e["message"], e
    named = {e["field"] for e in errors}
    for f in fields:
        assert any(n == f or n.startswith(f + "[") for n in named), (f, p)
    return p


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fresh_slug(tag="prog"):
    return "%s-%s" % (tag, uuid.uuid4().hex[:12])


def program_body(**over):
    body = {"slug": fresh_slug(), "name": "Image Model Beta", "currency": "EUR",
            "capacity": 10, "review_sla_hours": 72}
    body.update(over)
    return body


def make_program(api, token, **over):
    r = api.request("POST", "/v1/programs", program_body(**over), token=token)
    assert r.status == 201, r
    return r.json


def get_program(api, token, pid):
    return api.request("GET", "/v1/programs/%s" % pid, token=token)


def etag_of(api, token, pid):
    r = get_program(api, token, pid)
    assert r.status == 200, r
    tag = r.header("ETag")
    assert tag and ETAG_RE.match(tag), r.headers
    return tag


def revision(tag):
    return int(ETAG_RE.match(tag).group(1))


def patch_program(api, token, pid, body, if_match="current", raw=None, **kw):
    """PATCH with If-Match: the current ETag (read first), a given value, or none (None)."""
    headers = {}
    if if_match == "current":
        headers["If-Match"] = etag_of(api, token, pid)
    elif if_match is not None:
        headers["If-Match"] = if_match
    return api.request("PATCH", "/v1/programs/%s" % pid, body, token=token, headers=headers,
                       raw=raw, **kw)


def set_status(api, token, pid, status):
    r = patch_program(api, token, pid, {"status": status})
    assert r.status == 200, r
    assert r.json["status"] == status
    return r.json


def publish_terms(api, token, pid, clauses=None, **extra):
    body = dict({"clauses": CLAUSES if clauses is None else clauses}, **extra)
    r = api.request("POST", "/v1/programs/%s/terms" % pid, body, token=token)
    assert r.status == 201, r
    return r.json


def put_rates(api, token, pid, rates=None):
    r = api.request("PUT", "/v1/programs/%s/rates" % pid,
                    {"rates": FULL_RATES if rates is None else rates}, token=token)
    assert r.status == 200, r
    return r.json


def openable_program(api, token, **over):
    """A draft program with complete terms (v1) and a rate card paying every kind."""
    p = make_program(api, token, **over)
    publish_terms(api, token, p["id"])
    put_rates(api, token, p["id"])
    return p


def open_program(api, token, **over):
    """An open program with terms v1 and a full rate card; returns the PATCH response body."""
    p = openable_program(api, token, **over)
    return set_status(api, token, p["id"], "open")


def closed_program(api, token, **over):
    p = open_program(api, token, **over)
    return set_status(api, token, p["id"], "closed")


def list_all(api, token, path, limit=200, **params):
    """Walks every page of a list; returns the items in order."""
    items, cursor, pages = [], None, 0
    while True:
        q = dict(params, limit=limit)
        if cursor is not None:
            q["cursor"] = cursor
        r = api.request("GET", path + "?" + urllib.parse.urlencode(q), token=token)
        assert r.status == 200, r
        body = r.json
        assert set(body) == {"items", "next_cursor"}, body
        assert len(body["items"]) <= limit
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert isinstance(cursor, str) and cursor
        assert body["items"], "a page with a next_cursor must not be empty"
        assert pages < 500


def run_at_once(n, fn):
    """Calls fn(i) for i in 0..n-1 on n threads released together; returns the results."""
    barrier = threading.Barrier(n, timeout=30)

    def go(i):
        barrier.wait()
        return fn(i)

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        return list(ex.map(go, range(n)))


def audit_actions(pg, entity_id):
    out = pg.psql("SELECT action FROM audit_log WHERE entity_id = '%s' ORDER BY id" % entity_id)
    return out.split() if out else []


def audit_count(pg, action, program_id):
    """Rows of this action that concern this program (by entity_id or in `after`)."""
    return int(pg.psql("SELECT count(*) FROM audit_log WHERE action = '%s' AND"
                       " (entity_id LIKE '%s%%' OR after::text LIKE '%%%s%%')"
                       % (action, program_id, program_id)))


def outbox_rows(pg, event_type, program_id):
    out = pg.psql("SELECT payload FROM outbox WHERE event_type = '%s' AND program_id = '%s'"
                  " ORDER BY id" % (event_type, program_id))
    return [json.loads(line) for line in out.splitlines()] if out else []


@pytest.fixture(scope="module")
def users(api, admin):
    """{role: (user_json, token)} for staff, finance and two artists."""
    out = {role: api.create_user(admin["token"], role) for role in ("staff", "finance")}
    out["artist"] = api.create_user(admin["token"], "artist")
    out["artist2"] = api.create_user(admin["token"], "artist")
    return out


@pytest.fixture(scope="module")
def staff(users):
    return users["staff"][1]


# ---- POST /v1/programs ----

def test_create_program_is_201_draft_with_defaults(api, staff):
    body = program_body()
    r = api.request("POST", "/v1/programs", body, token=staff)
    assert r.status == 201, r
    assert (r.header("Content-Type") or "").startswith("application/json")
    p = r.json
    assert set(p) == PROGRAM_KEYS, p
    assert UUID_RE.match(p["id"])
    assert p["slug"] == body["slug"]
    assert p["name"] == "Image Model Beta"
    assert p["description"] == ""
    assert p["currency"] == "EUR"
    assert p["capacity"] == 10
    assert p["review_sla_hours"] == 72
    assert p["sharing"] == "after_review"
    assert p["public_transparency"] is True
    assert sorted(p["submission_kinds"]) == sorted(SUBMISSION_KINDS)
    assert p["status"] == "draft"
    assert TS_RE.match(p["created_at"]) and TS_RE.match(p["updated_at"]), p
    assert p["opened_at"] is None and p["closed_at"] is None


def test_create_program_with_every_optional_field(api, staff):
    body = program_body(description="Line one.\nLine two.", sharing="open",
                        public_transparency=False, submission_kinds=["feedback", "work"],
                        currency="JPY", capacity=1, review_sla_hours=720)
    r = api.request("POST", "/v1/programs", body, token=staff)
    assert r.status == 201, r
    p = r.json
    assert p["description"] == "Line one.\nLine two."
    assert p["sharing"] == "open"
    assert p["public_transparency"] is False
    assert sorted(p["submission_kinds"]) == ["feedback", "work"]
    assert p["currency"] == "JPY"
    assert p["capacity"] == 1 and p["review_sla_hours"] == 720


@pytest.mark.parametrize("over", [
    {"capacity": 100000}, {"review_sla_hours": 1}, {"currency": "USD"}, {"name": "x" * 200},
    {"description": "d" * 10000}, {"submission_kinds": ["session"]}, {"sharing": "after_review"},
])
def test_create_program_boundary_values_are_accepted(api, staff, over):
    r = api.request("POST", "/v1/programs", program_body(**over), token=staff)
    assert r.status == 201, r
    for k, v in over.items():
        assert r.json[k] == v, (k, r.json[k])


@pytest.mark.parametrize("slug", [lambda: uuid.uuid4().hex[:3],
                                  lambda: ("s" * 32 + uuid.uuid4().hex)[:64],
                                  lambda: "a1-b2-" + uuid.uuid4().hex[:6]])
def test_slug_limits_are_inclusive(api, staff, slug):
    s = slug()
    r = api.request("POST", "/v1/programs", program_body(slug=s), token=staff)
    assert r.status == 201, r
    assert r.json["slug"] == s


def test_admin_may_create_programs(api, admin):
    r = api.request("POST", "/v1/programs", program_body(), token=admin["token"])
    assert r.status == 201, r
    assert r.json["status"] == "draft"


def test_create_program_writes_one_audit_row(api, staff, pg):
    p = make_program(api, staff)
    actions = audit_actions(pg, p["id"])
    assert len(actions) == 1, actions
    assert actions[0].startswith("program."), actions


def test_create_program_needs_a_token(api, pg):
    body = program_body()
    assert_slug(api.request("POST", "/v1/programs", body), 401, "unauthorized")
    assert pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'" % body["slug"]) == "0"


@pytest.mark.parametrize("role", ["artist", "finance"])
def test_artist_and_finance_may_not_create_programs(api, users, pg, role):
    body = program_body()
    r = api.request("POST", "/v1/programs", body, token=users[role][1])
    assert_slug(r, 403, "forbidden")
    assert pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'" % body["slug"]) == "0"


def test_duplicate_slug_is_409_conflict(api, staff, pg):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs", program_body(slug=p["slug"]), token=staff)
    assert_slug(r, 409, "conflict")
    assert pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'" % p["slug"]) == "1"


def test_create_program_malformed_json_is_400(api, staff):
    r = api.request("POST", "/v1/programs", raw=b'{"slug": "abc",', token=staff)
    p = assert_slug(r, 400, "malformed-json")
    assert "errors" not in p


def test_create_program_wrong_content_type_is_415(api, staff):
    raw = json.dumps(program_body()).encode()
    r = api.request("POST", "/v1/programs", raw=raw, token=staff, content_type="text/plain")
    assert_slug(r, 415, "unsupported-media-type")


def test_create_program_body_over_the_limit_is_413(api, staff):
    raw = json.dumps(program_body(description="x" * (MAX_BODY + 10))).encode()
    r = api.request("POST", "/v1/programs", raw=raw, token=staff)
    assert_slug(r, 413, "payload-too-large")


@pytest.mark.parametrize("over,field", [
    ({"slug": "ab"}, "slug"),
    ({"slug": "a" * 65}, "slug"),
    ({"slug": "Has-Upper"}, "slug"),
    ({"slug": "trailing-"}, "slug"),
    ({"slug": "-leading"}, "slug"),
    ({"slug": "double--dash"}, "slug"),
    ({"slug": "under_score"}, "slug"),
    ({"slug": 123}, "slug"),
    ({"name": ""}, "name"),
    ({"name": "two\nlines"}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": None}, "name"),
    ({"description": "d" * 10001}, "description"),
    ({"currency": "eur"}, "currency"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": "EURO"}, "currency"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": 100001}, "capacity"),
    ({"capacity": "10"}, "capacity"),
    ({"capacity": 1.5}, "capacity"),
    ({"review_sla_hours": 0}, "review_sla_hours"),
    ({"review_sla_hours": 721}, "review_sla_hours"),
    ({"sharing": "public"}, "sharing"),
    ({"public_transparency": "yes"}, "public_transparency"),
    ({"submission_kinds": []}, "submission_kinds"),
    ({"submission_kinds": ["work", "work"]}, "submission_kinds"),
    ({"submission_kinds": ["video"]}, "submission_kinds"),
    ({"submission_kinds": "work"}, "submission_kinds"),
    ({"status": "open"}, "status"),
    ({"colour": "blue"}, "colour"),
])
def test_create_program_field_problems_are_422_naming_the_field(api, staff, pg, over, field):
    body = program_body(**over)
    r = api.request("POST", "/v1/programs", body, token=staff)
    assert_invalid(r, field)
    if isinstance(body["slug"], str):
        assert pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'"
                       % body["slug"].replace("'", "''")) == "0"


def test_create_program_missing_fields_are_each_named(api, staff):
    r = api.request("POST", "/v1/programs", {}, token=staff)
    assert_invalid(r, "slug", "name", "currency", "capacity", "review_sla_hours")


# ---- GET /v1/programs/{id} ----

def test_get_program_returns_it_with_etag_v1(api, staff):
    p = make_program(api, staff)
    r = get_program(api, staff, p["id"])
    assert r.status == 200, r
    assert r.json == p
    assert r.header("ETag") == '"v1"', r.headers


def test_get_program_if_none_match_current_tag_is_304(api, staff):
    p = make_program(api, staff)
    r = api.request("GET", "/v1/programs/%s" % p["id"], token=staff,
                    headers={"If-None-Match": '"v1"'})
    assert r.status == 304, r
    assert r.body == b""
    assert r.header("ETag") == '"v1"'
    stale = api.request("GET", "/v1/programs/%s" % p["id"], token=staff,
                        headers={"If-None-Match": '"v7"'})
    assert stale.status == 200, stale
    assert stale.json["id"] == p["id"]


def test_get_program_needs_a_token(api, staff):
    p = make_program(api, staff)
    assert_slug(api.request("GET", "/v1/programs/%s" % p["id"]), 401, "unauthorized")


@pytest.mark.parametrize("pid", ["not-a-uuid", "12345", str(uuid.uuid4())])
def test_unknown_or_malformed_program_id_is_404(api, staff, pid):
    assert_slug(get_program(api, staff, pid), 404, "not-found")


def test_finance_reads_programs_terms_and_rates(api, staff, users):
    p = openable_program(api, staff)
    fin = users["finance"][1]
    r = get_program(api, fin, p["id"])
    assert r.status == 200 and r.json["status"] == "draft", r
    assert api.request("GET", "/v1/programs/%s/terms" % p["id"], token=fin).status == 200
    assert api.request("GET", "/v1/programs/%s/terms/1" % p["id"], token=fin).status == 200
    assert api.request("GET", "/v1/programs/%s/rates" % p["id"], token=fin).status == 200
    assert api.request("GET", "/v1/programs/%s/rates/1" % p["id"], token=fin).status == 200
    items = list_all(api, fin, "/v1/programs", status="draft")
    assert p["id"] in [i["id"] for i in items]


# ---- visibility for artists ----

@pytest.mark.parametrize("sub", ["", "/terms", "/terms/1", "/rates", "/rates/1"])
def test_artist_cannot_see_a_draft_program(api, staff, users, sub):
    p = openable_program(api, staff)
    r = api.request("GET", "/v1/programs/%s%s" % (p["id"], sub), token=users["artist"][1])
    assert_slug(r, 404, "not-found")
    # the same path exists for staff
    assert api.request("GET", "/v1/programs/%s%s" % (p["id"], sub), token=staff).status == 200


@pytest.mark.parametrize("sub", ["", "/terms", "/terms/1", "/rates", "/rates/1"])
def test_artist_sees_an_open_program(api, staff, users, sub):
    p = open_program(api, staff)
    r = api.request("GET", "/v1/programs/%s%s" % (p["id"], sub), token=users["artist"][1])
    assert r.status == 200, r
    if sub == "":
        assert r.json["status"] == "open"


def test_artist_cannot_see_a_closed_program_never_joined(api, staff, users):
    p = closed_program(api, staff)
    assert_slug(get_program(api, users["artist"][1], p["id"]), 404, "not-found")
    assert_slug(api.request("GET", "/v1/programs/%s/terms" % p["id"],
                            token=users["artist"][1]), 404, "not-found")


def test_artist_list_shows_open_programs_only(api, staff, users):
    draft = make_program(api, staff)
    opened = open_program(api, staff)
    closed = closed_program(api, staff)
    items = list_all(api, users["artist2"][1], "/v1/programs")
    ids = [i["id"] for i in items]
    assert opened["id"] in ids
    assert draft["id"] not in ids and closed["id"] not in ids
    # this artist never enrolled anywhere: everything listed is open
    assert {i["status"] for i in items} == {"open"}


def test_artist_filtering_on_draft_lists_nothing_invisible(api, staff, users):
    draft = make_program(api, staff)
    items = list_all(api, users["artist"][1], "/v1/programs", status="draft")
    assert draft["id"] not in [i["id"] for i in items]
    assert items == []


# ---- GET /v1/programs ----

def test_list_programs_is_newest_first_with_full_objects(api, staff):
    made = [make_program(api, staff) for _ in range(3)]
    r = api.request("GET", "/v1/programs?limit=200", token=staff)
    assert r.status == 200, r
    assert set(r.json) == {"items", "next_cursor"}
    items = r.json["items"]
    ids = [i["id"] for i in items]
    pos = [ids.index(p["id"]) for p in made]
    assert pos == sorted(pos, reverse=True), pos   # the last made comes first
    assert items[pos[0]] == made[0]
    assert all(set(i) == PROGRAM_KEYS for i in items)


def test_list_programs_filters_by_status(api, staff):
    draft = make_program(api, staff)
    opened = open_program(api, staff)
    closed = closed_program(api, staff)
    for status, mine, others in [("draft", draft, (opened, closed)),
                                 ("open", opened, (draft, closed)),
                                 ("closed", closed, (draft, opened))]:
        items = list_all(api, staff, "/v1/programs", status=status)
        ids = [i["id"] for i in items]
        assert mine["id"] in ids, status
        assert not any(o["id"] in ids for o in others), status
        assert {i["status"] for i in items} == {status}


def test_list_programs_pages_without_duplicates(api, staff):
    made = [make_program(api, staff)["id"] for _ in range(5)]
    whole = [i["id"] for i in list_all(api, staff, "/v1/programs", limit=200)]
    paged = [i["id"] for i in list_all(api, staff, "/v1/programs", limit=2)]
    assert len(paged) == len(set(paged)), paged
    assert paged == whole
    assert [i for i in paged if i in made] == list(reversed(made))


def test_list_programs_limit_1_has_a_cursor(api, staff):
    make_program(api, staff)
    make_program(api, staff)
    r = api.request("GET", "/v1/programs?limit=1", token=staff)
    assert r.status == 200, r
    assert len(r.json["items"]) == 1
    cursor = r.json["next_cursor"]
    assert isinstance(cursor, str) and cursor
    r2 = api.request("GET", "/v1/programs?limit=1&cursor=" + urllib.parse.quote(cursor),
                     token=staff)
    assert r2.status == 200, r2
    assert len(r2.json["items"]) == 1
    assert r2.json["items"][0]["id"] != r.json["items"][0]["id"]


def test_programs_created_while_paging_cause_no_duplicates_or_gaps(api, staff):
    for _ in range(4):
        make_program(api, staff)
    before = [i["id"] for i in list_all(api, staff, "/v1/programs", status="draft")]
    seen, cursor, late = [], None, []
    while True:
        q = {"limit": 3, "status": "draft"}
        if cursor:
            q["cursor"] = cursor
        r = api.request("GET", "/v1/programs?" + urllib.parse.urlencode(q), token=staff)
        assert r.status == 200, r
        seen.extend(i["id"] for i in r.json["items"])
        if len(late) < 2:
            late.append(make_program(api, staff)["id"])
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), seen
    assert [i for i in seen if i not in late] == before


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"),
    ("status=archived", "status"), ("colour=blue", "colour"),
])
def test_list_programs_bad_query_is_422(api, staff, query, field):
    assert_invalid(api.request("GET", "/v1/programs?" + query, token=staff), field)


def test_list_programs_needs_a_token(api):
    assert_slug(api.request("GET", "/v1/programs"), 401, "unauthorized")


# ---- PATCH /v1/programs/{id}: If-Match ----

def test_patch_without_if_match_is_428(api, staff):
    p = make_program(api, staff)
    r = patch_program(api, staff, p["id"], {"name": "Renamed"}, if_match=None)
    assert_slug(r, 428, "precondition-required")
    assert get_program(api, staff, p["id"]).json["name"] == "Image Model Beta"


def test_patch_with_stale_if_match_is_412(api, staff):
    p = make_program(api, staff)
    r = patch_program(api, staff, p["id"], {"name": "Renamed"}, if_match='"v2"')
    assert_slug(r, 412, "precondition-failed")
    g = get_program(api, staff, p["id"])
    assert g.json["name"] == "Image Model Beta"
    assert g.header("ETag") == '"v1"'


def test_patch_succeeds_with_new_etag_and_old_tag_is_then_412(api, staff):
    p = make_program(api, staff)
    r = patch_program(api, staff, p["id"], {"name": "Renamed"}, if_match='"v1"')
    assert r.status == 200, r
    assert r.json["name"] == "Renamed"
    assert set(r.json) == PROGRAM_KEYS
    assert r.header("ETag") == '"v2"', r.headers
    assert r.json["updated_at"] > p["updated_at"]
    assert r.json["created_at"] == p["created_at"]
    g = get_program(api, staff, p["id"])
    assert g.header("ETag") == '"v2"'
    assert g.json == r.json
    again = patch_program(api, staff, p["id"], {"name": "Again"}, if_match='"v1"')
    assert_slug(again, 412, "precondition-failed")
    assert get_program(api, staff, p["id"]).json["name"] == "Renamed"


def test_simultaneous_patches_with_the_same_if_match_let_one_win(api, staff):
    p = make_program(api, staff)
    results = run_at_once(10, lambda i: patch_program(api, staff, p["id"],
                                                      {"name": "Racer %d" % i}, if_match='"v1"'))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {200: 1, 412: 9}, statuses
    [winner] = [r for r in results if r.status == 200]
    for r in results:
        if r.status == 412:
            assert_slug(r, 412, "precondition-failed")
    g = get_program(api, staff, p["id"])
    assert g.json["name"] == winner.json["name"]
    assert g.header("ETag") == '"v2"'


def test_patch_if_match_star_matches(api, staff):
    p = make_program(api, staff)
    r = patch_program(api, staff, p["id"], {"capacity": 42}, if_match="*")
    assert r.status == 200, r
    assert r.json["capacity"] == 42
    assert r.header("ETag") == '"v2"'


def test_patch_changes_every_editable_field(api, admin):
    p = make_program(api, admin["token"])
    body = {"name": "New Name", "description": "New description", "capacity": 77,
            "review_sla_hours": 24, "sharing": "open", "public_transparency": False,
            "submission_kinds": ["bug_report", "feedback"]}
    r = patch_program(api, admin["token"], p["id"], body)
    assert r.status == 200, r
    out = r.json
    for k, v in body.items():
        if k == "submission_kinds":
            assert sorted(out[k]) == sorted(v)
        else:
            assert out[k] == v, k
    assert out["slug"] == p["slug"] and out["currency"] == p["currency"]
    assert out["status"] == "draft"


def test_patch_that_changes_nothing_keeps_the_etag(api, staff):
    p = make_program(api, staff)
    r = patch_program(api, staff, p["id"], {"status": "draft", "name": p["name"]})
    assert r.status == 200, r
    assert r.json["status"] == "draft"
    assert r.header("ETag") == '"v1"', r.headers
    assert etag_of(api, staff, p["id"]) == '"v1"'


def test_setting_an_open_program_open_again_changes_nothing(api, staff, pg):
    p = open_program(api, staff)
    tag = etag_of(api, staff, p["id"])
    r = patch_program(api, staff, p["id"], {"status": "open"}, if_match=tag)
    assert r.status == 200, r
    assert r.header("ETag") == tag
    assert r.json == p
    assert audit_actions(pg, p["id"]).count("program.update") == 1   # the opening only


def test_patch_writes_program_update_audit_with_before_and_after(api, staff, pg):
    p = make_program(api, staff)
    assert patch_program(api, staff, p["id"], {"name": "Audited Name"}).status == 200
    rows = pg.psql("SELECT before->>'name', after->>'name' FROM audit_log"
                   " WHERE entity_id = '%s' AND action = 'program.update'" % p["id"])
    assert rows == "Image Model Beta|Audited Name", rows
    assert audit_actions(pg, p["id"])[-1] == "program.update"


def test_refused_patch_writes_no_audit_row(api, staff, pg):
    p = make_program(api, staff)
    assert patch_program(api, staff, p["id"], {"name": "x"}, if_match='"v9"').status == 412
    assert patch_program(api, staff, p["id"], {"status": "closed"}).status == 409
    assert patch_program(api, staff, p["id"], {"capacity": 0}).status == 422
    assert "program.update" not in audit_actions(pg, p["id"])


def test_patch_empty_object_is_422(api, staff):
    p = make_program(api, staff)
    assert_invalid(patch_program(api, staff, p["id"], {}))
    assert etag_of(api, staff, p["id"]) == '"v1"'


@pytest.mark.parametrize("body,field", [
    ({"slug": "new-slug-here"}, "slug"),
    ({"currency": "USD"}, "currency"),
    ({"capacity": 0}, "capacity"),
    ({"review_sla_hours": 721}, "review_sla_hours"),
    ({"name": ""}, "name"),
    ({"sharing": "never"}, "sharing"),
    ({"submission_kinds": []}, "submission_kinds"),
    ({"status": "archived"}, "status"),
    ({"status": None}, "status"),
    ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
])
def test_patch_field_problems_are_422_naming_the_field(api, staff, body, field):
    p = make_program(api, staff)
    assert_invalid(patch_program(api, staff, p["id"], body), field)
    g = get_program(api, staff, p["id"])
    assert g.json == p
    assert g.header("ETag") == '"v1"'


def test_patch_malformed_json_is_400(api, staff):
    p = make_program(api, staff)
    r = patch_program(api, staff, p["id"], None, raw=b'{"name": ')
    assert_slug(r, 400, "malformed-json")


def test_patch_wrong_content_type_is_415(api, staff):
    p = make_program(api, staff)
    r = patch_program(api, staff, p["id"], None, raw=b'{"name": "x"}',
                      content_type="text/plain")
    assert_slug(r, 415, "unsupported-media-type")


def test_patch_needs_a_token(api, staff):
    p = make_program(api, staff)
    r = api.request("PATCH", "/v1/programs/%s" % p["id"], {"name": "x"},
                    headers={"If-Match": '"v1"'})
    assert_slug(r, 401, "unauthorized")


@pytest.mark.parametrize("role", ["artist", "finance"])
def test_artist_and_finance_may_not_patch(api, staff, users, role):
    p = open_program(api, staff)
    tag = etag_of(api, staff, p["id"])
    r = api.request("PATCH", "/v1/programs/%s" % p["id"], {"name": "Hijacked"},
                    token=users[role][1], headers={"If-Match": tag})
    assert_slug(r, 403, "forbidden")
    assert get_program(api, staff, p["id"]).json["name"] == p["name"]


@pytest.mark.parametrize("pid", ["nope", str(uuid.uuid4())])
def test_patch_unknown_program_is_404(api, staff, pid):
    r = api.request("PATCH", "/v1/programs/%s" % pid, {"name": "x"}, token=staff,
                    headers={"If-Match": "*"})
    assert_slug(r, 404, "not-found")


# ---- status transitions ----

def test_draft_to_closed_is_409_invalid_transition_naming_both(api, staff):
    p = openable_program(api, staff)
    r = patch_program(api, staff, p["id"], {"status": "closed"})
    pr = assert_slug(r, 409, "invalid-transition")
    assert "draft" in pr["detail"] and "closed" in pr["detail"], pr
    assert get_program(api, staff, p["id"]).json["status"] == "draft"


def test_invalid_transition_details_name_the_attempted_move(api, staff):
    d = make_program(api, staff)
    o = open_program(api, staff)
    d2c = assert_slug(patch_program(api, staff, d["id"], {"status": "closed"}), 409,
                      "invalid-transition")
    o2d = assert_slug(patch_program(api, staff, o["id"], {"status": "draft"}), 409,
                      "invalid-transition")
    # a fixed sentence listing every status would name both in each; these differ
    assert d2c["detail"] != o2d["detail"], (d2c, o2d)


def test_opening_a_ready_program(api, staff, pg):
    p = openable_program(api, staff)
    tag = etag_of(api, staff, p["id"])
    r = patch_program(api, staff, p["id"], {"status": "open"}, if_match=tag)
    assert r.status == 200, r
    assert r.json["status"] == "open"
    assert TS_RE.match(r.json["opened_at"] or ""), r.json
    assert r.json["closed_at"] is None
    assert revision(r.header("ETag")) == revision(tag) + 1
    assert get_program(api, staff, p["id"]).json == r.json
    assert pg.psql("SELECT status FROM programs WHERE id = '%s'" % p["id"]) == "open"


def test_open_to_closed_then_closed_is_final(api, staff):
    p = open_program(api, staff)
    r = patch_program(api, staff, p["id"], {"status": "closed"})
    assert r.status == 200, r
    assert r.json["status"] == "closed"
    assert TS_RE.match(r.json["closed_at"] or ""), r.json
    assert r.json["opened_at"] == p["opened_at"]
    reopen = patch_program(api, staff, p["id"], {"status": "open"})
    pr = assert_slug(reopen, 409, "invalid-transition")
    assert "closed" in pr["detail"], pr
    assert get_program(api, staff, p["id"]).json["status"] == "closed"


def test_open_to_draft_is_409_invalid_transition(api, staff):
    p = open_program(api, staff)
    r = patch_program(api, staff, p["id"], {"status": "draft"})
    pr = assert_slug(r, 409, "invalid-transition")
    assert "open" in pr["detail"] and "draft" in pr["detail"], pr
    assert get_program(api, staff, p["id"]).json["status"] == "open"


@pytest.mark.parametrize("body", [{"name": "After closing"}, {"capacity": 500},
                                  {"description": "changed"}])
def test_closed_program_cannot_change_at_all(api, staff, body):
    p = closed_program(api, staff)
    tag = etag_of(api, staff, p["id"])
    r = patch_program(api, staff, p["id"], body, if_match=tag)
    assert_slug(r, 409, "invalid-transition")
    g = get_program(api, staff, p["id"])
    assert g.json == p
    assert g.header("ETag") == tag


def test_submission_kinds_change_only_while_draft(api, staff):
    d = make_program(api, staff)
    r = patch_program(api, staff, d["id"], {"submission_kinds": ["work"]})
    assert r.status == 200, r
    assert r.json["submission_kinds"] == ["work"]
    o = open_program(api, staff)
    r = patch_program(api, staff, o["id"], {"submission_kinds": ["work"]})
    assert_slug(r, 409, "invalid-transition")
    assert sorted(get_program(api, staff, o["id"]).json["submission_kinds"]) == \
        sorted(SUBMISSION_KINDS)


def test_open_program_may_still_change_capacity_and_name(api, staff):
    p = open_program(api, staff)
    r = patch_program(api, staff, p["id"], {"capacity": 99, "name": "Still open"})
    assert r.status == 200, r
    assert r.json["capacity"] == 99 and r.json["name"] == "Still open"
    assert r.json["status"] == "open"


# ---- the rules for opening ----

def not_ready_reasons(api, token, pid):
    tag = etag_of(api, token, pid)
    r = patch_program(api, token, pid, {"status": "open"}, if_match=tag)
    p = assert_slug(r, 409, "program-not-ready")
    reasons = p.get("reasons")
    assert isinstance(reasons, list) and reasons, p
    assert all(isinstance(x, str) and x for x in reasons), reasons
    g = get_program(api, token, pid)
    assert g.json["status"] == "draft"
    assert g.header("ETag") == tag
    return reasons


def test_opening_without_terms_or_rates_lists_both(api, staff):
    p = make_program(api, staff)
    reasons = not_ready_reasons(api, staff, p["id"])
    assert len(reasons) >= 2, reasons
    text = " ".join(reasons).lower()
    assert "terms" in text and "rate" in text, reasons


def test_opening_without_terms_is_not_ready(api, staff):
    p = make_program(api, staff)
    put_rates(api, staff, p["id"])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert "terms" in " ".join(reasons).lower(), reasons
    assert "rate" not in " ".join(reasons).lower(), reasons


def test_opening_without_a_confidentiality_clause_is_not_ready(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"], [c for c in CLAUSES if c["kind"] != "confidentiality"])
    put_rates(api, staff, p["id"])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert len(reasons) == 1, reasons
    assert "confidentiality" in reasons[0].lower(), reasons


def test_opening_without_a_responsible_use_clause_is_not_ready(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"], [c for c in CLAUSES if c["kind"] != "responsible_use"])
    put_rates(api, staff, p["id"])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert len(reasons) == 1, reasons
    assert re.search(r"responsible[ _]use", reasons[0].lower()), reasons


def test_opening_without_either_clause_lists_both(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"], [c for c in CLAUSES if c["kind"] == "compensation"])
    put_rates(api, staff, p["id"])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert len(reasons) == 2, reasons
    text = " ".join(reasons).lower()
    assert "confidentiality" in text and re.search(r"responsible[ _]use", text), reasons


def test_opening_judges_the_latest_terms_version(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    publish_terms(api, staff, p["id"], [c for c in CLAUSES if c["kind"] != "confidentiality"])
    put_rates(api, staff, p["id"])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert "confidentiality" in " ".join(reasons).lower(), reasons


def test_opening_without_a_rate_card_is_not_ready(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert "rate" in " ".join(reasons).lower(), reasons
    assert "confidentiality" not in " ".join(reasons).lower(), reasons


@pytest.mark.parametrize("zero", ["work", "bug_report", "feedback", "session_hour"])
def test_opening_with_a_zero_rate_for_an_accepted_kind_is_not_ready(api, staff, zero):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    put_rates(api, staff, p["id"], [r for r in FULL_RATES if r["kind"] != zero])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert zero in " ".join(reasons), reasons


def test_opening_with_an_explicit_zero_rate_is_not_ready(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    put_rates(api, staff, p["id"], [dict(r, amount_minor=0) if r["kind"] == "feedback" else r
                                    for r in FULL_RATES])
    reasons = not_ready_reasons(api, staff, p["id"])
    assert "feedback" in " ".join(reasons), reasons


def test_opening_lists_every_unpaid_kind(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    put_rates(api, staff, p["id"], [{"kind": "bug_report", "amount_minor": 1}])
    text = " ".join(not_ready_reasons(api, staff, p["id"]))
    for kind in ("work", "feedback", "session_hour"):
        assert kind in text, (kind, text)


def test_zero_rate_for_a_kind_not_accepted_does_not_block_opening(api, staff):
    p = make_program(api, staff, submission_kinds=["work", "session"])
    publish_terms(api, staff, p["id"])
    put_rates(api, staff, p["id"], [{"kind": "work", "amount_minor": 1},
                                    {"kind": "session_hour", "amount_minor": 1}])
    assert set_status(api, staff, p["id"], "open")["status"] == "open"


def test_session_kind_needs_a_session_hour_rate(api, staff):
    p = make_program(api, staff, submission_kinds=["session"])
    publish_terms(api, staff, p["id"])
    put_rates(api, staff, p["id"], [{"kind": "work", "amount_minor": 100},
                                    {"kind": "exhibition", "amount_minor": 100}])
    assert "session_hour" in " ".join(not_ready_reasons(api, staff, p["id"]))
    put_rates(api, staff, p["id"], [{"kind": "session_hour", "amount_minor": 100}])
    assert set_status(api, staff, p["id"], "open")["status"] == "open"


def test_opening_judges_the_latest_rate_card(api, staff):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    put_rates(api, staff, p["id"])
    put_rates(api, staff, p["id"], [r for r in FULL_RATES if r["kind"] != "work"])
    assert "work" in " ".join(not_ready_reasons(api, staff, p["id"]))


# ---- terms ----

def test_publish_terms_is_201_version_1(api, staff, users):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/terms" % p["id"], {"clauses": CLAUSES},
                    token=staff)
    assert r.status == 201, r
    t = r.json
    assert set(t) == TERMS_KEYS, t
    assert t["program_id"] == p["id"]
    assert t["version"] == 1
    assert t["clauses"] == CLAUSES
    assert t["confidential_until"] is None
    assert TS_RE.match(t["published_at"]), t
    assert t["published_by"] == users["staff"][0]["id"]


def test_terms_versions_count_up_per_program(api, staff):
    a = make_program(api, staff)
    b = make_program(api, staff)
    assert [publish_terms(api, staff, a["id"])["version"] for _ in range(3)] == [1, 2, 3]
    assert publish_terms(api, staff, b["id"])["version"] == 1


def test_simultaneous_publications_get_distinct_versions(api, staff, pg):
    p = make_program(api, staff)
    results = run_at_once(8, lambda i: api.request(
        "POST", "/v1/programs/%s/terms" % p["id"],
        {"clauses": [dict(CLAUSES[0], body="Version body %d" % i)]}, token=staff))
    assert [r.status for r in results] == [201] * 8, results
    assert sorted(r.json["version"] for r in results) == list(range(1, 9))
    latest = api.request("GET", "/v1/programs/%s/terms" % p["id"], token=staff).json
    assert latest["version"] == 8
    assert pg.psql("SELECT count(*) FROM terms_versions WHERE program_id = '%s'"
                   % p["id"]) == "8"


def test_confidential_until_is_kept_in_utc(api, staff):
    p = make_program(api, staff)
    t = publish_terms(api, staff, p["id"], confidential_until="2027-06-01T14:00:00+02:00")
    assert TS_RE.match(t["confidential_until"]), t
    assert parse_ts(t["confidential_until"]) == parse_ts("2027-06-01T12:00:00Z")
    assert t["confidential_until"].startswith("2027-06-01T12:00:00")
    t2 = publish_terms(api, staff, p["id"], confidential_until=None)
    assert t2["confidential_until"] is None


def test_get_terms_is_the_latest_and_old_versions_stay_unchanged(api, staff, users):
    p = make_program(api, staff)
    v1 = publish_terms(api, staff, p["id"])
    new_clauses = CLAUSES + [{"key": "exhibition", "kind": "sharing", "title": "Exhibitions",
                              "body": "Artists may exhibit their own outputs."}]
    v2 = publish_terms(api, staff, p["id"], new_clauses,
                       confidential_until="2027-01-01T00:00:00Z")
    for token in (staff, users["finance"][1]):
        latest = api.request("GET", "/v1/programs/%s/terms" % p["id"], token=token)
        assert latest.status == 200, latest
        assert latest.json == v2
        old = api.request("GET", "/v1/programs/%s/terms/1" % p["id"], token=token)
        assert old.status == 200, old
        assert old.json == v1
        assert old.json["clauses"] == CLAUSES
        assert api.request("GET", "/v1/programs/%s/terms/2" % p["id"],
                           token=token).json == v2


def test_get_terms_of_a_program_without_terms_is_404(api, staff):
    p = make_program(api, staff)
    assert_slug(api.request("GET", "/v1/programs/%s/terms" % p["id"], token=staff),
                404, "not-found")


@pytest.mark.parametrize("version", ["2", "0", "-1", "abc", "1.5", "99999999999999999999"])
def test_get_terms_version_unknown_or_not_positive_is_404(api, staff, version):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    r = api.request("GET", "/v1/programs/%s/terms/%s" % (p["id"], version), token=staff)
    assert_slug(r, 404, "not-found")


def test_terms_of_unknown_program_are_404(api, staff):
    pid = str(uuid.uuid4())
    assert_slug(api.request("GET", "/v1/programs/%s/terms" % pid, token=staff), 404,
                "not-found")
    assert_slug(api.request("POST", "/v1/programs/%s/terms" % pid, {"clauses": CLAUSES},
                            token=staff), 404, "not-found")


def test_database_refuses_to_change_a_terms_version(api, staff, pg):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    before = pg.psql("SELECT clauses::text FROM terms_versions WHERE program_id = '%s'" % p["id"])
    for sql in ["UPDATE terms_versions SET clauses = '[]' WHERE program_id = '%s'" % p["id"],
                "DELETE FROM terms_versions WHERE program_id = '%s'" % p["id"]]:
        with pytest.raises(subprocess.CalledProcessError) as e:
            pg.psql(sql)
        assert "append-only" in e.value.stderr, e.value.stderr
    assert pg.psql("SELECT clauses::text FROM terms_versions WHERE program_id = '%s'"
                   % p["id"]) == before
    assert json.loads(before) == CLAUSES


def test_publish_terms_writes_audit_row(api, staff, pg):
    p = make_program(api, staff)
    publish_terms(api, staff, p["id"])
    publish_terms(api, staff, p["id"])
    assert audit_count(pg, "terms.publish", p["id"]) == 2


def test_terms_published_event_only_when_the_program_is_open(api, staff, pg):
    p = openable_program(api, staff)
    assert outbox_rows(pg, "terms.published", p["id"]) == []
    set_status(api, staff, p["id"], "open")
    v2 = publish_terms(api, staff, p["id"])
    assert v2["version"] == 2
    rows = outbox_rows(pg, "terms.published", p["id"])
    assert len(rows) == 1, rows
    assert rows[0]["program_id"] == p["id"]
    assert rows[0]["version"] == 2


def test_publish_terms_on_a_closed_program_is_409(api, staff):
    p = closed_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/terms" % p["id"], {"clauses": CLAUSES},
                    token=staff)
    assert_slug(r, 409, "invalid-transition")
    assert api.request("GET", "/v1/programs/%s/terms" % p["id"],
                       token=staff).json["version"] == 1


def test_admin_may_publish_terms(api, admin):
    p = make_program(api, admin["token"])
    assert publish_terms(api, admin["token"], p["id"])["version"] == 1


@pytest.mark.parametrize("role", ["artist", "finance"])
def test_artist_and_finance_may_not_publish_terms(api, staff, users, pg, role):
    p = open_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/terms" % p["id"], {"clauses": CLAUSES},
                    token=users[role][1])
    assert_slug(r, 403, "forbidden")
    assert pg.psql("SELECT count(*) FROM terms_versions WHERE program_id = '%s'"
                   % p["id"]) == "1"


def test_publish_terms_needs_a_token(api, staff):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/terms" % p["id"], {"clauses": CLAUSES})
    assert_slug(r, 401, "unauthorized")


def test_publish_terms_malformed_json_is_400(api, staff):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/terms" % p["id"], raw=b'{"clauses": [',
                    token=staff)
    assert_slug(r, 400, "malformed-json")


def test_publish_terms_wrong_content_type_is_415(api, staff):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/terms" % p["id"],
                    raw=json.dumps({"clauses": CLAUSES}).encode(), token=staff,
                    content_type="text/plain")
    assert_slug(r, 415, "unsupported-media-type")


def clause(**over):
    c = {"key": "c", "kind": "other", "title": "A title", "body": "A body."}
    c.update(over)
    return c


@pytest.mark.parametrize("body,field", [
    ({"clauses": []}, "clauses"),
    ({"clauses": [clause(key="k%d" % i) for i in range(101)]}, "clauses"),
    ({}, "clauses"),
    ({"clauses": "none"}, "clauses"),
    ({"clauses": [clause(key="same"), clause(key="same")]}, "clauses[1].key"),
    ({"clauses": [clause(key="Bad Key")]}, "clauses[0].key"),
    ({"clauses": [clause(key="_leading")]}, "clauses[0].key"),
    ({"clauses": [clause(key="k" * 65)]}, "clauses[0].key"),
    ({"clauses": [clause(key="")]}, "clauses[0].key"),
    ({"clauses": [clause(), clause(key="d", kind="legal")]}, "clauses[1].kind"),
    ({"clauses": [clause(title="")]}, "clauses[0].title"),
    ({"clauses": [clause(title="two\nlines")]}, "clauses[0].title"),
    ({"clauses": [clause(title="t" * 201)]}, "clauses[0].title"),
    ({"clauses": [clause(body="")]}, "clauses[0].body"),
    ({"clauses": [clause(body="b" * 20001)]}, "clauses[0].body"),
    ({"clauses": [{"key": "k", "kind": "other", "title": "t"}]}, "clauses[0].body"),
    ({"clauses": [clause(extra=1)]}, "clauses[0].extra"),
    ({"clauses": [clause()], "confidential_until": "next year"}, "confidential_until"),
    ({"clauses": [clause()], "confidential_until": "2027-01-01"}, "confidential_until"),
    ({"clauses": [clause()], "version": 7}, "version"),
])
def test_publish_terms_problems_are_422_naming_the_field(api, staff, pg, body, field):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/terms" % p["id"], body, token=staff)
    assert_invalid(r, field)
    assert pg.psql("SELECT count(*) FROM terms_versions WHERE program_id = '%s'"
                   % p["id"]) == "0"


def test_publish_terms_limits_are_inclusive(api, staff):
    p = make_program(api, staff)
    clauses = [clause(key="k%d" % i) for i in range(99)] + \
              [clause(key="k" * 64, kind="confidentiality", title="t" * 200, body="b" * 20000)]
    t = publish_terms(api, staff, p["id"], clauses)
    assert len(t["clauses"]) == 100
    assert t["clauses"][-1]["key"] == "k" * 64


# ---- rates ----

def test_put_rates_is_200_with_all_seven_kinds_in_order(api, staff):
    p = make_program(api, staff, currency="USD")
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"],
                    {"rates": [{"kind": "feedback", "amount_minor": 150},
                               {"kind": "work", "amount_minor": 2500}]}, token=staff)
    assert r.status == 200, r
    card = r.json
    assert set(card) == RATES_KEYS, card
    assert card["program_id"] == p["id"]
    assert card["version"] == 1
    assert card["currency"] == "USD"
    assert TS_RE.match(card["effective_at"]), card
    assert card["rates"] == [{"kind": "work", "amount_minor": 2500},
                             {"kind": "bug_report", "amount_minor": 0},
                             {"kind": "feedback", "amount_minor": 150},
                             {"kind": "session_hour", "amount_minor": 0},
                             {"kind": "exhibition", "amount_minor": 0},
                             {"kind": "promotion_license", "amount_minor": 0},
                             {"kind": "training_license", "amount_minor": 0}]


def test_rate_card_versions_and_old_one_stays_readable(api, staff, users):
    p = make_program(api, staff)
    v1 = put_rates(api, staff, p["id"])
    v2 = put_rates(api, staff, p["id"], [{"kind": "work", "amount_minor": 9999}])
    assert (v1["version"], v2["version"]) == (1, 2)
    assert v2["effective_at"] >= v1["effective_at"]
    for token in (staff, users["finance"][1]):
        cur = api.request("GET", "/v1/programs/%s/rates" % p["id"], token=token)
        assert cur.status == 200, cur
        assert cur.json == v2
        old = api.request("GET", "/v1/programs/%s/rates/1" % p["id"], token=token)
        assert old.status == 200, old
        assert old.json == v1
        assert [r["amount_minor"] for r in old.json["rates"]] == [5000, 2000, 1000, 3000, 10000, 0, 0]


def test_simultaneous_rate_cards_get_distinct_versions(api, staff):
    p = make_program(api, staff)
    results = run_at_once(8, lambda i: api.request(
        "PUT", "/v1/programs/%s/rates" % p["id"],
        {"rates": [{"kind": "work", "amount_minor": 100 + i}]}, token=staff))
    assert [r.status for r in results] == [200] * 8, results
    assert sorted(r.json["version"] for r in results) == list(range(1, 9))
    for r in results:
        again = api.request("GET", "/v1/programs/%s/rates/%d" % (p["id"], r.json["version"]),
                            token=staff)
        assert again.json == r.json


def test_amount_limits_are_inclusive(api, staff):
    p = make_program(api, staff)
    card = put_rates(api, staff, p["id"], [{"kind": "exhibition", "amount_minor": 10 ** 15},
                                           {"kind": "work", "amount_minor": 0}])
    assert card["rates"][4] == {"kind": "exhibition", "amount_minor": 10 ** 15}
    assert card["rates"][0] == {"kind": "work", "amount_minor": 0}


def test_get_rates_without_a_card_is_404(api, staff):
    p = make_program(api, staff)
    assert_slug(api.request("GET", "/v1/programs/%s/rates" % p["id"], token=staff),
                404, "not-found")


@pytest.mark.parametrize("version", ["2", "0", "-3", "one"])
def test_get_rates_version_unknown_or_not_positive_is_404(api, staff, version):
    p = make_program(api, staff)
    put_rates(api, staff, p["id"])
    r = api.request("GET", "/v1/programs/%s/rates/%s" % (p["id"], version), token=staff)
    assert_slug(r, 404, "not-found")


@pytest.mark.parametrize("body,field", [
    ({"rates": []}, "rates"),
    ({"rates": FULL_RATES + [{"kind": "work", "amount_minor": 1}]}, "rates"),
    ({}, "rates"),
    ({"rates": [{"kind": "work", "amount_minor": 1}, {"kind": "work", "amount_minor": 2}]},
     "rates[1].kind"),
    ({"rates": [{"kind": "tips", "amount_minor": 1}]}, "rates[0].kind"),
    ({"rates": [{"kind": "session", "amount_minor": 1}]}, "rates[0].kind"),
    ({"rates": [{"amount_minor": 1}]}, "rates[0].kind"),
    ({"rates": [{"kind": "work", "amount_minor": -1}]}, "rates[0].amount_minor"),
    ({"rates": [{"kind": "work", "amount_minor": 10 ** 15 + 1}]}, "rates[0].amount_minor"),
    ({"rates": [{"kind": "work", "amount_minor": 1.5}]}, "rates[0].amount_minor"),
    ({"rates": [{"kind": "work", "amount_minor": "100"}]}, "rates[0].amount_minor"),
    ({"rates": [{"kind": "work"}]}, "rates[0].amount_minor"),
    ({"rates": [{"kind": "work", "amount_minor": 1}], "currency": "USD"}, "currency"),
])
def test_put_rates_problems_are_422_naming_the_field(api, staff, pg, body, field):
    p = make_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"], body, token=staff)
    assert_invalid(r, field)
    assert pg.psql("SELECT count(*) FROM rate_cards WHERE program_id = '%s'" % p["id"]) == "0"


def test_put_rates_malformed_json_is_400(api, staff):
    p = make_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"], raw=b"{rates: []}", token=staff)
    assert_slug(r, 400, "malformed-json")


def test_put_rates_wrong_content_type_is_415(api, staff):
    p = make_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"],
                    raw=json.dumps({"rates": FULL_RATES}).encode(), token=staff,
                    content_type="application/x-www-form-urlencoded")
    assert_slug(r, 415, "unsupported-media-type")


def test_put_rates_needs_a_token(api, staff):
    p = make_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"], {"rates": FULL_RATES})
    assert_slug(r, 401, "unauthorized")


@pytest.mark.parametrize("role", ["artist", "finance"])
def test_artist_and_finance_may_not_put_rates(api, staff, users, pg, role):
    p = open_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"], {"rates": FULL_RATES},
                    token=users[role][1])
    assert_slug(r, 403, "forbidden")
    assert pg.psql("SELECT count(*) FROM rate_cards WHERE program_id = '%s'" % p["id"]) == "1"


def test_put_rates_of_unknown_program_is_404(api, staff):
    r = api.request("PUT", "/v1/programs/%s/rates" % uuid.uuid4(), {"rates": FULL_RATES},
                    token=staff)
    assert_slug(r, 404, "not-found")


def test_put_rates_on_a_closed_program_is_409(api, staff):
    p = closed_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"], {"rates": FULL_RATES},
                    token=staff)
    assert_slug(r, 409, "invalid-transition")
    assert api.request("GET", "/v1/programs/%s/rates" % p["id"],
                       token=staff).json["version"] == 1


def test_open_program_rate_card_must_keep_paying_every_accepted_kind(api, staff):
    p = open_program(api, staff)
    r = api.request("PUT", "/v1/programs/%s/rates" % p["id"],
                    {"rates": [r for r in FULL_RATES if r["kind"] != "bug_report"]}, token=staff)
    pr = assert_slug(r, 409, "program-not-ready")
    reasons = pr.get("reasons")
    assert isinstance(reasons, list) and reasons, pr
    assert "bug_report" in " ".join(reasons), reasons
    cur = api.request("GET", "/v1/programs/%s/rates" % p["id"], token=staff).json
    assert cur["version"] == 1
    assert cur["rates"][1] == {"kind": "bug_report", "amount_minor": 2000}


def test_open_program_may_zero_a_kind_it_does_not_accept(api, staff):
    p = open_program(api, staff, submission_kinds=["work"])
    card = put_rates(api, staff, p["id"], [{"kind": "work", "amount_minor": 7}])
    assert card["version"] == 2
    assert card["rates"][0] == {"kind": "work", "amount_minor": 7}
    assert all(r["amount_minor"] == 0 for r in card["rates"][1:])


def test_put_rates_writes_audit_row(api, staff, pg):
    p = make_program(api, staff)
    put_rates(api, staff, p["id"])
    assert audit_count(pg, "rates.publish", p["id"]) == 1
    put_rates(api, staff, p["id"])
    assert audit_count(pg, "rates.publish", p["id"]) == 2


@pytest.mark.parametrize("sql", [
    "UPDATE rates SET amount_minor = amount_minor + 1 WHERE program_id = '%s'",
    "DELETE FROM rates WHERE program_id = '%s'",
    "UPDATE rate_cards SET effective_at = now() - interval '1 day' WHERE program_id = '%s'",
])
def test_database_refuses_to_change_a_rate_card(api, staff, pg, sql):
    p = make_program(api, staff)
    card = put_rates(api, staff, p["id"])
    with pytest.raises(subprocess.CalledProcessError) as e:
        pg.psql(sql % p["id"])
    assert "append-only" in e.value.stderr, e.value.stderr
    assert pg.psql("SELECT count(*), sum(amount_minor) FROM rates WHERE program_id = '%s'"
                   % p["id"]) == "%d|%d" % (len(RATE_KINDS),
                                            sum(r["amount_minor"] for r in FULL_RATES))
    assert api.request("GET", "/v1/programs/%s/rates/1" % p["id"], token=staff).json == card
