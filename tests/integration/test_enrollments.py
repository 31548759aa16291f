"""Invitations and enrollment (API.md, "Invitations and enrollment"): one-time
invitation codes stored only as hashes, enrolling with or without an account,
the order of the checks and their problem types, accepting new terms,
withdrawing, who sees which enrollment, the lists, and capacity and
invitation uses holding under simultaneous enrollments."""

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

from harness import UUID_RE
from test_programs import (TS_RE, assert_invalid, assert_slug, audit_actions, closed_program,
                           list_all, make_program, open_program, openable_program,
                           outbox_rows, patch_program, publish_terms, rfc3339, set_status)

PASSWORD = "a long enough password"
CODE_RE = re.compile(r"^fbi_[A-Za-z0-9_-]{43,}$")
INVITATION_KEYS = {"id", "program_id", "code", "email", "max_uses", "uses", "expires_at",
                   "created_at", "revoked_at"}
ENROLLMENT_KEYS = {"id", "program_id", "artist", "status", "invitation_id", "terms_version",
                   "terms_accepted_at", "latest_terms_version", "needs_terms_acceptance",
                   "created_at", "withdrawn_at", "withdraw_reason"}

MSG_UNKNOWN = "this invitation code is not valid"


def future(days=30, seconds=0):
    return rfc3339(datetime.datetime.now(datetime.timezone.utc)
                   + datetime.timedelta(days=days, seconds=seconds))


def fresh_email(tag="enr"):
    return "%s-%s@example.com" % (tag, uuid.uuid4().hex[:12])


def invite(api, token, pid, max_uses=100, email=None, days=30):
    body = {"max_uses": max_uses, "expires_at": future(days)}
    if email is not None:
        body["email"] = email
    r = api.request("POST", "/v1/programs/%s/invitations" % pid, body, token=token)
    assert r.status == 201, r
    return r.json


def enroll_as(api, token, code, version=1, **extra):
    body = dict({"invitation_code": code, "accept_terms_version": version}, **extra)
    return api.request("POST", "/v1/enrollments", body, token=token)


def anon_body(code, version=1, **over):
    body = {"invitation_code": code, "accept_terms_version": version,
            "email": fresh_email("anon"), "password": PASSWORD, "display_name": "New Artist"}
    body.update(over)
    return body


def enrolled(api, token, code, version=1):
    r = enroll_as(api, token, code, version)
    assert r.status == 201, r
    return r.json


def invitation_uses(pg, inv_id):
    return int(pg.psql("SELECT uses FROM invitations WHERE id = '%s'" % inv_id))


def active_count(pg, pid):
    return int(pg.psql("SELECT count(*) FROM enrollments WHERE program_id = '%s'"
                       " AND status = 'active'" % pid))


def get_enrollment(api, token, eid):
    return api.request("GET", "/v1/enrollments/%s" % eid, token=token)


def assert_code_problem(r, message_end, program=None):
    """422 validation naming invitation_code; detail is the message; no program named."""
    p = assert_invalid(r, "invitation_code")
    [err] = [e for e in p["errors"] if e["field"] == "invitation_code"]
    assert err["message"].endswith(message_end), err
    assert p["detail"] == err["message"], p
    if program is not None:
        text = r.body.decode()
        for k in ("id", "slug", "name"):
            assert program[k] not in text, (k, text)
    return p


@pytest.fixture(scope="module")
def people(api, admin):
    """{name: (user_json, token)}: a staff and a finance user and three artists."""
    return {"staff": api.create_user(admin["token"], "staff"),
            "finance": api.create_user(admin["token"], "finance"),
            "a": api.create_user(admin["token"], "artist"),
            "b": api.create_user(admin["token"], "artist"),
            "c": api.create_user(admin["token"], "artist")}


@pytest.fixture(scope="module")
def pool(api, admin):
    """Thirty signed-in artists: [(user_json, token)]."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as ex:
        futs = [ex.submit(api.create_user, admin["token"], "artist") for _ in range(30)]
        return [f.result() for f in futs]


def secret_program(api, staff, **over):
    """An open program with a distinctive name, to check that no detail names it."""
    return open_program(api, staff, name="Secret Project %s" % uuid.uuid4().hex[:8], **over)


# ---- POST /v1/programs/{id}/invitations ----

def test_create_invitation_is_201_with_a_one_time_code(api, staff):
    p = open_program(api, staff)
    expires = future(10)
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"],
                    {"max_uses": 5, "expires_at": expires}, token=staff)
    assert r.status == 201, r
    inv = r.json
    assert set(inv) == INVITATION_KEYS, inv
    assert UUID_RE.match(inv["id"])
    assert inv["program_id"] == p["id"]
    assert CODE_RE.match(inv["code"]), inv["code"]
    assert inv["email"] is None
    assert inv["max_uses"] == 5 and inv["uses"] == 0
    assert TS_RE.match(inv["expires_at"]) and inv["expires_at"].startswith(expires[:19])
    assert TS_RE.match(inv["created_at"])
    assert inv["revoked_at"] is None


def test_each_invitation_gets_a_different_code(api, staff):
    p = open_program(api, staff)
    codes = {invite(api, staff, p["id"])["code"] for _ in range(5)}
    assert len(codes) == 5


def test_invitation_email_is_stored_lower_case(api, staff, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"], email="Mixed.Case@Example.COM")
    assert inv["email"] == "mixed.case@example.com"
    assert pg.psql("SELECT email FROM invitations WHERE id = '%s'" % inv["id"]) == \
        "mixed.case@example.com"


def test_invitation_allowed_while_draft(api, staff):
    p = make_program(api, staff)
    inv = invite(api, staff, p["id"])
    assert inv["program_id"] == p["id"]


def test_invitation_on_closed_program_is_409(api, staff, pg):
    p = closed_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"],
                    {"max_uses": 1, "expires_at": future()}, token=staff)
    assert_slug(r, 409, "invalid-transition")
    assert pg.psql("SELECT count(*) FROM invitations WHERE program_id = '%s'" % p["id"]) == "0"


def test_invitation_code_is_stored_only_as_a_hash(api, staff, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    code = inv["code"]
    assert pg.psql("SELECT count(*) FROM invitations WHERE id = '%s'" % inv["id"]) == "1"
    for needle in (code, code[len("fbi_"):]):
        assert pg.psql("SELECT count(*) FROM invitations i"
                       " WHERE position('%s' in i::text) > 0" % needle) == "0"
    stored = pg.psql("SELECT code_hash FROM invitations WHERE id = '%s'" % inv["id"])
    assert stored and stored != code and code[4:] not in stored


def test_invitation_list_never_shows_the_code(api, staff):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"], email="listed@example.com")
    r = api.request("GET", "/v1/programs/%s/invitations" % p["id"], token=staff)
    assert r.status == 200, r
    assert inv["code"] not in r.body.decode()
    [item] = r.json["items"]
    assert set(item) == INVITATION_KEYS - {"code"}, item
    expected = dict(inv)
    del expected["code"]
    assert item == expected
    assert r.json["next_cursor"] is None


def test_invitation_list_pages_newest_first(api, staff):
    p = make_program(api, staff)
    made = [invite(api, staff, p["id"])["id"] for _ in range(5)]
    items = list_all(api, staff, "/v1/programs/%s/invitations" % p["id"], limit=2)
    assert [i["id"] for i in items] == list(reversed(made))
    r = api.request("GET", "/v1/programs/%s/invitations?limit=2" % p["id"], token=staff)
    assert len(r.json["items"]) == 2 and r.json["next_cursor"]


def test_invitation_create_writes_audit_row_without_the_code(api, staff, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    assert audit_actions(pg, inv["id"]) == ["invitation.create"]
    assert pg.psql("SELECT count(*) FROM audit_log WHERE position('%s' in"
                   " coalesce(before::text, '') || coalesce(after::text, '')) > 0"
                   % inv["code"][4:]) == "0"


@pytest.mark.parametrize("over,field", [
    ({"max_uses": 0}, "max_uses"),
    ({"max_uses": 10001}, "max_uses"),
    ({"max_uses": "5"}, "max_uses"),
    ({"max_uses": None}, "max_uses"),
    ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ({"expires_at": lambda: future(-1)}, "expires_at"),
    ({"expires_at": lambda: future(367)}, "expires_at"),
    ({"expires_at": "soon"}, "expires_at"),
    ({"expires_at": "2027-01-01"}, "expires_at"),
    ({"expires_at": None}, "expires_at"),
    ({"email": "not-an-email"}, "email"),
    ({"email": 5}, "email"),
    ({"code": "fbi_mine"}, "code"),
    ({"uses": 3}, "uses"),
])
def test_invitation_problems_are_422_naming_the_field(api, staff, pg, over, field):
    p = make_program(api, staff)
    body = {"max_uses": 3, "expires_at": future()}
    body.update({k: (v() if callable(v) else v) for k, v in over.items()})
    body = {k: v for k, v in body.items() if v is not None or k == "email"}
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"], body, token=staff)
    assert_invalid(r, field)
    assert pg.psql("SELECT count(*) FROM invitations WHERE program_id = '%s'" % p["id"]) == "0"


def test_invitation_missing_fields_are_each_named(api, staff):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"], {}, token=staff)
    assert_invalid(r, "max_uses", "expires_at")


def test_invitation_limits_are_inclusive(api, staff):
    p = make_program(api, staff)
    inv = invite(api, staff, p["id"], max_uses=10000, days=365)
    assert inv["max_uses"] == 10000
    one = invite(api, staff, p["id"], max_uses=1, days=0.01)
    assert one["max_uses"] == 1
    edge = api.request("POST", "/v1/programs/%s/invitations" % p["id"],
                       {"max_uses": 1, "expires_at": future(366, seconds=-120)}, token=staff)
    assert edge.status == 201, edge
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"],
                    {"max_uses": 1, "expires_at": future(), "email": None}, token=staff)
    assert r.status == 201, r
    assert r.json["email"] is None


def test_admin_may_create_invitations(api, admin):
    p = make_program(api, admin["token"])
    assert CODE_RE.match(invite(api, admin["token"], p["id"])["code"])


@pytest.mark.parametrize("who", ["finance", "a"])
def test_finance_and_artist_may_not_use_invitations(api, staff, people, pg, who):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    token = people[who][1]
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"],
                    {"max_uses": 1, "expires_at": future()}, token=token)
    assert_slug(r, 403, "forbidden")
    assert_slug(api.request("GET", "/v1/programs/%s/invitations" % p["id"], token=token),
                403, "forbidden")
    assert_slug(api.request("POST", "/v1/invitations/%s/revoke" % inv["id"], token=token),
                403, "forbidden")
    assert pg.psql("SELECT count(*), count(revoked_at) FROM invitations WHERE program_id = '%s'"
                   % p["id"]) == "1|0"


def test_invitations_need_a_token(api, staff):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    assert_slug(api.request("POST", "/v1/programs/%s/invitations" % p["id"],
                            {"max_uses": 1, "expires_at": future()}), 401, "unauthorized")
    assert_slug(api.request("GET", "/v1/programs/%s/invitations" % p["id"]), 401,
                "unauthorized")
    assert_slug(api.request("POST", "/v1/invitations/%s/revoke" % inv["id"]), 401,
                "unauthorized")


@pytest.mark.parametrize("pid", ["nope", str(uuid.uuid4())])
def test_invitations_of_unknown_program_are_404(api, staff, pid):
    assert_slug(api.request("POST", "/v1/programs/%s/invitations" % pid,
                            {"max_uses": 1, "expires_at": future()}, token=staff),
                404, "not-found")
    assert_slug(api.request("GET", "/v1/programs/%s/invitations" % pid, token=staff),
                404, "not-found")


def test_invitation_malformed_json_is_400(api, staff):
    p = make_program(api, staff)
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"], raw=b'{"max_uses": 1',
                    token=staff)
    assert_slug(r, 400, "malformed-json")


def test_invitation_wrong_content_type_is_415(api, staff):
    p = make_program(api, staff)
    raw = json.dumps({"max_uses": 1, "expires_at": future()}).encode()
    r = api.request("POST", "/v1/programs/%s/invitations" % p["id"], raw=raw, token=staff,
                    content_type="text/plain")
    assert_slug(r, 415, "unsupported-media-type")


def test_invitation_list_bad_query_is_422(api, staff):
    p = make_program(api, staff)
    assert_invalid(api.request("GET", "/v1/programs/%s/invitations?limit=0" % p["id"],
                               token=staff), "limit")
    assert_invalid(api.request("GET", "/v1/programs/%s/invitations?sort=asc" % p["id"],
                               token=staff), "sort")


# ---- POST /v1/invitations/{id}/revoke ----

def test_invitation_list_default_limit_is_50(api, staff):
    p = make_program(api, staff)
    for _ in range(51):
        invite(api, staff, p["id"], max_uses=1)
    r = api.request("GET", "/v1/programs/%s/invitations" % p["id"], token=staff)
    assert r.status == 200, r
    assert len(r.json["items"]) == 50
    assert r.json["next_cursor"]
    assert len(list_all(api, staff, "/v1/programs/%s/invitations" % p["id"])) == 51


def test_revoke_sets_revoked_at_and_second_revoke_is_409(api, staff, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    r = api.request("POST", "/v1/invitations/%s/revoke" % inv["id"], token=staff)
    assert r.status == 200, r
    out = r.json
    assert set(out) == INVITATION_KEYS - {"code"}, out
    assert out["id"] == inv["id"]
    assert TS_RE.match(out["revoked_at"] or ""), out
    listed = api.request("GET", "/v1/programs/%s/invitations" % p["id"], token=staff).json
    assert listed["items"][0]["revoked_at"] == out["revoked_at"]
    again = api.request("POST", "/v1/invitations/%s/revoke" % inv["id"], token=staff)
    assert_slug(again, 409, "conflict")
    actions = audit_actions(pg, inv["id"])
    assert len(actions) == 2 and actions[0] == "invitation.create", actions


def test_admin_may_revoke_with_an_empty_json_body(api, staff, admin):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    r = api.request("POST", "/v1/invitations/%s/revoke" % inv["id"], {}, token=admin["token"])
    assert r.status == 200, r
    assert r.json["revoked_at"]


@pytest.mark.parametrize("iid", ["nope", str(uuid.uuid4())])
def test_revoke_unknown_invitation_is_404(api, staff, iid):
    assert_slug(api.request("POST", "/v1/invitations/%s/revoke" % iid, token=staff),
                404, "not-found")


# ---- POST /v1/enrollments: success ----

def test_signed_in_artist_enrolls(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    user, token = people["a"]
    r = enroll_as(api, token, inv["code"], 1)
    assert r.status == 201, r
    e = r.json
    assert set(e) == ENROLLMENT_KEYS, e
    assert UUID_RE.match(e["id"])
    assert e["program_id"] == p["id"]
    assert e["artist"] == {"id": user["id"], "email": user["email"],
                           "display_name": user["display_name"]}
    assert e["status"] == "active"
    assert e["invitation_id"] == inv["id"]
    assert e["terms_version"] == 1 and e["latest_terms_version"] == 1
    assert e["needs_terms_acceptance"] is False
    assert TS_RE.match(e["terms_accepted_at"]) and TS_RE.match(e["created_at"])
    assert e["withdrawn_at"] is None and e["withdraw_reason"] is None


def test_enrollment_uses_one_invitation_use_and_one_seat(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"], max_uses=10)
    enrolled(api, people["a"][1], inv["code"])
    enrolled(api, people["b"][1], inv["code"])
    assert invitation_uses(pg, inv["id"]) == 2
    assert active_count(pg, p["id"]) == 2
    listed = api.request("GET", "/v1/programs/%s/invitations" % p["id"], token=staff).json
    assert listed["items"][0]["uses"] == 2


def test_enrollment_writes_outbox_event_and_audit_row(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    assert pg.psql("SELECT count(*) FROM outbox WHERE event_type = 'enrollment.created'"
                   " AND program_id = '%s' AND entity_id = '%s'" % (p["id"], e["id"])) == "1"
    assert len(outbox_rows(pg, "enrollment.created", p["id"])) == 1
    assert audit_actions(pg, e["id"]) == ["enrollment.create"]


def test_anonymous_enrollment_creates_an_artist_account(api, staff, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    body = anon_body(inv["code"], email="AnOn-%s@Example.COM" % uuid.uuid4().hex[:10],
                     display_name="Brand New")
    r = api.request("POST", "/v1/enrollments", body)
    assert r.status == 201, r
    e = r.json
    assert set(e) == ENROLLMENT_KEYS, e
    assert e["artist"]["email"] == body["email"].lower()
    assert e["artist"]["display_name"] == "Brand New"
    assert UUID_RE.match(e["artist"]["id"])
    assert e["status"] == "active" and e["terms_version"] == 1
    token = api.login(body["email"], PASSWORD)
    me = api.request("GET", "/v1/me", token=token).json
    assert me["id"] == e["artist"]["id"] and me["role"] == "artist"
    mine = api.request("GET", "/v1/me/enrollments", token=token)
    assert [i["id"] for i in mine.json["items"]] == [e["id"]]
    assert "user.create" in audit_actions(pg, e["artist"]["id"])
    assert audit_actions(pg, e["id"]) == ["enrollment.create"]
    assert PASSWORD not in r.body.decode()


def test_anonymous_enrollment_with_a_registered_email_is_409(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    email = people["a"][0]["email"]
    r = api.request("POST", "/v1/enrollments", anon_body(inv["code"], email=email.upper()))
    problem = assert_slug(r, 409, "conflict")
    assert "sign in" in problem["detail"].lower(), problem
    assert invitation_uses(pg, inv["id"]) == 0
    assert active_count(pg, p["id"]) == 0


@pytest.mark.parametrize("over,field", [
    ({"email": None}, "email"),
    ({"password": None}, "password"),
    ({"display_name": None}, "display_name"),
    ({"email": "no-at-sign"}, "email"),
    ({"password": "1234567"}, "password"),
    ({"password": "p" * 257}, "password"),
    ({"display_name": ""}, "display_name"),
    ({"display_name": "d" * 101}, "display_name"),
    ({"display_name": "two\nlines"}, "display_name"),
])
def test_anonymous_enrollment_account_problems_are_422(api, staff, pg, over, field):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    body = {k: v for k, v in anon_body(inv["code"], **over).items() if v is not None}
    assert_invalid(api.request("POST", "/v1/enrollments", body), field)
    assert invitation_uses(pg, inv["id"]) == 0


def test_anonymous_enrollment_names_every_missing_account_field(api, staff):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    r = api.request("POST", "/v1/enrollments",
                    {"invitation_code": inv["code"], "accept_terms_version": 1})
    assert_invalid(r, "email", "password", "display_name")


def test_anonymous_password_limits_are_inclusive(api, staff):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    for pw in ("12345678", "p" * 256):
        r = api.request("POST", "/v1/enrollments", anon_body(inv["code"], password=pw))
        assert r.status == 201, r


@pytest.mark.parametrize("field,value", [("email", "x@example.com"), ("password", PASSWORD),
                                         ("display_name", "Someone")])
def test_signed_in_enrollment_must_not_carry_account_fields(api, staff, people, pg,
                                                             field, value):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    r = enroll_as(api, people["a"][1], inv["code"], 1, **{field: value})
    assert_invalid(r, field)
    assert active_count(pg, p["id"]) == 0


def test_enrollment_with_an_invalid_token_is_401(api, staff, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    r = api.request("POST", "/v1/enrollments", anon_body(inv["code"]),
                    headers={"Authorization": "Bearer fbt_" + "A" * 43})
    assert_slug(r, 401, "unauthorized")
    assert invitation_uses(pg, inv["id"]) == 0


@pytest.mark.parametrize("who", ["staff", "finance", "admin"])
def test_non_artists_may_not_enroll(api, staff, people, admin, pg, who):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(enroll_as(api, token, inv["code"]), 403, "forbidden")
    assert invitation_uses(pg, inv["id"]) == 0


@pytest.mark.parametrize("body,field", [
    ({"accept_terms_version": 1}, "invitation_code"),
    ({"invitation_code": 5, "accept_terms_version": 1}, "invitation_code"),
    ({"invitation_code": "CODE"}, "accept_terms_version"),
    ({"invitation_code": "CODE", "accept_terms_version": 0}, "accept_terms_version"),
    ({"invitation_code": "CODE", "accept_terms_version": -1}, "accept_terms_version"),
    ({"invitation_code": "CODE", "accept_terms_version": "1"}, "accept_terms_version"),
    ({"invitation_code": "CODE", "accept_terms_version": 1.5}, "accept_terms_version"),
    ({"invitation_code": "CODE", "accept_terms_version": 1, "program_id": "x"}, "program_id"),
])
def test_enrollment_body_problems_are_422(api, staff, people, pg, body, field):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    body = {k: (inv["code"] if v == "CODE" else v) for k, v in body.items()}
    assert_invalid(api.request("POST", "/v1/enrollments", body, token=people["a"][1]), field)
    assert invitation_uses(pg, inv["id"]) == 0


def test_enrollment_malformed_json_is_400(api, people):
    r = api.request("POST", "/v1/enrollments", raw=b'{"invitation_code": "fbi_',
                    token=people["a"][1])
    assert_slug(r, 400, "malformed-json")


def test_enrollment_wrong_content_type_is_415(api, people):
    raw = json.dumps({"invitation_code": "fbi_x", "accept_terms_version": 1}).encode()
    r = api.request("POST", "/v1/enrollments", raw=raw, token=people["a"][1],
                    content_type="text/plain")
    assert_slug(r, 415, "unsupported-media-type")


# ---- invitation code problems ----

@pytest.mark.parametrize("code", ["fbi_" + "A" * 43, "fbi_" + "A" * 42 + "!", "nonsense"])
def test_unknown_code_is_422_not_valid(api, people, code):
    r = enroll_as(api, people["a"][1], code)
    p = assert_code_problem(r, MSG_UNKNOWN)
    assert p["detail"] == MSG_UNKNOWN


def test_unknown_code_for_anonymous_is_the_same_422(api, pg):
    body = anon_body("fbi_" + "B" * 43)
    p = assert_code_problem(api.request("POST", "/v1/enrollments", body), MSG_UNKNOWN)
    assert p["detail"] == MSG_UNKNOWN
    assert pg.psql("SELECT count(*) FROM users WHERE email = '%s'" % body["email"]) == "0"


def test_revoked_code_is_422(api, staff, people, pg):
    p = secret_program(api, staff)
    inv = invite(api, staff, p["id"])
    assert api.request("POST", "/v1/invitations/%s/revoke" % inv["id"], token=staff).status == 200
    assert_code_problem(enroll_as(api, people["a"][1], inv["code"]), "has been revoked", p)
    assert active_count(pg, p["id"]) == 0


def test_expired_code_is_422(api, staff, people, pg):
    p = secret_program(api, staff)
    inv = invite(api, staff, p["id"])
    pg.psql("UPDATE invitations SET expires_at = now() - interval '1 second'"
            " WHERE id = '%s'" % inv["id"])
    assert_code_problem(enroll_as(api, people["a"][1], inv["code"]), "has expired", p)
    assert active_count(pg, p["id"]) == 0


def test_used_up_code_is_422(api, staff, people, pg):
    p = secret_program(api, staff)
    inv = invite(api, staff, p["id"], max_uses=1)
    enrolled(api, people["a"][1], inv["code"])
    assert_code_problem(enroll_as(api, people["b"][1], inv["code"]), "has been used up", p)
    assert invitation_uses(pg, inv["id"]) == 1
    assert active_count(pg, p["id"]) == 1


def test_code_bound_to_another_email_is_422(api, staff, people, pg):
    p = secret_program(api, staff)
    inv = invite(api, staff, p["id"], email=fresh_email("bound"))
    assert_code_problem(enroll_as(api, people["a"][1], inv["code"]),
                        "was issued for a different email address", p)
    r = api.request("POST", "/v1/enrollments", anon_body(inv["code"]))
    assert_code_problem(r, "was issued for a different email address", p)
    assert invitation_uses(pg, inv["id"]) == 0


def test_code_bound_to_an_email_works_for_that_email(api, staff, people):
    p = open_program(api, staff)
    user, token = people["c"]
    inv = invite(api, staff, p["id"], email=user["email"].upper())
    assert enrolled(api, token, inv["code"])["artist"]["id"] == user["id"]
    email = fresh_email("boundanon")
    inv2 = invite(api, staff, p["id"], email=email)
    r = api.request("POST", "/v1/enrollments", anon_body(inv2["code"], email=email.upper()))
    assert r.status == 201, r
    assert r.json["artist"]["email"] == email


# ---- program, terms, already enrolled, full ----

def test_enrolling_in_a_draft_program_is_409_not_open(api, staff, people, pg):
    p = openable_program(api, staff)
    inv = invite(api, staff, p["id"])
    assert_slug(enroll_as(api, people["a"][1], inv["code"]), 409, "program-not-open")
    assert invitation_uses(pg, inv["id"]) == 0


def test_enrolling_in_a_closed_program_is_409_not_open(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    set_status(api, staff, p["id"], "closed")
    r = api.request("POST", "/v1/enrollments", anon_body(inv["code"]))
    assert_slug(r, 409, "program-not-open")
    assert_slug(enroll_as(api, people["a"][1], inv["code"]), 409, "program-not-open")
    assert invitation_uses(pg, inv["id"]) == 0


@pytest.mark.parametrize("version", [1, 3, 99])
def test_not_the_latest_terms_is_409_naming_the_latest(api, staff, people, pg, version):
    p = open_program(api, staff)
    publish_terms(api, staff, p["id"])
    inv = invite(api, staff, p["id"])
    pr = assert_slug(enroll_as(api, people["a"][1], inv["code"], version), 409,
                     "terms-outdated")
    assert pr["latest_terms_version"] == 2, pr
    assert invitation_uses(pg, inv["id"]) == 0
    assert enrolled(api, people["a"][1], inv["code"], 2)["terms_version"] == 2


def test_already_enrolled_is_409(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    other = invite(api, staff, p["id"])
    enrolled(api, people["a"][1], inv["code"])
    assert_slug(enroll_as(api, people["a"][1], inv["code"]), 409, "already-enrolled")
    assert_slug(enroll_as(api, people["a"][1], other["code"]), 409, "already-enrolled")
    assert invitation_uses(pg, inv["id"]) == 1
    assert invitation_uses(pg, other["id"]) == 0
    assert active_count(pg, p["id"]) == 1


def test_program_full_is_409_and_uses_nothing(api, staff, people, pg):
    p = open_program(api, staff, capacity=1)
    inv = invite(api, staff, p["id"])
    enrolled(api, people["a"][1], inv["code"])
    assert_slug(enroll_as(api, people["b"][1], inv["code"]), 409, "program-full")
    body = anon_body(inv["code"])
    assert_slug(api.request("POST", "/v1/enrollments", body), 409, "program-full")
    assert pg.psql("SELECT count(*) FROM users WHERE email = '%s'" % body["email"]) == "0"
    assert invitation_uses(pg, inv["id"]) == 1
    assert active_count(pg, p["id"]) == 1


# ---- the order of the checks ----

def test_body_is_checked_before_the_code(api):
    body = anon_body("fbi_" + "C" * 43)
    del body["password"]
    p = assert_invalid(api.request("POST", "/v1/enrollments", body), "password")
    assert "invitation_code" not in {e["field"] for e in p["errors"]}, p


def test_code_is_checked_before_the_program_status(api, staff, people):
    p = openable_program(api, staff)   # a draft
    inv = invite(api, staff, p["id"])
    assert api.request("POST", "/v1/invitations/%s/revoke" % inv["id"],
                       token=staff).status == 200
    assert_code_problem(enroll_as(api, people["a"][1], inv["code"], 99), "has been revoked")


def test_program_status_is_checked_before_the_terms(api, staff, people):
    p = openable_program(api, staff)
    inv = invite(api, staff, p["id"])
    assert_slug(enroll_as(api, people["a"][1], inv["code"], 99), 409, "program-not-open")


def test_terms_are_checked_before_already_enrolled(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    enrolled(api, people["a"][1], inv["code"])
    pr = assert_slug(enroll_as(api, people["a"][1], inv["code"], 2), 409, "terms-outdated")
    assert pr["latest_terms_version"] == 1


def test_already_enrolled_is_checked_before_capacity(api, staff, people):
    p = open_program(api, staff, capacity=1)
    inv = invite(api, staff, p["id"])
    enrolled(api, people["a"][1], inv["code"])
    assert_slug(enroll_as(api, people["a"][1], inv["code"]), 409, "already-enrolled")


def test_used_up_code_is_checked_before_capacity(api, staff, people):
    p = open_program(api, staff, capacity=1)
    inv = invite(api, staff, p["id"], max_uses=1)
    enrolled(api, people["a"][1], inv["code"])
    assert_code_problem(enroll_as(api, people["b"][1], inv["code"]), "has been used up")


# ---- GET /v1/enrollments/{id} ----

def test_get_enrollment_has_acceptances_and_etag(api, staff, admin, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    for token in (staff, admin["token"], people["a"][1]):
        r = get_enrollment(api, token, e["id"])
        assert r.status == 200, r
        body = r.json
        assert set(body) == ENROLLMENT_KEYS | {"acceptances"}, body
        assert {k: v for k, v in body.items() if k != "acceptances"} == e
        assert body["acceptances"] == [{"version": 1, "accepted_at": e["terms_accepted_at"]}]
        tag = r.header("ETag")
        assert tag and tag.startswith('"') and tag.endswith('"'), r.headers


def test_artist_cannot_see_another_artists_enrollment(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    assert_slug(get_enrollment(api, people["b"][1], e["id"]), 404, "not-found")
    unknown = get_enrollment(api, people["b"][1], str(uuid.uuid4()))
    assert_slug(unknown, 404, "not-found")


def test_finance_may_not_read_enrollments(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    assert_slug(get_enrollment(api, people["finance"][1], e["id"]), 403, "forbidden")
    assert_slug(api.request("GET", "/v1/programs/%s/enrollments" % p["id"],
                            token=people["finance"][1]), 403, "forbidden")


def test_get_enrollment_needs_a_token(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    assert_slug(api.request("GET", "/v1/enrollments/%s" % e["id"]), 401, "unauthorized")


@pytest.mark.parametrize("eid", ["not-a-uuid", str(uuid.uuid4())])
def test_unknown_enrollment_is_404(api, staff, eid):
    assert_slug(get_enrollment(api, staff, eid), 404, "not-found")


# ---- lists ----

def test_program_enrollments_list_pages_and_filters(api, staff, pool):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    made = [enrolled(api, token, inv["code"]) for _, token in pool[:5]]
    path = "/v1/programs/%s/enrollments" % p["id"]
    items = list_all(api, staff, path, limit=2)
    assert [i["id"] for i in items] == [e["id"] for e in reversed(made)]
    assert all(set(i) == ENROLLMENT_KEYS for i in items), items[0]
    assert items[-1] == made[0]
    r = api.request("POST", "/v1/enrollments/%s/withdraw" % made[1]["id"], token=staff)
    assert r.status == 200, r
    active = list_all(api, staff, path, status="active")
    withdrawn = list_all(api, staff, path, status="withdrawn")
    assert [i["id"] for i in withdrawn] == [made[1]["id"]]
    assert withdrawn[0]["status"] == "withdrawn"
    assert len(active) == 4 and made[1]["id"] not in [i["id"] for i in active]
    assert {i["status"] for i in active} == {"active"}


def test_program_enrollments_list_roles_and_errors(api, staff, admin, people):
    p = open_program(api, staff)
    path = "/v1/programs/%s/enrollments" % p["id"]
    assert api.request("GET", path, token=admin["token"]).json == {"items": [],
                                                                   "next_cursor": None}
    assert_slug(api.request("GET", path, token=people["a"][1]), 403, "forbidden")
    assert_slug(api.request("GET", path), 401, "unauthorized")
    assert_slug(api.request("GET", "/v1/programs/%s/enrollments" % uuid.uuid4(), token=staff),
                404, "not-found")
    assert_invalid(api.request("GET", path + "?status=gone", token=staff), "status")
    assert_invalid(api.request("GET", path + "?limit=201", token=staff), "limit")
    assert_invalid(api.request("GET", path + "?artist=me", token=staff), "artist")


def test_me_enrollments_lists_only_my_own_newest_first(api, staff, admin):
    me, token = api.create_user(admin["token"], "artist")
    _, other = api.create_user(admin["token"], "artist")
    p1, p2 = open_program(api, staff), open_program(api, staff)
    i1, i2 = invite(api, staff, p1["id"]), invite(api, staff, p2["id"])
    e1 = enrolled(api, token, i1["code"])
    e2 = enrolled(api, token, i2["code"])
    enrolled(api, other, i1["code"])
    r = api.request("GET", "/v1/me/enrollments", token=token)
    assert r.status == 200, r
    assert [i["id"] for i in r.json["items"]] == [e2["id"], e1["id"]]
    assert r.json["next_cursor"] is None
    assert all(i["artist"]["id"] == me["id"] for i in r.json["items"])
    page = api.request("GET", "/v1/me/enrollments?limit=1", token=token).json
    assert [i["id"] for i in page["items"]] == [e2["id"]] and page["next_cursor"]
    rest = api.request("GET", "/v1/me/enrollments?limit=1&cursor="
                       + urllib.parse.quote(page["next_cursor"]), token=token).json
    assert [i["id"] for i in rest["items"]] == [e1["id"]]
    assert api.request("POST", "/v1/enrollments/%s/withdraw" % e1["id"],
                       token=token).status == 200
    w = list_all(api, token, "/v1/me/enrollments", status="withdrawn")
    a = list_all(api, token, "/v1/me/enrollments", status="active")
    assert [i["id"] for i in w] == [e1["id"]] and [i["id"] for i in a] == [e2["id"]]


@pytest.mark.parametrize("who", ["staff", "finance"])
def test_me_enrollments_is_for_artists(api, people, who):
    assert_slug(api.request("GET", "/v1/me/enrollments", token=people[who][1]), 403,
                "forbidden")


def test_me_enrollments_needs_a_token_and_valid_query(api, people):
    assert_slug(api.request("GET", "/v1/me/enrollments"), 401, "unauthorized")
    assert_invalid(api.request("GET", "/v1/me/enrollments?status=all",
                               token=people["a"][1]), "status")
    assert_invalid(api.request("GET", "/v1/me/enrollments?program=x",
                               token=people["a"][1]), "program")


# ---- accept-terms ----

def accept(api, token, eid, version):
    return api.request("POST", "/v1/enrollments/%s/accept-terms" % eid, {"version": version},
                       token=token)


def test_accepting_new_terms(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    token = people["a"][1]
    e = enrolled(api, token, inv["code"])
    publish_terms(api, staff, p["id"])
    before = get_enrollment(api, token, e["id"]).json
    assert before["needs_terms_acceptance"] is True
    assert before["latest_terms_version"] == 2 and before["terms_version"] == 1
    mine = list_all(api, token, "/v1/me/enrollments")
    assert [i["needs_terms_acceptance"] for i in mine if i["id"] == e["id"]] == [True]

    old = accept(api, token, e["id"], 1)
    pr = assert_slug(old, 409, "terms-outdated")
    assert pr["latest_terms_version"] == 2
    ahead = assert_slug(accept(api, token, e["id"], 3), 409, "terms-outdated")
    assert ahead["latest_terms_version"] == 2
    assert get_enrollment(api, token, e["id"]).json["terms_version"] == 1

    r = accept(api, token, e["id"], 2)
    assert r.status == 200, r
    assert r.json["id"] == e["id"]
    assert r.json["needs_terms_acceptance"] is False
    assert r.json["terms_version"] == 2 and r.json["latest_terms_version"] == 2
    assert r.json["terms_accepted_at"] > e["terms_accepted_at"]
    after = get_enrollment(api, token, e["id"]).json
    assert [a["version"] for a in after["acceptances"]] == [1, 2]
    assert after["acceptances"][0]["accepted_at"] == e["terms_accepted_at"]
    assert after["acceptances"][1]["accepted_at"] == r.json["terms_accepted_at"]
    assert audit_actions(pg, e["id"]) == ["enrollment.create", "enrollment.accept_terms"]


def test_accepting_the_version_already_accepted_is_200_unchanged(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    token = people["a"][1]
    e = enrolled(api, token, inv["code"])
    r = accept(api, token, e["id"], 1)
    assert r.status == 200, r
    assert r.json["terms_version"] == 1
    assert r.json["terms_accepted_at"] == e["terms_accepted_at"]
    assert r.json["needs_terms_acceptance"] is False
    assert [a["version"] for a in get_enrollment(api, token, e["id"]).json["acceptances"]] == [1]
    assert pg.psql("SELECT count(*) FROM terms_acceptances WHERE enrollment_id = '%s'"
                   % e["id"]) == "1"


def test_accept_terms_of_another_artist_is_404(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    assert_slug(accept(api, people["b"][1], e["id"], 1), 404, "not-found")
    assert_slug(accept(api, people["b"][1], str(uuid.uuid4()), 1), 404, "not-found")


@pytest.mark.parametrize("who", ["staff", "finance"])
def test_accept_terms_is_for_the_artist_only(api, staff, people, who):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    assert_slug(accept(api, people[who][1], e["id"], 1), 403, "forbidden")


def test_accept_terms_needs_a_token(api, staff, people):
    p = open_program(api, staff)
    e = enrolled(api, people["a"][1], invite(api, staff, p["id"])["code"])
    assert_slug(api.request("POST", "/v1/enrollments/%s/accept-terms" % e["id"],
                            {"version": 1}), 401, "unauthorized")


def test_accept_terms_on_a_withdrawn_enrollment_is_409(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    token = people["a"][1]
    e = enrolled(api, token, inv["code"])
    publish_terms(api, staff, p["id"])
    assert api.request("POST", "/v1/enrollments/%s/withdraw" % e["id"],
                       token=token).status == 200
    assert_slug(accept(api, token, e["id"], 2), 409, "conflict")
    assert get_enrollment(api, token, e["id"]).json["terms_version"] == 1


@pytest.mark.parametrize("body,field", [({}, "version"), ({"version": 0}, "version"),
                                        ({"version": "2"}, "version"),
                                        ({"version": 1, "extra": True}, "extra")])
def test_accept_terms_body_problems_are_422(api, staff, people, body, field):
    p = open_program(api, staff)
    e = enrolled(api, people["a"][1], invite(api, staff, p["id"])["code"])
    r = api.request("POST", "/v1/enrollments/%s/accept-terms" % e["id"], body,
                    token=people["a"][1])
    assert_invalid(r, field)


def test_accept_terms_malformed_json_and_content_type(api, staff, people):
    p = open_program(api, staff)
    token = people["a"][1]
    e = enrolled(api, token, invite(api, staff, p["id"])["code"])
    path = "/v1/enrollments/%s/accept-terms" % e["id"]
    assert_slug(api.request("POST", path, raw=b'{"version":', token=token), 400,
                "malformed-json")
    assert_slug(api.request("POST", path, raw=b'{"version": 1}', token=token,
                            content_type="text/plain"), 415, "unsupported-media-type")


def test_database_refuses_to_change_an_acceptance(api, staff, people, pg):
    p = open_program(api, staff)
    e = enrolled(api, people["a"][1], invite(api, staff, p["id"])["code"])
    for sql in ["UPDATE terms_acceptances SET accepted_at = now() WHERE enrollment_id = '%s'",
                "DELETE FROM terms_acceptances WHERE enrollment_id = '%s'"]:
        with pytest.raises(subprocess.CalledProcessError) as exc:
            pg.psql(sql % e["id"])
        assert "append-only" in exc.value.stderr, exc.value.stderr
    assert pg.psql("SELECT count(*) FROM terms_acceptances WHERE enrollment_id = '%s'"
                   % e["id"]) == "1"


# ---- withdraw ----

def withdraw(api, token, eid, body=None, **kw):
    return api.request("POST", "/v1/enrollments/%s/withdraw" % eid, body, token=token, **kw)


def test_artist_withdraws_with_a_reason_and_second_time_is_409(api, staff, people, pg):
    p = open_program(api, staff)
    token = people["a"][1]
    e = enrolled(api, token, invite(api, staff, p["id"])["code"])
    tag = get_enrollment(api, token, e["id"]).header("ETag")
    r = withdraw(api, token, e["id"], {"reason": "No time this month."})
    assert r.status == 200, r
    w = r.json
    assert w["id"] == e["id"]
    assert w["status"] == "withdrawn"
    assert TS_RE.match(w["withdrawn_at"] or ""), w
    assert w["withdraw_reason"] == "No time this month."
    assert w["terms_version"] == e["terms_version"]
    got = get_enrollment(api, token, e["id"])
    g = got.json
    assert g["status"] == "withdrawn" and g["withdrawn_at"] == w["withdrawn_at"]
    assert got.header("ETag") and got.header("ETag") != tag, (tag, got.headers)
    assert_slug(withdraw(api, token, e["id"], {"reason": "again"}), 409, "conflict")
    assert get_enrollment(api, token, e["id"]).json["withdraw_reason"] == "No time this month."
    assert audit_actions(pg, e["id"]) == ["enrollment.create", "enrollment.withdraw"]


def test_withdraw_without_a_body(api, staff, people):
    p = open_program(api, staff)
    token = people["a"][1]
    e = enrolled(api, token, invite(api, staff, p["id"])["code"])
    r = withdraw(api, token, e["id"])
    assert r.status == 200, r
    assert r.json["status"] == "withdrawn" and r.json["withdraw_reason"] is None


def test_withdraw_with_an_empty_object(api, staff, people):
    p = open_program(api, staff)
    token = people["a"][1]
    e = enrolled(api, token, invite(api, staff, p["id"])["code"])
    r = withdraw(api, token, e["id"], {})
    assert r.status == 200, r
    assert r.json["status"] == "withdrawn"


@pytest.mark.parametrize("who", ["staff", "admin"])
def test_staff_and_admin_may_withdraw_an_artist(api, staff, admin, people, who):
    p = open_program(api, staff)
    e = enrolled(api, people["a"][1], invite(api, staff, p["id"])["code"])
    token = admin["token"] if who == "admin" else staff
    r = withdraw(api, token, e["id"], {"reason": "Removed by staff"})
    assert r.status == 200, r
    assert r.json["status"] == "withdrawn"
    assert r.json["withdraw_reason"] == "Removed by staff"


def test_others_may_not_withdraw_an_enrollment(api, staff, people):
    p = open_program(api, staff)
    e = enrolled(api, people["a"][1], invite(api, staff, p["id"])["code"])
    assert_slug(withdraw(api, people["b"][1], e["id"]), 404, "not-found")
    assert_slug(withdraw(api, people["finance"][1], e["id"]), 403, "forbidden")
    assert_slug(withdraw(api, None, e["id"]), 401, "unauthorized")
    assert_slug(withdraw(api, staff, str(uuid.uuid4())), 404, "not-found")
    assert_slug(withdraw(api, staff, "not-a-uuid"), 404, "not-found")
    assert_slug(accept(api, people["a"][1], "not-a-uuid", 1), 404, "not-found")
    assert get_enrollment(api, staff, e["id"]).json["status"] == "active"


def test_withdraw_reason_limits(api, staff, people):
    p = open_program(api, staff)
    token = people["a"][1]
    inv = invite(api, staff, p["id"])
    e = enrolled(api, token, inv["code"])
    assert_invalid(withdraw(api, token, e["id"], {"reason": "r" * 1001}), "reason")
    assert_invalid(withdraw(api, token, e["id"], {"reason": 5}), "reason")
    assert_invalid(withdraw(api, token, e["id"], {"why": "x"}), "why")
    assert get_enrollment(api, token, e["id"]).json["status"] == "active"
    r = withdraw(api, token, e["id"], {"reason": "r" * 1000})
    assert r.status == 200, r
    assert r.json["withdraw_reason"] == "r" * 1000


def test_withdraw_malformed_json_and_content_type(api, staff, people):
    p = open_program(api, staff)
    token = people["a"][1]
    e = enrolled(api, token, invite(api, staff, p["id"])["code"])
    assert_slug(withdraw(api, token, e["id"], raw=b'{"reason": '), 400, "malformed-json")
    assert_slug(withdraw(api, token, e["id"], raw=b'{"reason": "x"}',
                         content_type="text/plain"), 415, "unsupported-media-type")
    assert get_enrollment(api, token, e["id"]).json["status"] == "active"


def test_withdrawing_frees_a_seat(api, staff, people, pg):
    p = open_program(api, staff, capacity=1)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    assert_slug(enroll_as(api, people["b"][1], inv["code"]), 409, "program-full")
    assert withdraw(api, people["a"][1], e["id"]).status == 200
    assert active_count(pg, p["id"]) == 0
    eb = enrolled(api, people["b"][1], inv["code"])
    assert eb["status"] == "active"
    assert active_count(pg, p["id"]) == 1


def test_withdrawn_artist_may_enroll_again(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    token = people["a"][1]
    first = enrolled(api, token, inv["code"])
    assert withdraw(api, token, first["id"]).status == 200
    second = enrolled(api, token, inv["code"])
    assert second["id"] != first["id"]
    assert invitation_uses(pg, inv["id"]) == 2
    assert get_enrollment(api, token, first["id"]).json["status"] == "withdrawn"


# ---- program visibility and capacity through enrollments ----

def test_artist_still_sees_a_closed_program_they_were_in(api, staff, people):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    e = enrolled(api, people["a"][1], inv["code"])
    eb = enrolled(api, people["b"][1], inv["code"])
    assert withdraw(api, people["b"][1], eb["id"]).status == 200
    set_status(api, staff, p["id"], "closed")
    for who in ("a", "b"):
        token = people[who][1]
        r = api.request("GET", "/v1/programs/%s" % p["id"], token=token)
        assert r.status == 200, (who, r)
        assert r.json["status"] == "closed"
        assert api.request("GET", "/v1/programs/%s/terms" % p["id"], token=token).status == 200
        assert p["id"] in [i["id"] for i in list_all(api, token, "/v1/programs")]
        assert p["id"] in [i["id"] for i in list_all(api, token, "/v1/programs",
                                                     status="closed")]
        assert p["id"] not in [i["id"] for i in list_all(api, token, "/v1/programs",
                                                         status="open")]
    stranger = people["c"][1]
    assert_slug(api.request("GET", "/v1/programs/%s" % p["id"], token=stranger), 404,
                "not-found")
    assert p["id"] not in [i["id"] for i in list_all(api, stranger, "/v1/programs")]
    assert get_enrollment(api, people["a"][1], e["id"]).json["status"] == "active"


def test_capacity_below_active_enrollments_is_409(api, staff, people):
    p = open_program(api, staff, capacity=5)
    inv = invite(api, staff, p["id"])
    enrolled(api, people["a"][1], inv["code"])
    enrolled(api, people["b"][1], inv["code"])
    assert_slug(patch_program(api, staff, p["id"], {"capacity": 1}), 409, "conflict")
    assert api.request("GET", "/v1/programs/%s" % p["id"], token=staff).json["capacity"] == 5
    r = patch_program(api, staff, p["id"], {"capacity": 2})
    assert r.status == 200, r
    assert r.json["capacity"] == 2
    assert_slug(enroll_as(api, people["c"][1], inv["code"]), 409, "program-full")


# ---- concurrency ----

def run_at_once(n, fn):
    """Calls fn(i) for i in 0..n-1 on n threads released together; returns the results."""
    barrier = threading.Barrier(n, timeout=30)

    def go(i):
        barrier.wait()
        return fn(i)

    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as ex:
        return list(ex.map(go, range(n)))


def test_capacity_holds_under_50_simultaneous_enrollments(api, staff, pg):
    p = open_program(api, staff, capacity=5)
    inv = invite(api, staff, p["id"], max_uses=1000)
    bodies = [anon_body(inv["code"], email=fresh_email("rush%d" % i)) for i in range(50)]
    # 50 password hashes on two threads: slow on a loaded or sanitized build
    results = run_at_once(50, lambda i: api.request("POST", "/v1/enrollments", bodies[i],
                                                    timeout=300))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {201: 5, 409: 45}, statuses
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "program-full")
    winners = [r.json for r in results if r.status == 201]
    assert len({w["artist"]["id"] for w in winners}) == 5
    assert all(w["status"] == "active" for w in winners)
    assert active_count(pg, p["id"]) == 5
    assert pg.psql("SELECT count(*) FROM enrollments WHERE program_id = '%s'" % p["id"]) == "5"
    assert invitation_uses(pg, inv["id"]) == 5
    emails = ",".join("'%s'" % b["email"] for b in bodies)
    assert pg.psql("SELECT count(*) FROM users WHERE email IN (%s)" % emails) == "5"
    assert len(outbox_rows(pg, "enrollment.created", p["id"])) == 5


def test_invitation_uses_hold_under_30_simultaneous_enrollments(api, staff, pg, pool):
    p = open_program(api, staff, capacity=1000)
    inv = invite(api, staff, p["id"], max_uses=3)
    results = run_at_once(30, lambda i: enroll_as(api, pool[i][1], inv["code"]))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {201: 3, 422: 27}, statuses
    for r in results:
        if r.status == 422:
            assert_code_problem(r, "has been used up")
    assert invitation_uses(pg, inv["id"]) == 3
    assert active_count(pg, p["id"]) == 3
    winners = {r.json["artist"]["id"] for r in results if r.status == 201}
    assert len(winners) == 3


def test_one_artist_enrolling_ten_times_at_once_gets_one_enrollment(api, staff, people, pg):
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"])
    token = people["c"][1]
    results = run_at_once(10, lambda i: enroll_as(api, token, inv["code"]))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {201: 1, 409: 9}, statuses
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "already-enrolled")
    assert active_count(pg, p["id"]) == 1
    assert invitation_uses(pg, inv["id"]) == 1


def test_simultaneous_withdrawals_withdraw_once(api, staff, people, pg):
    p = open_program(api, staff)
    token = people["c"][1]
    e = enrolled(api, token, invite(api, staff, p["id"])["code"])
    results = run_at_once(8, lambda i: withdraw(api, token if i % 2 else staff, e["id"],
                                                {"reason": "racer %d" % i}))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {200: 1, 409: 7}, statuses
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "conflict")
    assert audit_actions(pg, e["id"]).count("enrollment.withdraw") == 1
    assert active_count(pg, p["id"]) == 0
