"""The conventions every endpoint follows (API.md, "Conventions"): problem
documents, the status codes for bad input and bad credentials, X-Request-Id,
and the operational endpoints (/healthz, /readyz, /metrics)."""

import json
import re
import uuid

import pytest

from harness import UUID_RE, assert_problem

MAX_BODY = 1048576


def assert_invalid(r, *fields):
    """A 422 whose errors name each of these fields."""
    p = assert_problem(r, 422)
    errors = p.get("errors")
    assert isinstance(errors, list) and errors, p
    for e in errors:
        assert isinstance(e.get("field"), str), e
        assert isinstance(e.get("message"), str) and e["message"], e
    named = {e["field"] for e in errors}
    for f in fields:
        assert f in named, (f, p)
    return p


def new_user_body(**over):
    body = {"email": "conv-%s@example.com" % uuid.uuid4().hex[:12],
            "password": "a long enough password",
            "display_name": "Conventions User",
            "role": "artist"}
    body.update(over)
    return body


# ---- problem documents ----

def test_unknown_path_is_404_problem_document(api):
    p = assert_problem(api.request("GET", "/v1/no-such-thing"), 404)
    assert p["title"] == "Not Found"


def test_problem_title_is_the_reason_phrase_of_its_status(api):
    r = api.request("PUT", "/v1/me")
    assert assert_problem(r, 405)["title"] == "Method Not Allowed"
    r = api.request("GET", "/v1/me")
    assert assert_problem(r, 401)["title"] == "Unauthorized"


def test_problem_request_id_matches_the_header_sent(api):
    r = api.request("GET", "/v1/nowhere", headers={"X-Request-Id": "problem-rid-1"})
    p = assert_problem(r, 404)
    assert p["request_id"] == "problem-rid-1"


# ---- 400 malformed JSON ----

@pytest.mark.parametrize("raw", [b'{"email":', b"{,}", b"not json", b'{"a":1}}',
                                 b'{"email": "a@b.co", "email": "c@d.co", "password": "x"}'])
def test_malformed_json_is_400(api, raw):
    p = assert_problem(api.request("POST", "/v1/sessions", raw=raw), 400)
    assert "errors" not in p


def test_invalid_utf8_body_is_400_not_5xx(api):
    r = api.request("POST", "/v1/sessions", raw=b'{"email": "\xff\xfe@x.com", "password": "p"}')
    assert_problem(r, 400)


def test_nul_in_path_is_a_client_error_not_5xx(api):
    r = api.request("GET", "/v1/me%00")
    assert 400 <= r.status < 500, r
    assert_problem(r, r.status)


# ---- 401 ----

def test_missing_token_is_401_with_bearer_challenge(api):
    r = api.request("GET", "/v1/me")
    assert_problem(r, 401)
    assert (r.header("WWW-Authenticate") or "").startswith("Bearer")


@pytest.mark.parametrize("auth", [
    "Bearer fbt_" + "A" * 43,           # well-formed but unknown
    "Bearer short",                     # too short to be a token
    "Basic dXNlcjpwYXNz",               # another scheme
    "Bearer " + "x" * 300,              # absurdly long
    "Bearer",                           # nothing after the scheme
])
def test_bad_token_is_401_with_bearer_challenge(api, auth):
    r = api.request("GET", "/v1/me", headers={"Authorization": auth})
    assert_problem(r, 401)
    assert (r.header("WWW-Authenticate") or "").startswith("Bearer")


def test_missing_token_on_admin_route_is_401_not_403(api):
    r = api.request("POST", "/v1/users", new_user_body())
    assert_problem(r, 401)


# ---- 404 / 405 ----

# "/" is the web console's page (issue 14), no longer a path outside the table
@pytest.mark.parametrize("path", ["/v1", "/v1/me/", "/v1//me", "/v2/me", "/V1/ME",
                                  "/v1/sessions/other", "/console", "/console/"])
def test_paths_not_in_the_table_are_404(api, path):
    assert_problem(api.request("GET", path), 404)


def test_wrong_method_on_known_path_is_405_with_allow(api):
    r = api.request("PUT", "/v1/me")
    assert_problem(r, 405)
    allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
    assert "GET" in allow, r.headers
    assert "PUT" not in allow


def test_get_on_post_only_path_is_405_allowing_post(api):
    r = api.request("GET", "/v1/sessions")
    assert_problem(r, 405)
    allow = [m.strip() for m in (r.header("Allow") or "").split(",")]
    assert "POST" in allow and "GET" not in allow, r.headers


def test_405_is_decided_before_authentication(api):
    r = api.request("DELETE", "/v1/users")
    assert_problem(r, 405)
    assert "POST" in (r.header("Allow") or "")


# ---- 413 ----

def test_body_over_one_mib_is_413(api):
    raw = json.dumps({"email": "a@example.com", "password": "x" * (3 * MAX_BODY // 2)}).encode()
    r = api.request("POST", "/v1/sessions", raw=raw)
    p = assert_problem(r, 413)
    assert p["title"] == "Content Too Large"


def _body_of_length(n):
    head = b'{"email": "a@example.com", "password": "'
    tail = b'"}'
    return head + b"x" * (n - len(head) - len(tail)) + tail


def test_body_of_exactly_the_limit_is_not_413(api):
    raw = _body_of_length(MAX_BODY)
    assert len(raw) == MAX_BODY
    r = api.request("POST", "/v1/sessions", raw=raw)
    # the body is read and validated: the password is far too long
    assert_invalid(r, "password")


def test_body_one_byte_over_the_limit_is_413(api):
    raw = _body_of_length(MAX_BODY + 1)
    assert_problem(api.request("POST", "/v1/sessions", raw=raw), 413)


def test_oversized_body_to_admin_route_is_refused_without_5xx(api, admin):
    raw = json.dumps(new_user_body(display_name="y" * (3 * MAX_BODY // 2))).encode()
    r = api.request("POST", "/v1/users", raw=raw, token=admin["token"])
    assert_problem(r, 413)


# ---- 415 ----

@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(api, ctype):
    raw = json.dumps({"email": "a@example.com", "password": "whatever"}).encode()
    r = api.request("POST", "/v1/sessions", raw=raw, content_type=ctype)
    assert_problem(r, 415)


def test_missing_content_type_is_415(api):
    raw = json.dumps({"email": "a@example.com", "password": "whatever"}).encode()
    r = api.request("POST", "/v1/sessions", raw=raw, content_type=None)
    assert_problem(r, 415)


def test_json_content_type_with_charset_is_accepted(api):
    raw = json.dumps({"email": "nobody-%s@example.com" % uuid.uuid4().hex[:8],
                      "password": "whatever"}).encode()
    r = api.request("POST", "/v1/sessions", raw=raw,
                    content_type="application/json; charset=utf-8")
    assert_problem(r, 401)


# ---- 422 ----

@pytest.mark.parametrize("body,field", [
    ({"email": 5, "password": "whatever"}, "email"),
    ({"email": "a@example.com", "password": ["x"]}, "password"),
    ({"email": None, "password": "whatever"}, "email"),
    ({"password": "whatever"}, "email"),
    ({"email": "a@example.com"}, "password"),
    ({"email": "a@example.com", "password": "whatever", "remember_me": True}, "remember_me"),
])
def test_sign_in_body_problems_are_422_naming_the_field(api, body, field):
    assert_invalid(api.request("POST", "/v1/sessions", body), field)


def test_empty_object_names_every_missing_field(api):
    assert_invalid(api.request("POST", "/v1/sessions", {}), "email", "password")


@pytest.mark.parametrize("raw", [b"[]", b'[{"email": "a@example.com"}]'])
def test_json_array_body_is_422(api, raw):
    assert_invalid(api.request("POST", "/v1/sessions", raw=raw))


@pytest.mark.parametrize("raw", [b'"a string"', b"42", b"null", b"true"])
def test_scalar_json_body_is_422_not_400(api, raw):
    # RFC 8259 makes a bare scalar a well-formed JSON text: the body is not
    # malformed (400), it is of the wrong type (422), like an array.
    assert_invalid(api.request("POST", "/v1/sessions", raw=raw))


@pytest.mark.parametrize("over,field", [
    ({"role": "superuser"}, "role"),
    ({"role": "Admin"}, "role"),
    ({"role": 1}, "role"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "two@@example.com"}, "email"),
    ({"email": "space in@example.com"}, "email"),
    ({"email": "line\n@example.com"}, "email"),
    ({"password": "short"}, "password"),
    ({"password": "1234567"}, "password"),
    ({"password": 12345678}, "password"),
    ({"display_name": "two\nlines"}, "display_name"),
    ({"display_name": "tab\there"}, "display_name"),
    ({"display_name": ""}, "display_name"),
    ({"display_name": "x" * 101}, "display_name"),
    ({"is_admin": True}, "is_admin"),
])
def test_create_user_body_problems_are_422_naming_the_field(api, admin, over, field):
    body = new_user_body(**over)
    r = api.request("POST", "/v1/users", body, token=admin["token"])
    assert_invalid(r, field)


def test_create_user_missing_fields_are_each_named(api, admin):
    r = api.request("POST", "/v1/users", {}, token=admin["token"])
    assert_invalid(r, "email", "password", "display_name", "role")


def test_rejected_create_user_stores_nothing(api, admin, pg):
    body = new_user_body(password="short")
    assert_invalid(api.request("POST", "/v1/users", body, token=admin["token"]), "password")
    assert pg.psql("SELECT count(*) FROM users WHERE email = '%s'" % body["email"]) == "0"


def test_password_of_exactly_eight_characters_is_accepted(api, admin):
    r = api.request("POST", "/v1/users", new_user_body(password="12345678"),
                    token=admin["token"])
    assert r.status == 201, r


# ---- X-Request-Id ----

def test_plain_request_id_is_echoed(api):
    r = api.request("GET", "/healthz", headers={"X-Request-Id": "test-abc_123"})
    assert r.status == 200
    assert r.header("X-Request-Id") == "test-abc_123"


def test_request_id_of_63_allowed_characters_is_echoed(api):
    rid = "a.b:c-d_" + "z" * 55
    assert len(rid) == 63
    r = api.request("GET", "/healthz", headers={"X-Request-Id": rid})
    assert r.header("X-Request-Id") == rid


def test_request_id_is_generated_when_absent(api):
    a = api.request("GET", "/healthz").header("X-Request-Id")
    b = api.request("GET", "/healthz").header("X-Request-Id")
    assert a and UUID_RE.match(a), a
    assert b and UUID_RE.match(b), b
    assert a != b


@pytest.mark.parametrize("rid", ["has space", "semi;colon", "a" * 64, "quote\"d", "slash/ed"])
def test_unusable_request_id_is_replaced_not_rejected(api, rid):
    r = api.request("GET", "/healthz", headers={"X-Request-Id": rid})
    assert r.status == 200, r
    got = r.header("X-Request-Id")
    assert got != rid
    assert got and UUID_RE.match(got), got


@pytest.mark.parametrize("method,path,kwargs,status", [
    ("GET", "/no/such/path", {}, 404),
    ("PUT", "/v1/me", {}, 405),
    ("GET", "/v1/me", {}, 401),
    ("POST", "/v1/sessions", {"raw": b"{"}, 400),
    ("POST", "/v1/sessions", {"raw": b"{}", "content_type": "text/plain"}, 415),
    ("POST", "/v1/sessions", {"body": {}}, 422),
])
def test_request_id_is_on_every_error(api, method, path, kwargs, status):
    r = api.request(method, path, headers={"X-Request-Id": "err-rid-%d" % status}, **kwargs)
    assert r.status == status, r
    assert r.header("X-Request-Id") == "err-rid-%d" % status
    assert r.json["request_id"] == "err-rid-%d" % status
    r = api.request(method, path, **kwargs)
    assert UUID_RE.match(r.header("X-Request-Id") or ""), r.headers
    assert r.json["request_id"] == r.header("X-Request-Id")


# ---- operations ----

def test_healthz_is_200_json(api):
    r = api.request("GET", "/healthz")
    assert r.status == 200
    assert (r.header("Content-Type") or "").startswith("application/json")
    assert r.json == {"status": "ok"}


def test_readyz_reports_database_and_migrations(api):
    r = api.request("GET", "/readyz")
    assert r.status == 200
    # the replica is detail only (issue 15); none is configured here
    assert r.json == {"status": "ready", "database": "ok", "migrations": "current",
                      "replica": {"configured": False}}


def _metric_value(text, line_prefix):
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line[len(line_prefix) + 1:])
    return 0.0


def test_metrics_count_requests_by_route_method_and_status(api, admin):
    key = 'fairbeta_http_requests_total{route="/v1/me",method="GET",status="200"}'
    before = _metric_value(api.metrics(), key)
    assert api.request("GET", "/v1/me", token=admin["token"]).status == 200
    text = api.metrics()
    assert key in text, text
    assert _metric_value(text, key) == before + 1


def test_metrics_count_errors_under_their_status(api):
    key = 'fairbeta_http_requests_total{route="/v1/me",method="GET",status="401"}'
    before = _metric_value(api.metrics(), key)
    api.request("GET", "/v1/me")
    api.request("GET", "/v1/me")
    assert _metric_value(api.metrics(), key) == before + 2


def test_metrics_have_latency_histogram(api, admin):
    api.request("GET", "/v1/me", token=admin["token"])
    text = api.metrics()
    buckets = [l for l in text.splitlines()
               if l.startswith("fairbeta_http_request_duration_seconds_bucket{")]
    assert buckets, text
    assert any('route="/v1/me"' in l and 'le="+Inf"' in l for l in buckets), buckets
    assert "# TYPE fairbeta_http_request_duration_seconds histogram" in text


def test_metrics_have_db_pool_gauges(api):
    text = api.metrics()
    lines = [l for l in text.splitlines() if l.startswith("fairbeta_db_pool_connections")]
    assert lines, text
    for l in lines:
        float(l.rsplit(" ", 1)[1])


def test_metrics_are_prometheus_text(api):
    r = api.request("GET", "/metrics", port=api.metrics_port)
    assert r.status == 200
    assert (r.header("Content-Type") or "").startswith("text/plain")
    for line in r.body.decode().splitlines():
        if line and not line.startswith("#"):
            assert re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+$', line), line


def test_metrics_are_not_served_on_the_api_port(api):
    assert_problem(api.request("GET", "/metrics"), 404)

