"""The audit log (API.md, "Audit, transparency, operations" and the
conventions on audit rows and lists): what changes write, who may read it,
its filters and pagination, and that the database keeps it append-only."""

import re
import subprocess
import urllib.parse
import uuid

import pytest

from harness import assert_problem

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
PASSWORD = "a long enough password"
ENTRY_KEYS = {"id", "at", "actor_id", "actor_role", "action", "entity_type", "entity_id",
              "before", "after", "request_id"}
LEDGER_TYPES = {"ledger_account", "ledger_transaction", "payout_batch", "payout_item"}


def assert_invalid(r, field):
    p = assert_problem(r, 422)
    assert field in {e.get("field") for e in p.get("errors", [])}, p
    return p


def audit(api, token, **params):
    qs = urllib.parse.urlencode(params)
    return api.request("GET", "/v1/audit" + ("?" + qs if qs else ""), token=token)


def audit_items(api, token, **params):
    r = audit(api, token, **params)
    assert r.status == 200, r
    return r.json["items"]


def insert_rows(pg, entity_type, n, entity_id_prefix="e"):
    """Appends n audit rows straight into the table; returns their ids, oldest first."""
    out = pg.psql(
        "INSERT INTO audit_log (action, entity_type, entity_id, request_id)"
        " SELECT 'test.append', '%s', '%s' || g, 'seed-' || g"
        " FROM generate_series(1, %d) g RETURNING id" % (entity_type, entity_id_prefix, n))
    return [int(x) for x in out.split()]


def page_all(api, token, limit, on_page=None, **params):
    ids, pages, cursor = [], 0, None
    while True:
        q = dict(params, limit=limit)
        if cursor is not None:
            q["cursor"] = cursor
        r = audit(api, token, **q)
        assert r.status == 200, r
        body = r.json
        assert set(body) == {"items", "next_cursor"}, body
        assert len(body["items"]) <= limit
        ids.extend(int(i["id"]) for i in body["items"])
        pages += 1
        if on_page:
            on_page(pages)
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, pages
        assert isinstance(cursor, str) and cursor
        assert body["items"], "a page with a next_cursor must not be empty"
        assert pages < 1000


@pytest.fixture(scope="module")
def admin_id(api, admin):
    return api.request("GET", "/v1/me", token=admin["token"]).json["id"]


@pytest.fixture(scope="module")
def users(api, admin):
    """A staff, finance and artist user: {role: (user_json, token)}."""
    return {role: api.create_user(admin["token"], role) for role in ("staff", "finance", "artist")}


# ---- what changes write ----

def test_user_create_writes_audit_row(api, admin, admin_id):
    email = "audited-%s@example.com" % uuid.uuid4().hex[:10]
    r = api.request("POST", "/v1/users", {"email": email, "password": PASSWORD,
                                          "display_name": "Audited", "role": "staff"},
                    token=admin["token"], headers={"X-Request-Id": "rid-user-create-1"})
    assert r.status == 201, r
    new_id = r.json["id"]
    items = audit_items(api, admin["token"], entity_type="user", entity_id=new_id)
    assert len(items) == 1, items
    row = items[0]
    assert set(row) == ENTRY_KEYS, row
    assert row["action"] == "user.create"
    assert row["entity_type"] == "user"
    assert row["entity_id"] == new_id
    assert row["actor_id"] == admin_id
    assert row["actor_role"] == "admin"
    assert row["before"] is None
    assert row["request_id"] == "rid-user-create-1"
    assert RFC3339_Z.match(row["at"]), row["at"]
    after = row["after"]
    assert after["id"] == new_id
    assert after["email"] == email
    assert after["role"] == "staff"
    assert after["display_name"] == "Audited"
    assert not any("password" in k or "hash" in k for k in after), after
    assert PASSWORD not in repr(row) and "$argon2" not in repr(row)


def test_generated_request_id_is_the_one_in_the_audit_row(api, admin):
    r = api.request("POST", "/v1/users", {"email": "gen-%s@example.com" % uuid.uuid4().hex[:10],
                                          "password": PASSWORD, "display_name": "Gen",
                                          "role": "artist"}, token=admin["token"])
    assert r.status == 201, r
    rid = r.header("X-Request-Id")
    items = audit_items(api, admin["token"], entity_type="user", entity_id=r.json["id"])
    assert [i["request_id"] for i in items] == [rid]


def test_sign_in_writes_session_create_and_sign_out_session_revoke(api, admin, users):
    user, _ = users["artist"]
    r = api.request("POST", "/v1/sessions", {"email": user["email"], "password": PASSWORD},
                    headers={"X-Request-Id": "rid-sign-in-1"})
    assert r.status == 201, r
    token = r.json["token"]
    created = [i for i in audit_items(api, admin["token"], actor_id=user["id"],
                                      entity_type="session")
               if i["request_id"] == "rid-sign-in-1"]
    assert len(created) == 1, created
    row = created[0]
    assert row["action"] == "session.create"
    assert row["actor_id"] == user["id"]
    assert row["actor_role"] == "artist"
    assert token not in repr(row)
    session_id = row["entity_id"]

    r = api.request("DELETE", "/v1/sessions/current", token=token,
                    headers={"X-Request-Id": "rid-sign-out-1"})
    assert r.status == 204, r
    rows = audit_items(api, admin["token"], entity_type="session", entity_id=session_id)
    assert [i["action"] for i in rows] == ["session.revoke", "session.create"], rows
    assert rows[0]["request_id"] == "rid-sign-out-1"
    assert rows[0]["actor_id"] == user["id"]


def test_refused_changes_write_no_audit_row(api, admin, pg):
    email = "dup-%s@example.com" % uuid.uuid4().hex[:10]
    body = {"email": email, "password": PASSWORD, "display_name": "Dup", "role": "artist"}
    assert api.request("POST", "/v1/users", body, token=admin["token"]).status == 201
    assert api.request("POST", "/v1/users", body, token=admin["token"]).status == 409
    bad = dict(body, email="x" + email, password="short")
    assert api.request("POST", "/v1/users", bad, token=admin["token"]).status == 422
    n = pg.psql("SELECT count(*) FROM audit_log WHERE action = 'user.create'"
                " AND after->>'email' IN ('%s', 'x%s')" % (email, email))
    assert n == "1"


def test_failed_sign_in_writes_no_session_row(api, users, pg):
    user, _ = users["staff"]
    before = pg.psql("SELECT count(*) FROM audit_log WHERE actor_id = '%s'" % user["id"])
    r = api.request("POST", "/v1/sessions", {"email": user["email"], "password": "wrong!"})
    assert r.status == 401
    assert pg.psql("SELECT count(*) FROM audit_log WHERE actor_id = '%s'" % user["id"]) == before


# ---- who may read ----

def test_audit_needs_a_token(api):
    assert_problem(api.request("GET", "/v1/audit"), 401)


@pytest.mark.parametrize("role", ["staff", "artist"])
def test_staff_and_artist_may_not_read_audit(api, users, role):
    _, token = users[role]
    assert_problem(audit(api, token), 403)
    assert_problem(audit(api, token, entity_type="user"), 403)


def test_finance_reads_only_ledger_entities(api, admin, users, pg):
    _, token = users["finance"]
    [seeded] = insert_rows(pg, "ledger_transaction", 1, "lt-" + uuid.uuid4().hex[:8] + "-")
    r = audit(api, token, limit=200)
    assert r.status == 200, r
    items = r.json["items"]
    assert seeded in [int(i["id"]) for i in items], items
    assert all(i["entity_type"] in LEDGER_TYPES for i in items), \
        sorted({i["entity_type"] for i in items})
    # admin sees the same row, and the user rows finance does not
    admin_items = audit_items(api, admin["token"], entity_type="ledger_transaction", limit=200)
    assert seeded in [int(i["id"]) for i in admin_items]
    assert audit_items(api, admin["token"], entity_type="user", limit=1)


def test_finance_filtering_on_user_entities_is_403(api, users):
    _, token = users["finance"]
    assert_problem(audit(api, token, entity_type="user"), 403)
    assert_problem(audit(api, token, entity_type="session"), 403)


def test_finance_may_filter_on_a_ledger_type(api, users):
    _, token = users["finance"]
    items = audit_items(api, token, entity_type="ledger_transaction")
    assert all(i["entity_type"] == "ledger_transaction" for i in items)


def test_finance_cannot_reach_user_rows_through_other_filters(api, admin, admin_id, users):
    _, token = users["finance"]
    artist, _ = users["artist"]
    assert audit_items(api, token, entity_id=artist["id"]) == []
    assert audit_items(api, token, actor_id=admin_id) == []
    # the admin does see them
    assert audit_items(api, admin["token"], entity_id=artist["id"])


# ---- filters ----

def test_filter_by_entity_type(api, admin):
    items = audit_items(api, admin["token"], entity_type="session", limit=200)
    assert items
    assert {i["entity_type"] for i in items} == {"session"}


def test_filter_by_entity_id(api, admin, users):
    artist, _ = users["artist"]
    items = audit_items(api, admin["token"], entity_id=artist["id"])
    assert items and all(i["entity_id"] == artist["id"] for i in items)
    assert "user.create" in [i["action"] for i in items]


def test_filter_by_actor_id(api, admin, admin_id, users):
    staff, _ = users["staff"]
    items = audit_items(api, admin["token"], actor_id=staff["id"], limit=200)
    assert items and all(i["actor_id"] == staff["id"] for i in items)
    assert all(i["actor_id"] == admin_id
               for i in audit_items(api, admin["token"], actor_id=admin_id, limit=200))


def test_filters_combine_with_and(api, admin, admin_id, users):
    artist, _ = users["artist"]
    both = audit_items(api, admin["token"], actor_id=admin_id, entity_id=artist["id"])
    assert [i["action"] for i in both] == ["user.create"]
    assert audit_items(api, admin["token"], actor_id=admin_id, entity_id=artist["id"],
                       entity_type="session") == []


def test_filter_from_is_inclusive_and_to_is_exclusive(api, admin, users):
    artist, _ = users["artist"]
    [row] = audit_items(api, admin["token"], entity_type="user", entity_id=artist["id"])
    at = row["at"]
    assert [i["id"] for i in audit_items(api, admin["token"], entity_id=artist["id"],
                                         entity_type="user", **{"from": at})] == [row["id"]]
    assert audit_items(api, admin["token"], entity_id=artist["id"], entity_type="user",
                       to=at) == []
    assert [i["id"] for i in audit_items(api, admin["token"], entity_id=artist["id"],
                                         entity_type="user", to="2999-01-01T00:00:00Z",
                                         **{"from": "2000-01-01T00:00:00Z"})] == [row["id"]]


def test_filter_from_in_the_future_is_empty(api, admin):
    assert audit_items(api, admin["token"], **{"from": "2999-01-01T00:00:00Z"}) == []


def test_filter_times_accept_offsets(api, admin, users):
    artist, _ = users["artist"]
    items = audit_items(api, admin["token"], entity_id=artist["id"],
                        **{"from": "2000-01-01T00:00:00+01:00", "to": "2999-01-01T00:00:00-05:00"})
    assert items


def test_to_earlier_than_from_is_422(api, admin):
    # api/openapi.yaml, parameter `to`: "Must not be earlier than `from` (422)."
    r = audit(api, admin["token"], **{"from": "2026-03-01T00:00:00Z",
                                       "to": "2026-02-01T00:00:00Z"})
    assert_invalid(r, "to")


@pytest.mark.parametrize("param,value", [
    ("from", "yesterday"), ("from", "2026-13-01T00:00:00Z"), ("from", "2026-03-01"),
    ("to", "2026-03-01 00:00:00"), ("actor_id", "not-a-uuid"), ("entity_type", ""),
])
def test_bad_filter_values_are_422(api, admin, param, value):
    assert_invalid(audit(api, admin["token"], **{param: value}), param)


def test_unknown_query_parameter_is_422(api, admin):
    assert_invalid(audit(api, admin["token"], colour="blue"), "colour")


# ---- limit and cursor ----

@pytest.mark.parametrize("value", ["0", "201", "x", "-1", "1.5", "", "10abc"])
def test_limit_out_of_range_or_not_a_number_is_422(api, admin, value):
    assert_invalid(audit(api, admin["token"], limit=value), "limit")


@pytest.mark.parametrize("value", [1, 200])
def test_limit_bounds_are_accepted(api, admin, value):
    r = audit(api, admin["token"], limit=value)
    assert r.status == 200, r
    assert 1 <= len(r.json["items"]) <= value


def test_default_limit_is_50(api, admin, pg):
    etype = "default-limit-" + uuid.uuid4().hex[:8]
    insert_rows(pg, etype, 55)
    r = audit(api, admin["token"], entity_type=etype)
    assert r.status == 200, r
    assert len(r.json["items"]) == 50
    assert r.json["next_cursor"]


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "YzE6YWJj",  # base64url of "c1:abc"
                                    "MTIz", "x" * 300])
def test_garbage_cursor_is_422(api, admin, cursor):
    assert_invalid(audit(api, admin["token"], cursor=cursor), "cursor")


def test_paging_with_limit_2_returns_every_row_once_newest_first(api, admin, pg):
    etype = "paging-" + uuid.uuid4().hex[:8]
    seeded = insert_rows(pg, etype, 7)
    ids, pages = page_all(api, admin["token"], 2, entity_type=etype)
    assert len(ids) == len(set(ids)), ids
    assert ids == sorted(seeded, reverse=True)
    assert pages == 4


def test_last_full_page_has_null_cursor(api, admin, pg):
    etype = "exact-" + uuid.uuid4().hex[:8]
    seeded = insert_rows(pg, etype, 4)
    ids, pages = page_all(api, admin["token"], 2, entity_type=etype)
    assert ids == sorted(seeded, reverse=True)
    assert pages == 2


def test_rows_inserted_while_paging_cause_no_duplicates_or_gaps(api, admin, pg):
    etype = "concurrent-" + uuid.uuid4().hex[:8]
    seeded = insert_rows(pg, etype, 7)
    late = []

    def insert_more(page):
        if page in (1, 2):
            late.extend(insert_rows(pg, etype, 3, "late%d-" % page))

    ids, _ = page_all(api, admin["token"], 2, on_page=insert_more, entity_type=etype)
    assert len(ids) == len(set(ids)), ids
    assert ids == sorted(seeded, reverse=True)
    assert late and min(late) > max(seeded)
    # a fresh walk sees everything, still newest first
    ids, _ = page_all(api, admin["token"], 2, entity_type=etype)
    assert ids == sorted(seeded + late, reverse=True)


def test_paging_the_whole_log_has_no_duplicates(api, admin):
    ids, _ = page_all(api, admin["token"], 200)
    assert ids and len(ids) == len(set(ids))
    assert ids == sorted(ids, reverse=True)


def test_cursor_keeps_the_filters_it_is_used_with(api, admin, pg):
    a = "keep-a-" + uuid.uuid4().hex[:8]
    b = "keep-b-" + uuid.uuid4().hex[:8]
    ra = insert_rows(pg, a, 3)
    insert_rows(pg, b, 3)
    first = audit(api, admin["token"], entity_type=a, limit=1).json
    rest = audit_items(api, admin["token"], entity_type=a, limit=10, cursor=first["next_cursor"])
    assert [int(i["id"]) for i in rest] == sorted(ra, reverse=True)[1:]


# ---- append-only ----

@pytest.mark.parametrize("sql", [
    "UPDATE audit_log SET action = 'x'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
])
def test_database_refuses_to_change_audit_rows(pg, admin, sql):
    before = pg.psql("SELECT count(*), max(id), md5(string_agg(action, ',' ORDER BY id))"
                     " FROM audit_log")
    with pytest.raises(subprocess.CalledProcessError) as e:
        pg.psql(sql)
    assert "append-only" in e.value.stderr
    after = pg.psql("SELECT count(*), max(id), md5(string_agg(action, ',' ORDER BY id))"
                    " FROM audit_log")
    assert after == before
    assert int(before.split("|")[0]) > 0
