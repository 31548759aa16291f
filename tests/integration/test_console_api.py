"""The server side of the web console (issue 14), over plain HTTP: the
console's files (content types, security headers, nothing else reachable),
the cookie session (sign-in, Set-Cookie attributes, lifetime, revocation,
the CSRF rule for changes made with the cookie, bearer tokens unchanged),
and the API operations added for the console: GET /v1/users,
POST /v1/invitations/preview, GET /v1/programs/{id}/payout-batches and
GET /v1/webhooks. The browser-driven tests are in test_console.py."""

import hashlib
import os
import re
import uuid

import pytest

from harness import ROOT, UUID_RE, Api, assert_problem, create_users
from test_enrollments import (MSG_UNKNOWN, anon_body, enroll_as, enrolled, fresh_email, future,
                              invitation_uses, invite)
from test_hostile import next_xid, written_since
from test_ledger import approve_new, enroll, new_key
from test_notifications import retire_webhooks
from test_payouts import BATCH_KEYS, drafted, get_batch
from test_programs import (CLAUSES, FULL_RATES, assert_invalid, etag_of, list_all, make_program,
                           open_program, program_body, publish_terms, put_rates)

PASSWORD = "a long enough password"
COOKIE = "fairbeta_session"
CONSOLE_DIR = os.path.join(ROOT, "console")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
       " media-src https: http:; connect-src 'self'; form-action 'self'; base-uri 'none';"
       " frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                    "Cache-Control": "no-cache"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
         ".json": "application/json", ".txt": "text/plain; charset=utf-8"}
PUBLIC_HOOK = "https://93.184.216.34/hooks/fairbeta"      # a public address literal: no DNS
USER_KEYS = {"id", "email", "display_name", "role", "created_at", "disabled_at"}
WEBHOOK_KEYS = {"id", "program_id", "url", "events", "created_at", "disabled_at"}
CODE_MESSAGES = ["is not valid", "has been revoked", "has expired", "has been used up"]


# ---- helpers ----

def console_files():
    """{name: bytes} of every file of console/ (what the build embeds)."""
    out = {}
    for name in sorted(os.listdir(CONSOLE_DIR)):
        path = os.path.join(CONSOLE_DIR, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = f.read()
    return out


def csp_in_source():
    """CONSOLE_CSP as api/console.c writes it (its adjacent string literals joined)."""
    with open(os.path.join(ROOT, "api", "console.c")) as f:
        src = f.read()
    m = re.search(r"#define CONSOLE_CSP((?:\s*\\?\s*\"[^\"]*\")+)", src)
    assert m, "api/console.c: no CONSOLE_CSP"
    return "".join(re.findall(r"\"([^\"]*)\"", m.group(1)))


def assert_security_headers(r):
    for name, value in SECURITY_HEADERS.items():
        got = [v for k, v in r.headers if k.lower() == name.lower()]
        assert got == [value], (name, got)


def origin(api):
    return "http://127.0.0.1:%d" % api.port


def console_headers(api, **over):
    """What the console's fetch() sends with a change: same origin, the header."""
    h = {"Origin": origin(api), "X-Fairbeta-Console": "1", "Sec-Fetch-Site": "same-origin"}
    h.update(over)
    return {k: v for k, v in h.items() if v is not None}


def parse_set_cookie(value):
    """'name=value; A=b; Flag' -> (name, value, {attribute name: value or True})."""
    parts = [p.strip() for p in value.split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        assert k not in attrs, value
        attrs[k] = v if eq else True
    return name, val, attrs


def set_cookies(r):
    return [v for k, v in r.headers if k.lower() == "set-cookie"]


def cookie_sign_in(api, email, password=PASSWORD, headers=None):
    """POST /v1/sessions with "cookie": true -> (response, token from the cookie)."""
    r = api.request("POST", "/v1/sessions", {"email": email, "password": password,
                                             "cookie": True}, headers=headers)
    assert r.status == 201, r
    [sc] = set_cookies(r)
    name, token, _ = parse_set_cookie(sc)
    assert name == COOKIE, sc
    return r, token


def with_cookie(token, headers=None, other=None):
    h = dict(headers or {})
    h["Cookie"] = "%s=%s" % (COOKIE, token) if other is None else other
    return h


def session_row(pg, token):
    h = hashlib.sha256(token.encode()).hexdigest()
    out = pg.psql("SELECT extract(epoch FROM expires_at - created_at)::bigint,"
                  " revoked_at IS NOT NULL FROM sessions WHERE token_hash = '%s'" % h)
    assert out, "no session row for the token"
    ttl, revoked = out.split("|")
    return int(ttl), revoked == "t"


def program_count(pg, slug):
    return int(pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'" % slug))


@pytest.fixture(scope="module")
def people(api, admin):
    return create_users(api, admin["token"], staff="staff", f1="finance", f2="finance",
                        a="artist", b="artist")


def email_of(people, name):
    return people[name][0]["email"]


# ---- the console's files ----

def test_csp_is_the_one_in_api_console_c():
    assert csp_in_source() == CSP


def test_root_is_index_html_with_every_security_header(api):
    r = api.request("GET", "/")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.body == console_files()["index.html"]
    assert_security_headers(r)
    assert r.header("X-Request-Id")


def test_every_console_file_is_served_with_its_type_and_the_headers(api):
    files = console_files()
    assert "index.html" in files and "app.js" in files and "style.css" in files, sorted(files)
    for name, data in files.items():
        r = api.request("GET", "/console/" + name)
        assert r.status == 200, (name, r)
        ext = os.path.splitext(name)[1]
        assert r.header("Content-Type") == TYPES.get(ext, "application/octet-stream"), name
        assert r.body == data, name
        assert_security_headers(r)


def test_console_files_stay_small():
    assert sum(len(b) for b in console_files().values()) < 200 * 1024


def test_head_of_the_console_has_the_headers_and_no_body(api):
    r = api.request("HEAD", "/console/app.js")
    assert r.status == 200, r
    assert r.body == b""
    assert_security_headers(r)


def test_unknown_console_file_is_a_404_problem_with_the_headers(api):
    for name in ("nope.js", "APP.JS", "app.js.bak", "index.htm", ".htaccess", "app.js~"):
        r = api.request("GET", "/console/" + name)
        p = assert_problem(r, 404)
        assert p["type"].endswith("/not-found"), p
        assert_security_headers(r)


TRICKS = ["/console/..%2Fapi%2Fmain.c", "/console/..%2F..%2FMakefile", "/console/",
          "/console/a/b", "/console/../api/main.c", "/console/%2e%2e", "/console/..",
          "/console/.", "/console/%2Fetc%2Fpasswd", "/console//app.js", "/console/./app.js",
          "/console/app.js/", "/console/app.js/..", "/console/app.js%2F", "/console/app.js%00",
          "/console/%00", "/console/app.js;x", "/console/app.js%20", "/console/%5C..%5CMakefile",
          "/console/..%5Capi%5Cmain.c", "/console/%252e%252e%252fMakefile", "/console",
          "/console%2Fapp.js", "/Console/app.js", "/console/" + "a" * 5000,
          "/console/api/main.c", "/console/openapi.yaml", "/console/.git", "/console/~"]


def test_path_tricks_never_serve_anything_else(api):
    secrets = [b"http_dispatch", b"fairbeta-api", b"#include", b"openapi:", b"root:"]
    for path in TRICKS:
        r = api.request("GET", path)
        assert r.status in (400, 404), (path, r)
        assert_problem(r, r.status)
        for s in secrets:
            assert s not in r.body, (path, s)


def test_console_takes_only_get(api, admin):
    for m in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/console/app.js"):
            r = api.request(m, path, token=admin["token"])
            assert_problem(r, 405)
            allow = {a.strip() for a in r.header("Allow").split(",")}
            assert allow - {"HEAD"} == {"GET"}, (m, path, r.headers)


def test_console_ignores_credentials(api, admin):
    """The files are public: a bad token or cookie does not make them 401."""
    for h in ({"Authorization": "Bearer " + "x" * 40}, {"Cookie": "%s=%s" % (COOKIE, "y" * 40)}):
        r = api.request("GET", "/", headers=h)
        assert r.status == 200, (h, r)


# ---- signing in to a cookie ----

def test_cookie_sign_in_sets_an_httponly_strict_cookie_and_no_token(api, pg, people):
    r, token = cookie_sign_in(api, email_of(people, "staff"))
    body = r.json
    assert set(body) == {"expires_at", "user"}, body
    assert body["user"]["id"] == people["staff"][0]["id"]
    assert token.encode() not in r.body
    assert r.header("Cache-Control") == "no-store"
    [sc] = set_cookies(r)
    name, value, attrs = parse_set_cookie(sc)
    assert (name, value) == (COOKIE, token)
    assert 16 <= len(token) <= 128 and re.fullmatch(r"[!-~]+", token), token
    assert set(attrs) == {"Path", "Max-Age", "HttpOnly", "SameSite"}, sc
    assert attrs["Path"] == "/" and attrs["HttpOnly"] is True
    assert attrs["SameSite"] == "Strict"
    ttl, revoked = session_row(pg, token)
    assert not revoked
    assert int(attrs["Max-Age"]) == ttl == int(api.env.get("FAIRBETA_SESSION_TTL_S", 43200))


def test_cookie_max_age_follows_the_session_lifetime_setting(pg, people):
    server = Api(pg.url, FAIRBETA_SESSION_TTL_S=600)
    try:
        server.start()
        r, token = cookie_sign_in(server, email_of(people, "a"))
        _, _, attrs = parse_set_cookie(set_cookies(r)[0])
        assert attrs["Max-Age"] == "600"
        assert session_row(pg, token)[0] == 600
    finally:
        server.stop()


def test_without_cookie_true_the_token_is_in_the_body_and_no_cookie(api, people):
    for extra in ({}, {"cookie": False}):
        r = api.request("POST", "/v1/sessions", dict({"email": email_of(people, "a"),
                                                      "password": PASSWORD}, **extra))
        assert r.status == 201, r
        assert set(r.json) == {"token", "expires_at", "user"}
        assert set_cookies(r) == []


def test_cookie_must_be_a_boolean(api, people):
    for v in ("true", 1, None, [], {}):
        r = api.request("POST", "/v1/sessions", {"email": email_of(people, "a"),
                                                 "password": PASSWORD, "cookie": v})
        assert_invalid(r, "cookie")
        assert set_cookies(r) == []


def test_failed_cookie_sign_in_sets_no_cookie(api, people):
    r = api.request("POST", "/v1/sessions", {"email": email_of(people, "b"),
                                             "password": "wrong " + PASSWORD, "cookie": True})
    assert_problem(r, 401)
    assert set_cookies(r) == []


def test_secure_only_over_tls(api, people):
    for proto, secure in (("https", True), ("HTTPS", True), ("http", False), (None, False)):
        headers = {} if proto is None else {"X-Forwarded-Proto": proto}
        r, _ = cookie_sign_in(api, email_of(people, "a"), headers=headers)
        _, _, attrs = parse_set_cookie(set_cookies(r)[0])
        assert ("Secure" in attrs) == secure, (proto, attrs)
        if secure:
            assert attrs["Secure"] is True


# ---- authenticating with the cookie ----

def test_cookie_authenticates_a_get(api, people):
    _, token = cookie_sign_in(api, email_of(people, "staff"))
    r = api.request("GET", "/v1/me", headers=with_cookie(token))
    assert r.status == 200, r
    assert r.json["id"] == people["staff"][0]["id"]
    # among other cookies, in any order; a GET needs no Origin and no console header
    other = "theme=dark; %s=%s; lang=en" % (COOKIE, token)
    r = api.request("GET", "/v1/programs?limit=1",
                    headers=with_cookie(token, {"Origin": "https://evil.example",
                                                "Sec-Fetch-Site": "cross-site"}, other))
    assert r.status == 200, r


def test_cookie_token_is_the_same_session_as_a_bearer_token(api, people):
    _, token = cookie_sign_in(api, email_of(people, "a"))
    r = api.request("GET", "/v1/me", token=token)
    assert r.status == 200 and r.json["id"] == people["a"][0]["id"], r


def test_bad_cookies_are_401(api):
    for c in ("%s=%s" % (COOKIE, "z" * 43), "%s=" % COOKIE, "%s=short" % COOKIE,
              "%s=%s" % (COOKIE, "a" * 200), "other=%s" % ("z" * 43), "%sx=%s" % (COOKIE, "z" * 43)):
        r = api.request("GET", "/v1/me", headers={"Cookie": c})
        assert_problem(r, 401)


def test_bearer_wins_over_the_cookie(api, people):
    _, cookie_a = cookie_sign_in(api, email_of(people, "a"))
    staff = people["staff"][1]
    r = api.request("GET", "/v1/me", token=staff, headers=with_cookie(cookie_a))
    assert r.status == 200 and r.json["id"] == people["staff"][0]["id"], r
    # a bad bearer token is 401 even with a good cookie: no falling back
    r = api.request("GET", "/v1/me", token="x" * 43, headers=with_cookie(cookie_a))
    assert_problem(r, 401)
    r = api.request("GET", "/v1/me", headers=with_cookie(cookie_a, {"Authorization": "Basic eDp5"}))
    assert_problem(r, 401)
    # a change with a bearer token needs no CSRF headers, whatever cookie comes along
    body = program_body()
    r = api.request("POST", "/v1/programs", body, token=staff, headers=with_cookie(cookie_a))
    assert r.status == 201, r
    assert r.json["slug"] == body["slug"]


def test_bearer_tokens_need_none_of_the_csrf_headers(api, pg, people):
    staff = people["staff"][1]
    for headers in ({}, {"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        body = program_body()
        r = api.request("POST", "/v1/programs", body, token=staff, headers=headers)
        assert r.status == 201, (headers, r)
        assert program_count(pg, body["slug"]) == 1


# ---- the CSRF rule ----

def refusals(api):
    """(name, headers) of changes with the cookie that did not come from the console."""
    o = origin(api)
    return [("no Origin", console_headers(api, Origin=None)),
            ("foreign Origin", console_headers(api, Origin="https://evil.example")),
            ("other port", console_headers(api, Origin="http://127.0.0.1:%d" % (api.port + 1))),
            ("other host", console_headers(api, Origin="http://localhost:%d" % api.port)),
            ("Origin null", console_headers(api, Origin="null")),
            ("Origin without a scheme", console_headers(api, Origin="127.0.0.1:%d" % api.port)),
            ("Origin with a path", console_headers(api, Origin=o + "/")),
            ("Origin suffix", console_headers(api, Origin=o + ".evil.example")),
            ("no X-Fairbeta-Console", console_headers(api, **{"X-Fairbeta-Console": None})),
            ("Sec-Fetch-Site cross-site", console_headers(api, **{"Sec-Fetch-Site": "cross-site"})),
            ("Sec-Fetch-Site same-site", console_headers(api, **{"Sec-Fetch-Site": "same-site"})),
            ("Sec-Fetch-Site none", console_headers(api, **{"Sec-Fetch-Site": "none"})),
            ("nothing", {})]


def assert_csrf(r):
    p = assert_problem(r, 403)
    assert p["type"].endswith("/csrf"), p
    return p


def test_changes_with_the_cookie_from_elsewhere_are_403_and_change_nothing(api, pg, people):
    _, token = cookie_sign_in(api, email_of(people, "staff"))
    pid = make_program(api, people["staff"][1])["id"]
    tag = etag_of(api, people["staff"][1], pid)
    before = next_xid(pg)
    slugs = []
    for name, headers in refusals(api):
        body = program_body()
        slugs.append(body["slug"])
        assert_csrf(api.request("POST", "/v1/programs", body, headers=with_cookie(token, headers)))
        assert_csrf(api.request("PATCH", "/v1/programs/%s" % pid, {"name": "Changed"},
                                headers=with_cookie(token, dict(headers, **{"If-Match": tag}))))
        assert_csrf(api.request("PUT", "/v1/me/notification-preferences",
                                {"email": {"payout.paid": False}}, headers=with_cookie(token, headers)))
        assert_csrf(api.request("POST", "/v1/programs/%s/invitations" % pid,
                                {"max_uses": 1, "expires_at": future(3)},
                                headers=with_cookie(token, dict(headers, **{
                                    "Idempotency-Key": new_key("csrf")}))))
        assert_csrf(api.request("DELETE", "/v1/sessions/current", headers=with_cookie(token, headers)))
    assert next_xid(pg) == before, written_since(pg, before)
    for slug in slugs:
        assert program_count(pg, slug) == 0
    assert etag_of(api, people["staff"][1], pid) == tag
    assert not session_row(pg, token)[1]
    assert api.request("GET", "/v1/me", headers=with_cookie(token)).status == 200


def test_csrf_refusal_comes_before_the_session_is_looked_up(api):
    """A forged change learns nothing about the cookie: 403, valid or not."""
    r = api.request("POST", "/v1/programs", program_body(),
                    headers={"Cookie": "%s=%s" % (COOKIE, "q" * 43)})
    assert_csrf(r)


def test_enrolling_with_the_cookie_is_held_to_the_rule(api, pg, people):
    p = open_program(api, people["staff"][1])
    inv = invite(api, people["staff"][1], p["id"])
    _, token = cookie_sign_in(api, email_of(people, "b"))
    body = {"invitation_code": inv["code"], "accept_terms_version": 1}
    assert_csrf(api.request("POST", "/v1/enrollments", body, headers=with_cookie(token)))
    assert invitation_uses(pg, inv["id"]) == 0
    r = api.request("POST", "/v1/enrollments", body,
                    headers=with_cookie(token, console_headers(api)))
    assert r.status == 201, r
    assert r.json["artist"]["id"] == people["b"][0]["id"]


def test_changes_from_the_console_are_accepted(api, pg, people):
    _, token = cookie_sign_in(api, email_of(people, "staff"))
    for headers in (console_headers(api), console_headers(api, **{"Sec-Fetch-Site": None}),
                    console_headers(api, **{"X-Fairbeta-Console": "yes"})):
        body = program_body()
        r = api.request("POST", "/v1/programs", body, headers=with_cookie(token, headers))
        assert r.status == 201, (headers, r)
        assert program_count(pg, body["slug"]) == 1
        pid = r.json["id"]
    tag = etag_of(api, people["staff"][1], pid)
    r = api.request("PATCH", "/v1/programs/%s" % pid, {"name": "Renamed"},
                    headers=with_cookie(token, dict(console_headers(api), **{"If-Match": tag})))
    assert r.status == 200 and r.json["name"] == "Renamed", r
    r = api.request("PUT", "/v1/me/notification-preferences", {"email": {"payout.paid": False}},
                    headers=with_cookie(token, console_headers(api)))
    assert r.status == 200, r
    assert r.json["email"]["payout.paid"] is False


def test_public_posts_ignore_the_cookie(api, people):
    """Signing in and previewing need no session: a cookie, even a stale one, and no
    Origin do not matter."""
    for c in ("%s=%s" % (COOKIE, "s" * 43), None):
        h = {} if c is None else {"Cookie": c}
        r = api.request("POST", "/v1/sessions", {"email": email_of(people, "a"),
                                                 "password": PASSWORD}, headers=h)
        assert r.status == 201, r
        r = api.request("POST", "/v1/invitations/preview", {"invitation_code": "fbi_" + "x" * 43},
                        headers=h)
        assert_invalid(r, "invitation_code")


def test_a_stale_cookie_on_a_public_route_is_forgotten_not_401(api, people):
    """A browser may still hold a revoked session's cookie: the public figures
    (a route where signing in is optional) answer it as anyone, and clear it."""
    p = open_program(api, people["staff"][1], public_transparency=True)
    r = api.request("GET", "/v1/programs/%s/transparency" % p["id"],
                    headers={"Cookie": "%s=%s" % (COOKIE, "s" * 43)})
    assert r.status == 200, r
    assert r.json["program_id"] == p["id"]
    cleared = r.header("Set-Cookie") or ""
    assert cleared.startswith(COOKIE + "=;") and "Max-Age=0" in cleared, cleared
    # a bearer token the caller chose is never ignored
    assert_problem(api.request("GET", "/v1/programs/%s/transparency" % p["id"],
                               token="s" * 43), 401)


# ---- signing out ----

def test_cookie_sign_out_clears_the_cookie_and_revokes_the_session(api, pg, people):
    _, token = cookie_sign_in(api, email_of(people, "f1"))
    r = api.request("DELETE", "/v1/sessions/current", headers=with_cookie(token, console_headers(api)))
    assert r.status == 204, r
    [sc] = set_cookies(r)
    name, value, attrs = parse_set_cookie(sc)
    assert (name, value) == (COOKIE, "")
    assert attrs == {"Path": "/", "Max-Age": "0", "HttpOnly": True, "SameSite": "Strict"}, sc
    assert session_row(pg, token)[1]
    assert_problem(api.request("GET", "/v1/me", headers=with_cookie(token)), 401)
    assert_problem(api.request("GET", "/v1/me", token=token), 401)


def test_cookie_sign_out_over_tls_clears_a_secure_cookie(api, people):
    _, token = cookie_sign_in(api, email_of(people, "f1"), headers={"X-Forwarded-Proto": "https"})
    r = api.request("DELETE", "/v1/sessions/current",
                    headers=with_cookie(token, console_headers(api, **{"X-Forwarded-Proto": "https"})))
    assert r.status == 204, r
    _, value, attrs = parse_set_cookie(set_cookies(r)[0])
    assert value == "" and attrs["Max-Age"] == "0" and attrs["Secure"] is True


def test_bearer_sign_out_sets_no_cookie(api, people):
    token = api.login(email_of(people, "f1"), PASSWORD)
    _, cookie = cookie_sign_in(api, email_of(people, "f2"))
    r = api.request("DELETE", "/v1/sessions/current", token=token, headers=with_cookie(cookie))
    assert r.status == 204, r
    assert set_cookies(r) == []
    assert_problem(api.request("GET", "/v1/me", token=token), 401)
    # the cookie's own session is untouched
    assert api.request("GET", "/v1/me", headers=with_cookie(cookie)).status == 200


def test_bearer_sign_out_revokes_the_cookie_session_too(api, people):
    """One session, two ways of presenting it: revoking it either way ends both."""
    _, token = cookie_sign_in(api, email_of(people, "f2"))
    assert api.request("DELETE", "/v1/sessions/current", token=token).status == 204
    assert_problem(api.request("GET", "/v1/me", headers=with_cookie(token)), 401)


# ---- GET /v1/users ----

def test_list_users_is_for_admins(api, admin, people):
    r = api.request("GET", "/v1/users", token=admin["token"])
    assert r.status == 200, r
    assert set(r.json) == {"items", "next_cursor"}
    for u in r.json["items"]:
        assert set(u) == USER_KEYS, u
        assert UUID_RE.match(u["id"])
    for name in ("staff", "f1", "a"):
        assert_problem(api.request("GET", "/v1/users", token=people[name][1]), 403)
    assert_problem(api.request("GET", "/v1/users"), 401)


def test_list_users_newest_first_with_every_user_and_no_secrets(api, pg, admin, people):
    everyone = list_all(api, admin["token"], "/v1/users", limit=7)
    ids = [u["id"] for u in everyone]
    assert len(ids) == len(set(ids))
    assert len(ids) == int(pg.psql("SELECT count(*) FROM users"))
    mine = [people[n][0]["id"] for n in ("staff", "f1", "f2", "a", "b")]
    assert set(mine) <= set(ids)
    text = str(everyone)
    for secret in ("password", "argon2", "$argon"):
        assert secret not in text
    # made one after another, listed newest first
    fresh = [api.create_user(admin["token"], "staff")[0] for _ in range(3)]
    first = api.request("GET", "/v1/users?limit=3", token=admin["token"]).json
    assert first["items"] == [dict(u, disabled_at=None) for u in reversed(fresh)]
    assert first["next_cursor"]


def test_list_users_by_role(api, admin, people):
    for role in ("admin", "staff", "finance", "artist"):
        items = list_all(api, admin["token"], "/v1/users", role=role)
        assert items and {u["role"] for u in items} == {role}, role
    finance = {u["id"] for u in list_all(api, admin["token"], "/v1/users", role="finance")}
    assert {people["f1"][0]["id"], people["f2"][0]["id"]} <= finance


def test_list_users_shows_disabled_accounts(api, pg, admin):
    u, _ = api.create_user(admin["token"], "artist")
    pg.psql("UPDATE users SET disabled_at = now() WHERE id = '%s'" % u["id"])
    [found] = [x for x in list_all(api, admin["token"], "/v1/users", role="artist")
               if x["id"] == u["id"]]
    assert found["disabled_at"] is not None


def test_list_users_refuses_bad_queries(api, admin):
    for q, field in (("role=bogus", "role"), ("role=ADMIN", "role"), ("role=", "role"),
                     ("limit=0", "limit"), ("limit=201", "limit"), ("cursor=garbage", "cursor"),
                     ("zz=1", "zz"), ("role=staff&role=admin", "role")):
        r = api.request("GET", "/v1/users?" + q, token=admin["token"])
        p = assert_invalid(r, field)
        assert p["type"].endswith("/validation"), (q, p)


# ---- POST /v1/invitations/preview ----

def preview(api, code, **kw):
    return api.request("POST", "/v1/invitations/preview", {"invitation_code": code}, **kw)


def assert_no_secret(r, inv):
    text = r.body.decode()
    assert inv["code"] not in text
    assert hashlib.sha256(inv["code"].encode()).hexdigest() not in text
    assert inv["id"] not in text
    for word in ("code", "code_hash", "invitation", "max_uses", "uses"):
        assert '"%s"' % word not in text, word
    if inv.get("email"):
        assert inv["email"] not in text


def test_preview_shows_the_program_latest_terms_and_current_rates(api, pg, people):
    staff = people["staff"][1]
    p = open_program(api, staff)
    inv = invite(api, staff, p["id"], max_uses=3, email=fresh_email("invited"))
    clauses = [dict(c) for c in CLAUSES]
    clauses[1]["title"] = "Version two"
    clauses[1]["body"] = "The whole text of the clause,\nover two lines."
    terms = publish_terms(api, staff, p["id"], clauses)
    rates = put_rates(api, staff, p["id"], [dict(r, amount_minor=7777) if r["kind"] == "work"
                                            else r for r in FULL_RATES])
    before = next_xid(pg)
    r = preview(api, inv["code"])                       # anonymous
    assert r.status == 200, r
    assert next_xid(pg) == before, written_since(pg, before)
    assert r.header("Cache-Control") == "no-store"
    body = r.json
    assert set(body) == {"program", "terms", "rates"}
    assert body["program"] == api.request("GET", "/v1/programs/%s" % p["id"], token=staff).json
    assert body["terms"] == terms and body["terms"]["version"] == 2
    assert body["terms"]["clauses"] == clauses
    assert body["terms"] == api.request("GET", "/v1/programs/%s/terms" % p["id"], token=staff).json
    assert body["rates"] == rates and body["rates"]["version"] == 2
    assert {"kind": "work", "amount_minor": 7777} in body["rates"]["rates"]
    assert body["rates"] == api.request("GET", "/v1/programs/%s/rates" % p["id"], token=staff).json
    assert_no_secret(r, inv)
    assert invitation_uses(pg, inv["id"]) == 0


def test_preview_of_a_draft_without_terms_or_rates(api, people):
    p = make_program(api, people["staff"][1])
    inv = invite(api, people["staff"][1], p["id"])
    r = preview(api, inv["code"])
    assert r.status == 200, r
    assert r.json["program"]["id"] == p["id"] and r.json["program"]["status"] == "draft"
    assert r.json["terms"] is None and r.json["rates"] is None


def test_preview_needs_no_token_and_ignores_one(api, people):
    p = open_program(api, people["staff"][1])
    inv = invite(api, people["staff"][1], p["id"])
    want = preview(api, inv["code"]).json
    for kw in ({"token": people["a"][1]}, {"token": "x" * 43},
               {"headers": {"Cookie": "%s=%s" % (COOKIE, "c" * 43)}}):
        r = preview(api, inv["code"], **kw)
        assert r.status == 200, (kw, r)
        assert r.json == want


def code_states(api, pg, staff, artist):
    """{message end: code} for an unknown, revoked, expired and used-up code."""
    p = open_program(api, staff, name="Secret Project %s" % uuid.uuid4().hex[:8])
    revoked = invite(api, staff, p["id"])
    assert api.request("POST", "/v1/invitations/%s/revoke" % revoked["id"], token=staff).status == 200
    expired = invite(api, staff, p["id"])
    pg.psql("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = '%s'"
            % expired["id"])
    used = invite(api, staff, p["id"], max_uses=1)
    enrolled(api, artist, used["code"])
    return p, {"is not valid": "fbi_" + "Q" * 43, "has been revoked": revoked["code"],
               "has expired": expired["code"], "has been used up": used["code"]}


def test_unusable_codes_are_the_same_422_as_enrolling(api, pg, people):
    p, codes = code_states(api, pg, people["staff"][1], people["a"][1])
    assert sorted(codes) == sorted(CODE_MESSAGES)
    for end, code in codes.items():
        before = next_xid(pg)
        r = preview(api, code)
        assert next_xid(pg) == before, (end, written_since(pg, before))
        got = assert_invalid(r, "invitation_code")
        assert got["errors"] == [{"field": "invitation_code",
                                  "message": "this invitation code " + end}], got
        # exactly what POST /v1/enrollments answers, anonymous or signed in
        for e in (api.request("POST", "/v1/enrollments", anon_body(code)),
                  enroll_as(api, people["b"][1], code)):
            want = assert_invalid(e, "invitation_code")
            same = lambda p: {k: v for k, v in p.items() if k not in ("request_id", "instance")}
            assert same(got) == same(want), (end, got, want)
        text = r.body.decode()
        for k in ("id", "slug", "name"):
            assert p[k] not in text, (end, k)
    assert MSG_UNKNOWN == "this invitation code is not valid"


def test_preview_refuses_bad_bodies(api):
    for body, field in (({}, "invitation_code"), ({"invitation_code": ""}, "invitation_code"),
                        ({"invitation_code": 5}, "invitation_code"),
                        ({"invitation_code": None}, "invitation_code"),
                        ({"invitation_code": "a" * 201}, "invitation_code"),
                        ({"invitation_code": "fbi_x\ny"}, "invitation_code"),
                        ({"invitation_code": "fbi_x", "zz": 1}, "zz")):
        assert_invalid(api.request("POST", "/v1/invitations/preview", body), field)
    assert_problem(api.request("POST", "/v1/invitations/preview", raw=b"{"), 400)
    assert_problem(api.request("POST", "/v1/invitations/preview", raw=b"code=x",
                               content_type="application/x-www-form-urlencoded"), 415)
    assert_problem(api.request("GET", "/v1/invitations/preview"), 405)


# ---- GET /v1/programs/{id}/payout-batches ----

@pytest.fixture(scope="module")
def owed_program(api, people):
    """An open program in which artist a is owed, with three draft batches by f1."""
    staff = people["staff"][1]
    p = open_program(api, staff)
    enroll(api, staff, p["id"], [people["a"][1]])
    approve_new(api, staff, people["a"][1], p["id"])
    batches = [drafted(api, people["f1"][1], p["id"]) for _ in range(3)]
    return p, batches


def test_list_payout_batches_newest_first_as_get_gives_them(api, admin, people, owed_program):
    p, batches = owed_program
    path = "/v1/programs/%s/payout-batches" % p["id"]
    for token in (people["f1"][1], people["f2"][1], admin["token"]):
        r = api.request("GET", path, token=token)
        assert r.status == 200, r
        assert set(r.json) == {"items", "next_cursor"}
        assert r.json["next_cursor"] is None
        items = r.json["items"]
        assert [b["id"] for b in items] == [b["id"] for b in reversed(batches)]
        for b in items:
            assert set(b) == BATCH_KEYS, b
            assert b == get_batch(api, token, b["id"]).json
    paged = list_all(api, people["f1"][1], path, limit=1)
    assert [b["id"] for b in paged] == [b["id"] for b in reversed(batches)]
    r = api.request("GET", path + "?limit=2", token=people["f1"][1])
    assert len(r.json["items"]) == 2 and r.json["next_cursor"]


def test_list_payout_batches_is_for_finance_and_admins(api, people, owed_program):
    path = "/v1/programs/%s/payout-batches" % owed_program[0]["id"]
    for name in ("staff", "a"):
        assert_problem(api.request("GET", path, token=people[name][1]), 403)
    assert_problem(api.request("GET", path), 401)


def test_list_payout_batches_of_unknown_or_empty_programs(api, people):
    f1 = people["f1"][1]
    for pid in (str(uuid.uuid4()), "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        p = assert_problem(api.request("GET", "/v1/programs/%s/payout-batches" % pid, token=f1), 404)
        assert p["type"].endswith("/not-found")
    empty = open_program(api, people["staff"][1])
    r = api.request("GET", "/v1/programs/%s/payout-batches" % empty["id"], token=f1)
    assert r.status == 200 and r.json == {"items": [], "next_cursor": None}, r


def test_list_payout_batches_refuses_bad_queries(api, people, owed_program):
    path = "/v1/programs/%s/payout-batches" % owed_program[0]["id"]
    for q, field in (("limit=0", "limit"), ("limit=x", "limit"), ("cursor=garbage", "cursor"),
                     ("status=draft", "status")):
        assert_invalid(api.request("GET", path + "?" + q, token=people["f1"][1]), field)


# ---- GET /v1/webhooks ----

@pytest.fixture(scope="module")
def hooks(api, pg, people):
    """Two programs, three webhooks in the first and one in the second."""
    staff = people["staff"][1]
    progs = [open_program(api, staff)["id"] for _ in range(2)]
    made = []
    for pid, events in ((progs[0], ["payout.paid"]), (progs[0], ["submission.created"]),
                        (progs[0], ["payout.paid", "payout.failed"]), (progs[1], ["payout.paid"])):
        r = api.request("POST", "/v1/webhooks", {"program_id": pid, "url": PUBLIC_HOOK,
                                                 "events": events}, token=staff)
        assert r.status == 201, r
        made.append(r.json)
    yield progs, made
    retire_webhooks(pg, [h["id"] for h in made])


def test_list_webhooks_without_secrets(api, admin, people, hooks):
    progs, made = hooks
    for token in (people["staff"][1], admin["token"]):
        items = list_all(api, token, "/v1/webhooks")
        ids = [h["id"] for h in items]
        assert len(ids) == len(set(ids))
        assert {h["id"] for h in made} <= set(ids)
        for h in items:
            assert set(h) == WEBHOOK_KEYS, h
        text = str(items)
        assert "whsec_" not in text
        for h in made:
            assert h["secret"] not in text
        mine = [h for h in items if h["id"] in {m["id"] for m in made}]
        assert [h["id"] for h in mine] == [h["id"] for h in reversed(made)]
        for h in mine:
            [m] = [x for x in made if x["id"] == h["id"]]
            assert h == {k: m[k] for k in WEBHOOK_KEYS - {"disabled_at"}} | {"disabled_at": None}


def test_list_webhooks_of_one_program(api, people, hooks):
    progs, made = hooks
    staff = people["staff"][1]
    items = list_all(api, staff, "/v1/webhooks", limit=1, program_id=progs[0])
    assert [h["id"] for h in items] == [h["id"] for h in reversed(made[:3])]
    items = list_all(api, staff, "/v1/webhooks", program_id=progs[1])
    assert [h["id"] for h in items] == [made[3]["id"]]
    r = api.request("GET", "/v1/webhooks?program_id=%s" % uuid.uuid4(), token=staff)
    assert r.status == 200 and r.json == {"items": [], "next_cursor": None}, r


def test_list_webhooks_shows_disabled_ones(api, pg, people):
    pid = open_program(api, people["staff"][1])["id"]
    r = api.request("POST", "/v1/webhooks", {"program_id": pid, "url": PUBLIC_HOOK,
                                             "events": ["payout.paid"]}, token=people["staff"][1])
    assert r.status == 201, r
    retire_webhooks(pg, [r.json["id"]])
    [h] = list_all(api, people["staff"][1], "/v1/webhooks", program_id=pid)
    assert h["disabled_at"] is not None


def test_list_webhooks_is_for_admins_and_staff(api, people):
    for name in ("f1", "a"):
        assert_problem(api.request("GET", "/v1/webhooks", token=people[name][1]), 403)
    assert_problem(api.request("GET", "/v1/webhooks"), 401)


def test_list_webhooks_refuses_bad_program_ids(api, people):
    for v in ("nope", "", "7c9e6679-7425-40de-944b-e07fc1f90ae", "%00",
              "7c9e6679742540de944be07fc1f90ae7x"):
        r = api.request("GET", "/v1/webhooks?program_id=" + v, token=people["staff"][1])
        p = assert_invalid(r, "program_id")
        assert p["type"].endswith("/validation")
    for q, field in (("limit=0", "limit"), ("zz=1", "zz")):
        assert_invalid(api.request("GET", "/v1/webhooks?" + q, token=people["staff"][1]), field)


def test_double_slash_is_not_the_root(api):
    """libevent reads "//x" as an authority with an empty path; it must not be
    taken for "/" and serve the console."""
    for path in ("//", "//healthz", "//readyz", "//.", "//..", "//%2e%2e", "//console/app.js",
                 "//" + "a" * 300, "//healthz?x=1"):
        r = api.request("GET", path)
        assert r.status in (400, 404), (path, r)
        assert_problem(r, r.status)
    assert api.request("GET", "/").status == 200
