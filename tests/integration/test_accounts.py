"""Accounts and sessions (API.md, "Accounts and sessions" and "Roles"):
signing in and out, the 401 that does not tell which part was wrong, the
sign-in throttle, users of every role made by an admin, and /v1/me."""

import re
import uuid

import pytest

from harness import UUID_RE, assert_problem

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
ROLES = ["admin", "staff", "finance", "artist"]
PASSWORD = "a long enough password"
USER_KEYS = {"id", "email", "display_name", "role", "created_at"}


def fresh_email(tag="acct"):
    return "%s-%s@example.com" % (tag, uuid.uuid4().hex[:12])


def create_user(api, admin_token, role, email=None, password=PASSWORD):
    email = email or fresh_email(role)
    r = api.request("POST", "/v1/users", {"email": email, "password": password,
                                          "display_name": role.title() + " Person",
                                          "role": role}, token=admin_token)
    return r, email


@pytest.fixture(scope="module")
def by_role(api, admin):
    """One user of each role, made by the admin: {role: (create_response, email, token)}."""
    out = {}
    for role in ROLES:
        r, email = create_user(api, admin["token"], role)
        assert r.status == 201, r
        out[role] = (r, email, api.login(email, PASSWORD))
    return out


# ---- sign-in ----

def test_sign_in_returns_token_expiry_and_user(api, admin):
    r = api.request("POST", "/v1/sessions", {"email": admin["email"],
                                             "password": "correct horse battery staple"})
    assert r.status == 201, r
    assert (r.header("Content-Type") or "").startswith("application/json")
    body = r.json
    assert set(body) == {"token", "expires_at", "user"}, body
    assert isinstance(body["token"], str) and len(body["token"]) >= 40
    assert RFC3339_Z.match(body["expires_at"]), body["expires_at"]
    user = body["user"]
    assert set(user) == USER_KEYS, user
    assert UUID_RE.match(user["id"])
    assert user["email"] == admin["email"]
    assert user["role"] == "admin"
    assert user["display_name"] == "First Admin"
    assert RFC3339_Z.match(user["created_at"]), user["created_at"]
    assert body["expires_at"] > user["created_at"]


def test_sign_in_response_is_not_cacheable(api, admin):
    r = api.request("POST", "/v1/sessions", {"email": admin["email"],
                                             "password": "correct horse battery staple"})
    assert r.status == 201
    assert "no-store" in (r.header("Cache-Control") or ""), r.headers


def test_each_sign_in_gets_a_new_token(api, admin):
    a = api.login(admin["email"], "correct horse battery staple")
    b = api.login(admin["email"], "correct horse battery staple")
    assert a != b


def test_sign_in_email_is_case_insensitive(api, admin):
    r = api.request("POST", "/v1/sessions", {"email": admin["email"].upper(),
                                             "password": "correct horse battery staple"})
    assert r.status == 201, r
    assert r.json["user"]["email"] == admin["email"]


def test_unknown_email_and_wrong_password_give_the_same_401(api, admin):
    unknown = api.request("POST", "/v1/sessions", {"email": fresh_email("ghost"),
                                                   "password": "correct horse battery staple"})
    wrong = api.request("POST", "/v1/sessions", {"email": admin["email"],
                                                 "password": "not the password"})
    pu, pw = assert_problem(unknown, 401), assert_problem(wrong, 401)
    assert pu["detail"] == pw["detail"]
    assert pu["type"] == pw["type"]
    assert pu["title"] == pw["title"]
    assert set(pu) == set(pw)
    assert unknown.header("WWW-Authenticate") == wrong.header("WWW-Authenticate")


def test_password_is_case_sensitive(api, admin):
    r = api.request("POST", "/v1/sessions", {"email": admin["email"],
                                             "password": "CORRECT HORSE BATTERY STAPLE"})
    assert_problem(r, 401)


def test_eleventh_attempt_after_ten_failures_is_429_even_with_right_password(api, admin):
    r, email = create_user(api, admin["token"], "artist", email=fresh_email("throttle"))
    assert r.status == 201, r
    for i in range(10):
        # alternate the letter case: the limit is per address, not per spelling
        e = email.upper() if i % 2 else email
        bad = api.request("POST", "/v1/sessions", {"email": e, "password": "wrong %d" % i})
        assert_problem(bad, 401)
    r = api.request("POST", "/v1/sessions", {"email": email, "password": PASSWORD})
    assert_problem(r, 429)
    retry = r.header("Retry-After")
    assert retry is not None and retry.isdigit(), r.headers
    assert 1 <= int(retry) <= 15 * 60
    assert "token" not in r.json
    # the throttle is per address: others still sign in
    assert api.login(admin["email"], "correct horse battery staple")


def test_nine_failures_do_not_lock_out_and_success_resets(api, admin):
    r, email = create_user(api, admin["token"], "artist", email=fresh_email("nine"))
    assert r.status == 201, r
    for i in range(9):
        assert_problem(api.request("POST", "/v1/sessions",
                                   {"email": email, "password": "wrong %d" % i}), 401)
    assert api.login(email, PASSWORD)


# ---- sign-out ----

def test_sign_out_revokes_the_token_at_once(api, admin):
    token = api.login(admin["email"], "correct horse battery staple")
    assert api.request("GET", "/v1/me", token=token).status == 200
    r = api.request("DELETE", "/v1/sessions/current", token=token)
    assert r.status == 204, r
    assert r.body == b""
    r = api.request("GET", "/v1/me", token=token)
    assert_problem(r, 401)
    assert (r.header("WWW-Authenticate") or "").startswith("Bearer")
    assert_problem(api.request("DELETE", "/v1/sessions/current", token=token), 401)


def test_sign_out_leaves_other_sessions_alone(api, admin):
    a = api.login(admin["email"], "correct horse battery staple")
    b = api.login(admin["email"], "correct horse battery staple")
    assert api.request("DELETE", "/v1/sessions/current", token=a).status == 204
    assert api.request("GET", "/v1/me", token=b).status == 200
    assert api.request("GET", "/v1/me", token=admin["token"]).status == 200


def test_sign_out_needs_a_token(api):
    r = api.request("DELETE", "/v1/sessions/current")
    assert_problem(r, 401)


def test_token_is_stored_only_as_a_hash(api, admin, pg):
    token = api.login(admin["email"], "correct horse battery staple")
    dump = pg.psql("SELECT token_hash FROM sessions")
    assert token not in dump


# ---- users ----

@pytest.mark.parametrize("role", ROLES)
def test_admin_creates_user_of_each_role(by_role, role):
    r, email, _ = by_role[role]
    assert r.status == 201
    assert (r.header("Content-Type") or "").startswith("application/json")
    u = r.json
    assert set(u) == USER_KEYS, u
    assert UUID_RE.match(u["id"])
    assert u["email"] == email
    assert u["role"] == role
    assert u["display_name"] == role.title() + " Person"
    assert RFC3339_Z.match(u["created_at"])
    text = r.body.decode()
    assert PASSWORD not in text
    assert "password" not in text and "hash" not in text and "$argon2" not in text


@pytest.mark.parametrize("role", ROLES)
def test_new_user_signs_in_and_me_shows_role(api, by_role, role):
    r, email, token = by_role[role]
    me = api.request("GET", "/v1/me", token=token)
    assert me.status == 200, me
    assert me.json == r.json
    assert me.json["role"] == role


def test_password_is_stored_as_argon2id_hash(by_role, pg):
    _, email, _ = by_role["artist"]
    stored = pg.psql("SELECT password_hash FROM users WHERE email = '%s'" % email)
    assert stored.startswith("$argon2id$"), stored
    assert PASSWORD not in stored


@pytest.mark.parametrize("role", ["staff", "finance", "artist"])
def test_only_admin_may_create_users(api, by_role, pg, role):
    _, _, token = by_role[role]
    email = fresh_email("forbidden")
    r = api.request("POST", "/v1/users", {"email": email, "password": PASSWORD,
                                          "display_name": "Nope", "role": "admin"}, token=token)
    assert_problem(r, 403)
    assert pg.psql("SELECT count(*) FROM users WHERE email = '%s'" % email) == "0"


def test_duplicate_email_is_409(api, admin):
    r, email = create_user(api, admin["token"], "staff")
    assert r.status == 201, r
    r2, _ = create_user(api, admin["token"], "artist", email=email)
    p = assert_problem(r2, 409)
    assert p["title"] == "Conflict"


def test_duplicate_email_differing_only_in_case_is_409(api, admin, pg):
    local = "Foo-%s" % uuid.uuid4().hex[:10]
    first, _ = create_user(api, admin["token"], "artist", email="%s@X.com" % local)
    assert first.status == 201, first
    assert first.json["email"] == ("%s@x.com" % local).lower()
    second, _ = create_user(api, admin["token"], "artist", email="%s@x.com" % local.lower())
    assert_problem(second, 409)
    assert pg.psql("SELECT count(*) FROM users WHERE lower(email) = lower('%s@x.com')"
                   % local) == "1"


def test_user_created_with_mixed_case_email_signs_in_any_case(api, admin):
    email = "Mixed.%s@Example.COM" % uuid.uuid4().hex[:8]
    r, _ = create_user(api, admin["token"], "artist", email=email)
    assert r.status == 201, r
    assert api.login(email.swapcase(), PASSWORD)


# ---- /v1/me ----

def test_me_has_etag_and_if_none_match_gives_304(api, by_role):
    _, _, token = by_role["finance"]
    r = api.request("GET", "/v1/me", token=token)
    etag = r.header("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"'), r.headers
    again = api.request("GET", "/v1/me", token=token)
    assert again.header("ETag") == etag
    r304 = api.request("GET", "/v1/me", token=token, headers={"If-None-Match": etag})
    assert r304.status == 304, r304
    assert r304.body == b""
    assert r304.header("ETag") == etag


def test_me_if_none_match_with_other_etag_gives_200(api, by_role):
    _, _, token = by_role["finance"]
    r = api.request("GET", "/v1/me", token=token, headers={"If-None-Match": '"stale"'})
    assert r.status == 200, r
    assert r.json["role"] == "finance"


def test_me_etag_differs_between_users(api, by_role):
    tags = {api.request("GET", "/v1/me", token=t).header("ETag") for _, _, t in by_role.values()}
    assert len(tags) == len(by_role)


def test_me_304_requires_a_valid_token(api, by_role):
    _, _, token = by_role["finance"]
    etag = api.request("GET", "/v1/me", token=token).header("ETag")
    r = api.request("GET", "/v1/me", headers={"If-None-Match": etag})
    assert_problem(r, 401)
