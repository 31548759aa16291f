"""Notification preferences and webhook endpoints (API.md, "Notifications and
webhooks"; /tmp/spec6.md): per-user email preferences for the eighteen event
types (the eleven of issue 6 and the six of usage licenses), registering a webhook (its secret shown once, its URL checked, hosts
that are not public refused unless the server runs with
FAIRBETA_WEBHOOK_ALLOW_PRIVATE=1), the deliveries list and retrying a dead
delivery; every status code and role, and the audit rows.

No worker runs here: the deliveries a worker would make are written with SQL
(the API only reads and re-queues them). End-to-end delivery is in
test_delivery.py, which imports the helpers at the top."""

import base64
import datetime
import json
import uuid

import pytest

from harness import Api, UUID_RE
from test_programs import (TS_RE, assert_invalid, assert_slug, list_all, open_program,
                           parse_ts)

EVENT_TYPES = ["enrollment.created", "terms.published", "submission.created",
               "submission.decided", "submission.deemed_approved", "submission.appealed",
               "review.sla_warning", "accrual.posted", "payout.approved", "payout.paid",
               "payout.failed", "license.requested", "license.granted", "license.declined",
               "license.withdrawn", "license.expired", "license.revoked", "license.ended"]
WEBHOOK_KEYS = {"id", "program_id", "url", "events", "secret", "created_at"}
DELIVERY_KEYS = {"id", "event_id", "event_type", "status", "attempts", "last_status",
                 "last_error", "next_attempt_at", "created_at", "delivered_at"}
SECRET_PREFIX = "whsec_"
LOCAL_URL = "http://127.0.0.1:9/hooks/fairbeta"      # discard port: nothing listens


# ---- helpers (also used by test_delivery.py) ----

def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def create_webhook(api, token, pid, url=LOCAL_URL, events=None, **extra):
    body = dict({"program_id": pid, "url": url,
                 "events": list(EVENT_TYPES) if events is None else events}, **extra)
    return api.request("POST", "/v1/webhooks", body, token=token)


def created_webhook(api, token, pid, url=LOCAL_URL, events=None):
    r = create_webhook(api, token, pid, url, events)
    assert r.status == 201, r
    return r.json


def secret_key(secret):
    """The HMAC key: the base64 after `whsec_`, decoded (standard alphabet, padded)."""
    assert secret.startswith(SECRET_PREFIX), secret
    return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)


def deliveries(api, token, wid, query=""):
    return api.request("GET", "/v1/webhooks/%s/deliveries%s" % (wid, query), token=token)


def all_deliveries(api, token, wid, **params):
    return list_all(api, token, "/v1/webhooks/%s/deliveries" % wid, **params)


def retry(api, token, wid, did, body=None):
    return api.request("POST", "/v1/webhooks/%s/deliveries/%s/retry" % (wid, did), body,
                       token=token)


def get_prefs(api, token):
    return api.request("GET", "/v1/me/notification-preferences", token=token)


def put_prefs(api, token, email=None, body=None, **kw):
    return api.request("PUT", "/v1/me/notification-preferences",
                       {"email": email} if body is None else body, token=token, **kw)


def all_on(**changes):
    prefs = {t: True for t in EVENT_TYPES}
    prefs.update(changes)
    return {"email": prefs}


def audit_rows(pg, action, needle):
    """Audit rows of this action naming `needle` (entity_id or inside before/after),
    as text."""
    out = pg.psql("SELECT row_to_json(a)::text FROM audit_log a WHERE action = '%s' AND"
                  " (entity_id = '%s' OR coalesce(after::text, '') LIKE '%%%s%%'"
                  " OR coalesce(before::text, '') LIKE '%%%s%%') ORDER BY id"
                  % (action, needle, needle, needle))
    return out.splitlines() if out else []


def insert_event(pg, pid, event_type="payout.approved", payload=None):
    """An outbox event written with SQL (already dispatched, so no worker fans it out)."""
    eid = str(uuid.uuid4())
    pg.psql("INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
            " payload, request_id, dispatched_at) VALUES ('%s', '%s', '%s', 'test', '%s',"
            " '%s'::jsonb, 'test', now())"
            % (eid, event_type, pid, eid, json.dumps(payload or {"n": 1})))
    return eid


def insert_delivery(pg, wid, eid, status, attempts=0, last_status=None, last_error=None,
                    age_s=0, delivered=False):
    did = str(uuid.uuid4())
    pg.psql("INSERT INTO deliveries (id, event_id, channel, webhook_id, status, attempts,"
            " next_attempt_at, last_status, last_error, created_at, delivered_at) VALUES"
            " ('%s', '%s', 'webhook', '%s', '%s', %d, now() + interval '1 hour', %s, %s,"
            " now() - interval '%d seconds', %s)"
            % (did, eid, wid, status, attempts,
               "NULL" if last_status is None else int(last_status),
               "NULL" if last_error is None else "'%s'" % last_error.replace("'", "''"),
               age_s, "now() - interval '1 second'" if delivered else "NULL"))
    return did


def retire_webhooks(pg, ids):
    """Disables these webhooks and ends their unfinished deliveries, so that workers
    started by later tests do not keep retrying them."""
    if not ids:
        return
    lit = ",".join("'%s'" % i for i in ids)
    pg.psql("UPDATE webhooks SET disabled_at = now() WHERE id IN (%s);"
            " UPDATE deliveries SET status = 'dead' WHERE webhook_id IN (%s)"
            " AND status IN ('pending', 'in_flight')" % (lit, lit))


# ---- fixtures ----

@pytest.fixture(scope="module")
def people(api, admin):
    """{name: (user_json, token)}: staff, finance and two artists."""
    names = ["staff", "finance", "a", "b"]
    roles = ["staff", "finance", "artist", "artist"]
    return {n: api.create_user(admin["token"], r) for n, r in zip(names, roles)}


@pytest.fixture(scope="module")
def private_api(pg, api):
    """A server over the shared database that allows private webhook hosts."""
    server = Api(pg.url, FAIRBETA_WEBHOOK_ALLOW_PRIVATE="1")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def strict_api(pg, api):
    """A server over the shared database started without FAIRBETA_WEBHOOK_ALLOW_PRIVATE."""
    server = Api(pg.url)
    server.env.pop("FAIRBETA_WEBHOOK_ALLOW_PRIVATE", None)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def prog(api, staff):
    return open_program(api, staff)


@pytest.fixture(scope="module")
def made_hooks(pg):
    ids = []
    yield ids
    retire_webhooks(pg, ids)


@pytest.fixture
def hook(private_api, staff, prog, made_hooks):
    """A new webhook (on a local URL nothing listens on) of prog, for every event."""
    h = created_webhook(private_api, staff, prog["id"])
    made_hooks.append(h["id"])
    return h


# ---- GET/PUT /v1/me/notification-preferences ----

@pytest.mark.parametrize("who", ["staff", "finance", "a", "admin"])
def test_preferences_default_to_email_on_for_all_eighteen_events(api, admin, people, who):
    token = admin["token"] if who == "admin" else people[who][1]
    r = get_prefs(api, token)
    assert r.status == 200, r
    assert r.json == all_on(), r.json


def test_put_changes_a_subset_and_returns_the_full_preferences(api, admin, pg):
    user, token = api.create_user(admin["token"], "artist")
    r = put_prefs(api, token, {"submission.decided": False, "payout.paid": False})
    assert r.status == 200, r
    expected = all_on(**{"submission.decided": False, "payout.paid": False})
    assert r.json == expected
    assert get_prefs(api, token).json == expected
    r = put_prefs(api, token, {"payout.paid": True, "terms.published": False})
    assert r.status == 200, r
    expected = all_on(**{"submission.decided": False, "terms.published": False})
    assert r.json == expected
    assert get_prefs(api, token).json == expected


def test_preferences_are_per_user(api, admin):
    _, t1 = api.create_user(admin["token"], "artist")
    _, t2 = api.create_user(admin["token"], "staff")
    assert put_prefs(api, t1, {t: False for t in EVENT_TYPES}).json == \
        {"email": {t: False for t in EVENT_TYPES}}
    assert get_prefs(api, t2).json == all_on()
    assert get_prefs(api, t1).json == {"email": {t: False for t in EVENT_TYPES}}


@pytest.mark.parametrize("who", ["staff", "finance", "admin"])
def test_every_role_may_set_preferences(api, admin, who):
    _, token = api.create_user(admin["token"], who)
    r = put_prefs(api, token, {"submission.appealed": False})
    assert r.status == 200, r
    assert r.json == all_on(**{"submission.appealed": False})


def test_put_with_an_empty_email_object_changes_nothing(api, admin):
    _, token = api.create_user(admin["token"], "artist")
    assert put_prefs(api, token, {"accrual.posted": False}).status == 200
    r = put_prefs(api, token, {})
    assert r.status == 200, r
    assert r.json == all_on(**{"accrual.posted": False})


def test_put_preferences_writes_an_audit_row(api, admin, pg):
    user, token = api.create_user(admin["token"], "artist")
    count = "SELECT count(*) FROM audit_log WHERE action = 'notification_preferences.update'" \
            " AND actor_id = '%s'" % user["id"]
    assert pg.psql(count) == "0"
    assert put_prefs(api, token, {"payout.failed": False}).status == 200
    assert pg.psql(count) == "1"
    assert_invalid(put_prefs(api, token, {"payout.failed": "no"}))
    assert pg.psql(count) == "1"


def test_unknown_event_type_is_422_naming_it_and_changes_nothing(api, admin):
    _, token = api.create_user(admin["token"], "artist")
    r = put_prefs(api, token, {"submission.decided": False, "submission.exploded": False})
    assert_invalid(r, "email.submission.exploded")
    assert get_prefs(api, token).json == all_on()


@pytest.mark.parametrize("value", ["false", 0, 1, None, [], {}])
def test_non_boolean_preference_is_422(api, admin, value):
    _, token = api.create_user(admin["token"], "artist")
    p = assert_invalid(put_prefs(api, token, {"submission.decided": value}))
    fields = {e["field"] for e in p["errors"]}
    assert fields & {"email.submission.decided", "email"}, p
    assert get_prefs(api, token).json == all_on()


@pytest.mark.parametrize("body,field", [
    ({}, "email"),
    ({"email": True}, "email"),
    ({"email": ["submission.decided"]}, "email"),
    ({"email": None}, "email"),
    ({"email": {}, "webhook": {}}, "webhook"),
])
def test_put_body_problems_are_422(api, admin, body, field):
    _, token = api.create_user(admin["token"], "artist")
    assert_invalid(put_prefs(api, token, body=body), field)
    assert get_prefs(api, token).json == all_on()


def test_put_preferences_malformed_json_and_content_type(api, people):
    token = people["b"][1]
    r = api.request("PUT", "/v1/me/notification-preferences", raw=b'{"email": {', token=token)
    assert_slug(r, 400, "malformed-json")
    raw = json.dumps({"email": {"payout.paid": False}}).encode()
    r = api.request("PUT", "/v1/me/notification-preferences", raw=raw, token=token,
                    content_type="text/plain")
    assert_slug(r, 415, "unsupported-media-type")
    assert get_prefs(api, token).json == all_on()


def test_preferences_need_a_token(api):
    assert_slug(api.request("GET", "/v1/me/notification-preferences"), 401, "unauthorized")
    assert_slug(put_prefs(api, None, {"payout.paid": False}), 401, "unauthorized")
    assert_slug(get_prefs(api, "not-a-token"), 401, "unauthorized")


# ---- POST /v1/webhooks ----

def test_create_webhook_is_201_with_a_secret_shown_once(private_api, staff, prog, pg,
                                                        made_hooks):
    before = now_utc()
    r = create_webhook(private_api, staff, prog["id"], events=["submission.decided",
                                                                "payout.paid"])
    assert r.status == 201, r
    h = r.json
    made_hooks.append(h["id"])
    assert set(h) == WEBHOOK_KEYS, h
    assert UUID_RE.match(h["id"])
    assert h["program_id"] == prog["id"]
    assert h["url"] == LOCAL_URL
    assert sorted(h["events"]) == ["payout.paid", "submission.decided"]
    assert TS_RE.match(h["created_at"]), h
    assert abs((parse_ts(h["created_at"]) - before).total_seconds()) < 60
    secret = h["secret"]
    assert secret.startswith(SECRET_PREFIX), secret
    b64 = secret[len(SECRET_PREFIX):]
    assert len(b64) == 44 and b64.endswith("=") and not b64.endswith("=="), secret
    assert len(secret_key(secret)) == 32
    assert base64.b64encode(secret_key(secret)).decode() == b64
    # shown only here: neither the deliveries list nor the audit row carries it
    listed = deliveries(private_api, staff, h["id"])
    assert listed.status == 200, listed
    assert b64 not in listed.body.decode()
    rows = audit_rows(pg, "webhook.create", h["id"])
    assert len(rows) == 1, rows
    assert b64 not in rows[0] and secret not in rows[0], rows[0]


def test_each_webhook_gets_its_own_secret(private_api, staff, prog, made_hooks):
    hooks = [created_webhook(private_api, staff, prog["id"]) for _ in range(3)]
    made_hooks.extend(h["id"] for h in hooks)
    assert len({h["secret"] for h in hooks}) == 3
    assert len({h["id"] for h in hooks}) == 3


def test_webhook_may_subscribe_to_all_eighteen_events(private_api, staff, prog, made_hooks):
    h = created_webhook(private_api, staff, prog["id"], events=list(EVENT_TYPES))
    made_hooks.append(h["id"])
    assert sorted(h["events"]) == sorted(EVENT_TYPES)


def test_admin_may_create_webhooks(private_api, admin, prog, made_hooks):
    r = create_webhook(private_api, admin["token"], prog["id"], events=["payout.paid"])
    assert r.status == 201, r
    made_hooks.append(r.json["id"])


@pytest.mark.parametrize("who", ["finance", "a"])
def test_finance_and_artists_may_not_create_webhooks(private_api, people, prog, pg, who):
    r = create_webhook(private_api, people[who][1], prog["id"])
    assert_slug(r, 403, "forbidden")
    assert pg.psql("SELECT count(*) FROM webhooks WHERE created_by = '%s'"
                   % people[who][0]["id"]) == "0"


def test_create_webhook_needs_a_token(private_api, prog, pg):
    before = pg.psql("SELECT count(*) FROM webhooks")
    assert_slug(create_webhook(private_api, None, prog["id"]), 401, "unauthorized")
    assert pg.psql("SELECT count(*) FROM webhooks") == before


def test_webhook_of_an_unknown_program_is_404(private_api, staff, pg):
    pid = str(uuid.uuid4())
    assert_slug(create_webhook(private_api, staff, pid), 404, "not-found")
    assert pg.psql("SELECT count(*) FROM webhooks WHERE program_id = '%s'" % pid) == "0"


def test_webhook_url_of_2048_characters_is_accepted(private_api, staff, prog, made_hooks):
    url = LOCAL_URL + "/" + "a" * (2048 - len(LOCAL_URL) - 1)
    assert len(url) == 2048
    h = created_webhook(private_api, staff, prog["id"], url=url)
    made_hooks.append(h["id"])
    assert h["url"] == url


def test_https_urls_are_accepted(private_api, staff, prog, made_hooks):
    h = created_webhook(private_api, staff, prog["id"], url="https://127.0.0.1:8443/in")
    made_hooks.append(h["id"])
    assert h["url"] == "https://127.0.0.1:8443/in"


@pytest.mark.parametrize("over,field", [
    ({"url": ""}, "url"),
    ({"url": "ftp://127.0.0.1/hook"}, "url"),
    ({"url": "file:///etc/passwd"}, "url"),
    ({"url": "gopher://127.0.0.1:70/"}, "url"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"url": "127.0.0.1:8080/hook"}, "url"),
    ({"url": "http://"}, "url"),
    ({"url": LOCAL_URL + "/" + "a" * (2049 - len(LOCAL_URL) - 1)}, "url"),
    ({"url": 8080}, "url"),
    ({"url": None}, "url"),
    ({"events": []}, "events"),
    ({"events": ["submission.exploded"]}, "events"),
    ({"events": ["payout.paid", "payout.paid"]}, "events"),
    ({"events": "payout.paid"}, "events"),
    ({"events": [1]}, "events"),
    ({"events": EVENT_TYPES + ["payout.paid"]}, "events"),
    ({"program_id": 42}, "program_id"),
    ({"secret": "whsec_" + "A" * 43 + "="}, "secret"),
    ({"active": True}, "active"),
])
def test_create_webhook_problems_are_422_naming_the_field(private_api, staff, prog, pg, over,
                                                          field):
    before = pg.psql("SELECT count(*) FROM webhooks WHERE program_id = '%s'" % prog["id"])
    body = {"program_id": prog["id"], "url": LOCAL_URL, "events": ["payout.paid"]}
    body.update(over)
    r = private_api.request("POST", "/v1/webhooks", body, token=staff)
    p = assert_invalid(r, field)
    if field == "events":
        assert all(e["field"] == "events" or e["field"].startswith("events[")
                   for e in p["errors"]), p
    assert pg.psql("SELECT count(*) FROM webhooks WHERE program_id = '%s'"
                   % prog["id"]) == before


def test_create_webhook_missing_fields_are_each_named(private_api, staff):
    assert_invalid(private_api.request("POST", "/v1/webhooks", {}, token=staff),
                   "program_id", "url", "events")


def test_create_webhook_malformed_json_and_content_type(private_api, staff, prog):
    assert_slug(private_api.request("POST", "/v1/webhooks", raw=b'{"url": ', token=staff),
                400, "malformed-json")
    raw = json.dumps({"program_id": prog["id"], "url": LOCAL_URL,
                      "events": ["payout.paid"]}).encode()
    assert_slug(private_api.request("POST", "/v1/webhooks", raw=raw, token=staff,
                                    content_type="text/plain"), 415, "unsupported-media-type")


# ---- hosts that are not public (the server started without ALLOW_PRIVATE) ----

REFUSED_HOSTS = [
    "http://127.0.0.1/hook", "http://127.0.0.1:8080/hook", "http://127.255.255.254/hook",
    "http://10.0.0.1/hook", "http://10.255.255.255/hook",
    "http://172.16.0.1/hook", "http://172.31.255.254/hook",
    "http://192.168.0.1/hook", "https://192.168.255.254/hook",
    "http://169.254.169.254/latest/meta-data/", "http://169.254.0.1/hook",
    "http://[::1]/hook", "http://[::1]:8080/hook",
    "http://[fc00::1]/hook", "http://[fd12:3456::1]/hook",
    "http://[fe80::1]/hook", "http://[febf::1]/hook",
    "http://localhost/hook", "http://localhost:8080/hook", "https://localhost/hook",
]
# not listed by name in the spec, but loopback or "otherwise not public"
REFUSED_TOO = [
    "http://LOCALHOST/hook", "http://0.0.0.0/hook", "http://[::]/hook",
    "http://[::ffff:127.0.0.1]/hook", "http://[::ffff:10.0.0.1]/hook",
    "http://100.64.0.1/hook", "http://2130706433/hook", "http://127.1/hook",
    "http://0x7f000001/hook",
]
PUBLIC_HOSTS = [
    "https://93.184.215.14/hook", "http://11.0.0.1/hook", "http://172.15.255.254/hook",
    "http://172.32.0.1/hook", "http://192.169.0.1/hook", "http://169.253.0.1/hook",
    "http://128.0.0.1/hook", "https://[2606:4700:4700::1111]/hook",
]


@pytest.mark.parametrize("url", REFUSED_HOSTS + REFUSED_TOO)
def test_hosts_that_are_not_public_are_422(strict_api, staff, prog, pg, url):
    before = pg.psql("SELECT count(*) FROM webhooks WHERE program_id = '%s'" % prog["id"])
    r = create_webhook(strict_api, staff, prog["id"], url=url, events=["payout.paid"])
    assert_invalid(r, "url")
    assert pg.psql("SELECT count(*) FROM webhooks WHERE program_id = '%s'"
                   % prog["id"]) == before


@pytest.mark.parametrize("url", PUBLIC_HOSTS)
def test_public_hosts_are_accepted(strict_api, staff, prog, made_hooks, url):
    r = create_webhook(strict_api, staff, prog["id"], url=url, events=["payout.paid"])
    assert r.status == 201, r
    made_hooks.append(r.json["id"])
    assert r.json["url"] == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "http://localhost:9/hook",
                                 "http://[::1]:9/hook", "http://10.1.2.3/hook",
                                 "http://169.254.169.254/hook"])
def test_private_hosts_are_accepted_when_allowed(private_api, staff, prog, made_hooks, url):
    r = create_webhook(private_api, staff, prog["id"], url=url, events=["payout.paid"])
    assert r.status == 201, r
    made_hooks.append(r.json["id"])


# ---- GET /v1/webhooks/{id}/deliveries ----

def test_new_webhook_has_no_deliveries(private_api, staff, hook):
    r = deliveries(private_api, staff, hook["id"])
    assert r.status == 200, r
    assert r.json == {"items": [], "next_cursor": None}


@pytest.fixture
def five(pg, prog, hook):
    """Five deliveries of hook written with SQL, oldest first:
    delivered, dead, pending, in_flight, dead."""
    spec = [("delivered", 1, 204, None, True), ("dead", 8, 500, "HTTP 500", False),
            ("pending", 2, None, "connection refused", False),
            ("in_flight", 1, None, None, False), ("dead", 8, None, "timed out", False)]
    out = []
    for i, (status, attempts, last_status, last_error, delivered) in enumerate(spec):
        eid = insert_event(pg, prog["id"], payload={"n": i})
        did = insert_delivery(pg, hook["id"], eid, status, attempts, last_status, last_error,
                              age_s=100 - i, delivered=delivered)
        out.append({"id": did, "event_id": eid, "status": status, "attempts": attempts,
                    "last_status": last_status, "last_error": last_error})
    return out


def test_deliveries_are_listed_newest_first_with_their_state(private_api, staff, hook, five):
    r = deliveries(private_api, staff, hook["id"])
    assert r.status == 200, r
    assert set(r.json) == {"items", "next_cursor"}
    assert r.json["next_cursor"] is None
    items = r.json["items"]
    assert [i["id"] for i in items] == [d["id"] for d in reversed(five)]
    for item, d in zip(items, reversed(five)):
        assert set(item) == DELIVERY_KEYS, item
        assert item["event_id"] == d["event_id"]
        assert item["event_type"] == "payout.approved"
        assert item["status"] == d["status"]
        assert item["attempts"] == d["attempts"]
        assert item["last_status"] == d["last_status"]
        assert item["last_error"] == d["last_error"]
        assert TS_RE.match(item["created_at"]) and TS_RE.match(item["next_attempt_at"]), item
        if d["status"] == "delivered":
            assert TS_RE.match(item["delivered_at"]), item
        else:
            assert item["delivered_at"] is None, item


def test_deliveries_page_without_duplicates(private_api, staff, hook, five):
    items = all_deliveries(private_api, staff, hook["id"], limit=2)
    assert [i["id"] for i in items] == [d["id"] for d in reversed(five)]
    r = deliveries(private_api, staff, hook["id"], "?limit=2")
    assert len(r.json["items"]) == 2 and isinstance(r.json["next_cursor"], str)


@pytest.mark.parametrize("status", ["pending", "in_flight", "delivered", "dead"])
def test_deliveries_filter_by_status(private_api, staff, hook, five, status):
    items = all_deliveries(private_api, staff, hook["id"], status=status)
    assert [i["id"] for i in items] == [d["id"] for d in reversed(five)
                                        if d["status"] == status]
    assert all(i["status"] == status for i in items)


def test_deliveries_list_only_this_webhooks_deliveries(private_api, staff, prog, hook, five,
                                                       made_hooks):
    other = created_webhook(private_api, staff, prog["id"])
    made_hooks.append(other["id"])
    assert deliveries(private_api, staff, other["id"]).json == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("query,field", [
    ("status=failed", "status"), ("limit=0", "limit"), ("limit=201", "limit"),
    ("limit=ten", "limit"), ("cursor=%%%%garbage", "cursor"), ("colour=blue", "colour"),
])
def test_deliveries_bad_query_is_422(private_api, staff, hook, query, field):
    assert_invalid(deliveries(private_api, staff, hook["id"], "?" + query), field)


@pytest.mark.parametrize("wid", ["nope", str(uuid.uuid4())])
def test_deliveries_of_an_unknown_webhook_are_404(private_api, staff, wid):
    assert_slug(deliveries(private_api, staff, wid), 404, "not-found")


def test_deliveries_roles(private_api, admin, people, hook):
    assert deliveries(private_api, admin["token"], hook["id"]).status == 200
    for who in ("finance", "a"):
        assert_slug(deliveries(private_api, people[who][1], hook["id"]), 403, "forbidden")
    assert_slug(deliveries(private_api, None, hook["id"]), 401, "unauthorized")


# ---- POST /v1/webhooks/{id}/deliveries/{d}/retry ----

def test_retry_requeues_a_dead_delivery(private_api, staff, pg, hook, five):
    dead = five[1]
    before = now_utc()
    r = retry(private_api, staff, hook["id"], dead["id"])
    assert r.status == 200, r
    d = r.json
    assert set(d) == DELIVERY_KEYS, d
    assert d["id"] == dead["id"] and d["event_id"] == dead["event_id"]
    assert d["status"] == "pending"
    assert d["attempts"] == 0
    assert d["delivered_at"] is None
    due = parse_ts(d["next_attempt_at"])
    assert before - datetime.timedelta(seconds=60) <= due <= now_utc() + \
        datetime.timedelta(seconds=5), d
    assert pg.psql("SELECT status || ' ' || attempts || ' ' || (next_attempt_at <= now())"
                   " FROM deliveries WHERE id = '%s'" % dead["id"]) == "pending 0 true"
    [listed] = [i for i in deliveries(private_api, staff, hook["id"]).json["items"]
                if i["id"] == dead["id"]]
    assert listed["status"] == "pending" and listed["attempts"] == 0
    assert len(audit_rows(pg, "delivery.retry", dead["id"])) == 1
    # now pending: a second retry is refused
    assert_slug(retry(private_api, staff, hook["id"], dead["id"]), 409, "conflict")
    assert len(audit_rows(pg, "delivery.retry", dead["id"])) == 1


def test_admin_may_retry_with_an_empty_json_body(private_api, admin, hook, five):
    r = retry(private_api, admin["token"], hook["id"], five[4]["id"], body={})
    assert r.status == 200, r
    assert r.json["status"] == "pending" and r.json["attempts"] == 0


@pytest.mark.parametrize("index", [0, 2, 3])     # delivered, pending, in_flight
def test_retry_of_a_delivery_that_is_not_dead_is_409(private_api, staff, pg, hook, five, index):
    d = five[index]
    assert_slug(retry(private_api, staff, hook["id"], d["id"]), 409, "conflict")
    assert pg.psql("SELECT status || ' ' || attempts FROM deliveries WHERE id = '%s'"
                   % d["id"]) == "%s %d" % (d["status"], d["attempts"])
    assert audit_rows(pg, "delivery.retry", d["id"]) == []


def test_retry_unknown_or_foreign_delivery_is_404(private_api, staff, prog, hook, five,
                                                  made_hooks):
    other = created_webhook(private_api, staff, prog["id"])
    made_hooks.append(other["id"])
    dead = five[1]["id"]
    for wid, did in [(hook["id"], str(uuid.uuid4())), (hook["id"], "nope"),
                     (other["id"], dead), (str(uuid.uuid4()), dead), ("nope", dead)]:
        assert_slug(retry(private_api, staff, wid, did), 404, "not-found")


def test_retry_roles(private_api, pg, people, hook, five):
    dead = five[1]["id"]
    for who in ("finance", "a"):
        assert_slug(retry(private_api, people[who][1], hook["id"], dead), 403, "forbidden")
    assert_slug(retry(private_api, None, hook["id"], dead), 401, "unauthorized")
    assert pg.psql("SELECT status FROM deliveries WHERE id = '%s'" % dead) == "dead"


def test_a_url_with_an_upper_case_scheme_is_422_not_500(private_api, staff, prog):
    r = create_webhook(private_api, staff, prog["id"], url="HTTPS://hooks.example.org/x")
    assert_invalid(r, "url")
