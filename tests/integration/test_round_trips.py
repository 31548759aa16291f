"""Issue 11: one round trip per request, and revocation still immediate.

A loop remembers the sessions it has looked up (api/authcache.h) and runs a
request with a known token at once as that caller; the request's first job
carries a guard (auth_refused(), migration 0009) that fails it unless the token
still names exactly that caller, and a reply made before any job waits for a
lookup. These tests change sessions and users behind the API's back (as
another server, or an operator, would) and check that the very next request
sees it; and they count the round trips a warm request costs."""

import http.client
import json
import re
import uuid

import pytest

from harness import assert_problem, create_users
from test_enrollments import enrolled, invite
from test_submissions import enrolled_program, submitted, work_body


@pytest.fixture(scope="module")
def people(api, admin):
    return create_users(api, admin["token"], staff="staff", a="artist")


@pytest.fixture(scope="module")
def prog(api, people):
    p, _ = enrolled_program(api, people["staff"][1], [people["a"][1]])
    return p


class Client:
    """One keep-alive connection: every request lands on the same loop."""

    def __init__(self, api, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        self.token = token

    def __call__(self, method, path, body=None, headers=None):
        hdrs = {"Authorization": "Bearer " + self.token}
        hdrs.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=hdrs)
        r = self.conn.getresponse()
        body = r.read()
        return r.status, (json.loads(body) if body else None)

    def close(self):
        self.conn.close()


def fresh_artist(api, admin, prog, staff):
    """A new artist, enrolled in prog, with a submission; (user, token, submission)."""
    user, token = create_users(api, admin["token"], x="artist")["x"]
    inv = invite(api, staff, prog["id"], max_uses=1)
    enrolled(api, token, inv["code"])
    return user, token, submitted(api, token, prog["id"])


@pytest.fixture
def reader(api, admin, people, prog):
    """A fresh artist's keep-alive client, warmed (the loop holds the token
    as a hint and its connection has prepared the read), and the path of
    the artist's submission."""
    _, token, sub = fresh_artist(api, admin, prog, people["staff"][1])
    c = Client(api, token)
    path = "/v1/submissions/%s" % sub["id"]
    try:
        for _ in range(3):
            assert c("GET", path)[0] == 200
        yield c, path
    finally:
        c.close()


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\d+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    assert m, name
    return int(m.group(1))


def db_counts(api):
    """(round trips, statements) from one scrape, which itself costs one of each."""
    text = api.metrics()
    return (metric(text, "fairbeta_db_round_trips_total"),
            metric(text, "fairbeta_db_statements_total"))


@pytest.mark.parametrize("change", [
    "UPDATE sessions SET revoked_at = now() WHERE id = '{session}'",
    "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id = '{session}'",
    "UPDATE users SET disabled_at = now() WHERE id = '{user}'",
])
def test_a_session_ended_elsewhere_stops_the_very_next_request(api, pg, admin, people, prog,
                                                               change):
    user, token, sub = fresh_artist(api, admin, prog, people["staff"][1])
    c = Client(api, token)
    try:
        # warm: the loop now holds this caller as a hint
        for _ in range(3):
            assert c("GET", "/v1/submissions/%s" % sub["id"])[0] == 200
            assert c("GET", "/v1/me")[0] == 200
        session = pg.psql("SELECT id FROM sessions WHERE user_id = '%s'" % user["id"])
        pg.psql(change.format(session=session, user=user["id"]))
        # a job's guard (submission), a held reply (me), a keyed write
        assert c("GET", "/v1/submissions/%s" % sub["id"])[0] == 401
        assert c("GET", "/v1/me")[0] == 401
        key = str(uuid.uuid4())
        status, _ = c("POST", "/v1/programs/%s/submissions" % prog["id"], work_body(),
                      {"Idempotency-Key": key})
        assert status == 401
        assert pg.psql("SELECT count(*) FROM submissions WHERE artist_id = '%s'"
                       % user["id"]) == "1"
        assert pg.psql("SELECT count(*) FROM idempotency_keys WHERE key = '%s'" % key) == "0"
    finally:
        c.close()


def test_signing_out_stops_the_token_at_once(reader):
    c, path = reader
    assert c("DELETE", "/v1/sessions/current")[0] == 204
    assert c("GET", path)[0] == 401
    assert c("GET", "/v1/me")[0] == 401


def test_a_changed_role_is_seen_by_the_very_next_request(api, pg, admin, people, prog):
    user, token = create_users(api, admin["token"], s="staff")["s"]
    c = Client(api, token)
    try:
        assert c("GET", "/v1/programs/%s/queue" % prog["id"])[0] == 200
        assert c("GET", "/v1/me")[1]["role"] == "staff"
        pg.psql("UPDATE users SET role = 'finance' WHERE id = '%s'" % user["id"])
        status, body = c("GET", "/v1/programs/%s/queue" % prog["id"])
        assert status == 403, body
        assert c("GET", "/v1/me")[1]["role"] == "finance"
    finally:
        c.close()


def test_a_reply_made_before_any_query_shows_the_caller_as_stored_now(api, pg, admin):
    user, token = create_users(api, admin["token"], n="artist")["n"]
    c = Client(api, token)
    try:
        assert c("GET", "/v1/me")[1]["display_name"] == user["display_name"]
        pg.psql("UPDATE users SET display_name = 'Renamed Elsewhere' WHERE id = '%s'"
                % user["id"])
        assert c("GET", "/v1/me")[1]["display_name"] == "Renamed Elsewhere"
        # a malformed id is answered without a query: still confirmed first
        pg.psql("UPDATE sessions SET revoked_at = now() WHERE user_id = '%s'" % user["id"])
        status, body = c("GET", "/v1/submissions/not-a-uuid")
        assert status == 401, body
    finally:
        c.close()


def test_a_warm_read_is_one_round_trip(api, reader):
    """GET /v1/submissions/{id} with a known token: the guard, the submission,
    its decisions and its exhibitions go out in one flight. The metrics scrape
    after the requests runs one statement of its own in one flight."""
    c, path = reader
    n = 20
    trips, statements = db_counts(api)
    for _ in range(n):
        assert c("GET", path)[0] == 200
    trips2, statements2 = db_counts(api)
    assert trips2 - trips == n + 1
    assert statements2 - statements == 3 * n + 1


def test_statements_are_prepared_once_per_connection(api, reader):
    c, path = reader
    text = api.metrics()
    before = metric(text, "fairbeta_db_prepares_total")
    hits = metric(text, "fairbeta_auth_cache_total", '{result="hit"}')
    assert before >= 4     # the warm-up prepared the guard and the read's three
    for _ in range(30):
        assert c("GET", path)[0] == 200
    text = api.metrics()
    # 120 statements ran; preparing each run would count 120 here. At most
    # another connection of the loop prepares the four once.
    assert metric(text, "fairbeta_db_prepares_total") - before <= 4
    assert metric(text, "fairbeta_auth_cache_total", '{result="hit"}') - hits == 30


def test_times_formatted_in_c_are_those_sql_would_give(api, pg, admin, people, prog):
    """Submission times are sent by PostgreSQL as ISO text in UTC and written
    as RFC 3339 by the API (api/repr.c), no longer by rfc3339() in SQL."""
    _, token, sub = fresh_artist(api, admin, prog, people["staff"][1])
    # a whole second, a tenth, and microseconds whose last digits are zero
    pg.psql("UPDATE submissions SET updated_at = '2026-01-02 03:04:05+00',"
            " review_due_at = '2026-01-02 03:04:05.1+00',"
            " created_at = '2026-01-02 03:04:05.123400+00' WHERE id = '%s'" % sub["id"])
    got = api.request("GET", "/v1/submissions/%s" % sub["id"], token=token).json
    want = pg.psql("SELECT rfc3339(created_at) || ' ' || rfc3339(updated_at) || ' ' ||"
                   " rfc3339(review_due_at) FROM submissions WHERE id = '%s'" % sub["id"])
    assert " ".join([got["created_at"], got["updated_at"], got["review_due_at"]]) == want
    assert got["updated_at"] == "2026-01-02T03:04:05.000000Z"
    assert got["review_due_at"] == "2026-01-02T03:04:05.100000Z"
    assert got["decided_at"] is None
