"""Delivering notifications end to end (API.md, "Notifications and webhooks";
/tmp/spec6.md, "Worker delivery"): fairbeta-worker turns outbox events into
emails (to a real SMTP server, aiosmtpd) and signed webhook POSTs (to a real
HTTP server), retries failures with backoff until delivered or dead, survives
SIGKILL without losing an event, shares the work between two workers without
sending anything twice, keeps user text out of mail headers and honours each
user's email preferences.

Every webhook signature is checked with an implementation of its own
(Python's hmac over "id.timestamp.body" with the base64-decoded secret).
The servers and workers are started by the tests on 127.0.0.1 and free ports;
the API server used here allows private webhook hosts."""

import base64
import datetime
import hashlib
import hmac
import json
import re
import time
import uuid

import pytest

from harness import Api, SmtpSink, WebhookReceiver, Workers, create_users, free_port
from test_notifications import (TS_RE, all_deliveries, created_webhook, put_prefs,
                                retire_webhooks, retry, secret_key)
from test_programs import open_program, publish_terms
from test_submissions import claimed, decided, enrolled_program, submitted

MAIL_FROM = "fairbeta@localhost"            # FAIRBETA_MAIL_FROM's default
TITLE = "Lantern field \u2014 K\u00e4fer"   # not ASCII: the mail must be UTF-8
REASON = "Depicts a real person without their consent."
BACKOFF_S = 0.1


# ---- helpers ----

def wait_until(fn, timeout, interval=0.05):
    """Polls fn until it returns something true; returns that, or the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def body_text(m):
    part = m["msg"].get_body(preferencelist=("plain",))
    assert part is not None, m["raw"][:2000]
    return part.get_content()


def event_id(pg, event_type, entity_id):
    return pg.psql("SELECT event_id FROM outbox WHERE event_type = '%s' AND entity_id = '%s'"
                   % (event_type, entity_id))


def event_payload(pg, eid):
    return json.loads(pg.psql("SELECT payload FROM outbox WHERE event_id = '%s'" % eid))


def insert_events(pg, pid, n, event_type="payout.approved"):
    """n outbox events written with SQL in one statement: {event_id: n}."""
    tag = uuid.uuid4().hex
    pg.psql("INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
            " payload, request_id) SELECT gen_random_uuid(), '%s', '%s', 'payout_batch',"
            " '%s-' || g, jsonb_build_object('n', g, 'tag', '%s'), 'test'"
            " FROM generate_series(1, %d) g" % (event_type, pid, tag, tag, n))
    out = pg.psql("SELECT event_id, payload ->> 'n' FROM outbox WHERE payload ->> 'tag' = '%s'"
                  % tag)
    got = dict(line.split("|") for line in out.splitlines())
    assert len(got) == n
    return {eid: int(k) for eid, k in got.items()}


def delivery_states(pg, wid):
    """{status: count} of this webhook's deliveries."""
    out = pg.psql("SELECT status, count(*) FROM deliveries WHERE webhook_id = '%s'"
                  " GROUP BY status" % wid)
    return {s: int(c) for s, c in (line.split("|") for line in out.splitlines())} if out else {}


def expected_signature(secret, msg_id, timestamp, body):
    mac = hmac.new(secret_key(secret), b"%s.%s.%s" % (msg_id.encode(), timestamp.encode(), body),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def check_webhook_request(req, secret, eid=None, event_type=None):
    """The request is a signed Standard Webhooks POST; returns its parsed body."""
    h = req["headers"]
    assert req["method"] == "POST", req
    assert req["path"] == "/hooks/fairbeta", req
    assert (h.get("content-type") or "").split(";")[0].strip() == "application/json", h
    msg_id, ts, sig = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    assert msg_id and ts and sig, h
    if eid is not None:
        assert msg_id == eid, (msg_id, eid)
    assert re.fullmatch(r"[0-9]+", ts), ts
    assert abs(int(ts) - time.time()) < 120, ts
    assert sig == expected_signature(secret, msg_id, ts, req["body"]), (sig, h)
    # a signature over anything else would not match
    assert sig != expected_signature(secret, msg_id, ts, req["body"] + b" ")
    body = json.loads(req["body"])
    assert set(body) == {"type", "timestamp", "data"}, body
    if event_type is not None:
        assert body["type"] == event_type, body
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                        body["timestamp"]), body
    datetime.datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    return body


def by_webhook_id(requests):
    out = {}
    for r in requests:
        out.setdefault(r["headers"].get("webhook-id"), []).append(r)
    return out


# ---- fixtures ----

@pytest.fixture(scope="module")
def smtp():
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def dapi(pg, api):
    """A server over the shared database that allows private webhook hosts."""
    server = Api(pg.url, FAIRBETA_WEBHOOK_ALLOW_PRIVATE="1")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def people(dapi, admin):
    """{name: (user_json, token)}: staff s1 and artists a, e, p, q."""
    return create_users(dapi, admin["token"],
                        s1="staff", a="artist", e="artist", p="artist", q="artist")


@pytest.fixture(scope="module")
def s1(people):
    return people["s1"][1]


@pytest.fixture
def workers(pg, smtp):
    """start(n, **env) starts n workers delivering to the SMTP sink (tick 200 ms,
    backoff base 100 ms, lease 2 s, private hosts allowed); all are stopped after."""
    ws = Workers(pg.url, FAIRBETA_SMTP_URL=smtp.url, FAIRBETA_WORKER_TICK_MS="200",
                 FAIRBETA_DELIVERY_BACKOFF_MS="100", FAIRBETA_DELIVERY_LEASE_S="2",
                 FAIRBETA_WEBHOOK_ALLOW_PRIVATE="1")
    yield ws.start
    ws.stop_all()


@pytest.fixture
def receivers():
    """receiver(**kw) starts a WebhookReceiver; all are stopped after the test."""
    made = []

    def make(**kw):
        r = WebhookReceiver(**kw).start()
        made.append(r)
        return r

    yield make
    for r in made:
        r.stop()


@pytest.fixture
def hooks(pg, dapi, s1):
    """hook(pid, url, events) registers a webhook; after the test it is disabled and its
    unfinished deliveries ended, so later workers leave it alone."""
    made = []

    def make(pid, url, events):
        h = created_webhook(dapi, s1, pid, url=url, events=events)
        made.append(h["id"])
        return h

    yield make
    retire_webhooks(pg, made)


# ---- a decision: the email to the artist and the signed webhook ----

def test_decision_sends_the_artist_an_email_and_a_signed_webhook(dapi, pg, smtp, people, s1,
                                                                 workers, receivers, hooks):
    artist, token = people["a"]
    p, _ = enrolled_program(dapi, s1, [token])
    rec = receivers()
    hook = hooks(p["id"], rec.url, ["submission.decided"])
    workers(1)
    s = submitted(dapi, token, p["id"], title=TITLE)
    assert claimed(dapi, s1, p["id"])["id"] == s["id"]
    decided(dapi, s1, s["id"], "rejected", REASON, ["responsible-use"])
    eid = event_id(pg, "submission.decided", s["id"])
    assert eid

    reqs = wait_until(lambda: by_webhook_id(rec.requests()).get(eid), 20)
    assert reqs, (rec.requests(), pg.psql("SELECT * FROM deliveries WHERE webhook_id = '%s'"
                                          % hook["id"]))
    mails = wait_until(lambda: [m for m in smtp.to(artist["email"]) if s["id"] in body_text(m)],
                       20)
    assert mails, [m["raw"][:500] for m in smtp.to(artist["email"])]
    time.sleep(1.0)        # anything sent twice would arrive by now

    # the webhook: one signed POST whose data is the event's payload
    assert len(rec.requests()) == 1, rec.requests()
    [req] = rec.requests()
    assert req["status"] == 200
    body = check_webhook_request(req, hook["secret"], eid, "submission.decided")
    data = body["data"]
    assert data["submission_id"] == s["id"], data
    assert data["outcome"] == "rejected", data
    assert data["reason"] == REASON and data["clause_keys"] == ["responsible-use"], data
    assert data["artist_id"] == artist["id"], data
    assert data == event_payload(pg, eid)

    # the email: To the artist, [fairbeta] subject, the facts in a UTF-8 plain text body
    mails = [m for m in smtp.to(artist["email"]) if s["id"] in body_text(m)]
    assert len(mails) == 1, [m["raw"] for m in mails]
    [m] = mails
    msg = m["msg"]
    assert m["mail_from"].lower() == MAIL_FROM
    assert [r.lower() for r in m["rcpt_tos"]] == [artist["email"]]
    assert [a.addr_spec.lower() for a in msg["To"].addresses] == [artist["email"]]
    assert [a.addr_spec.lower() for a in msg["From"].addresses] == [MAIL_FROM]
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert str(msg["Subject"]).startswith("[fairbeta]"), msg["Subject"]
    assert msg.get_content_type() == "text/plain", msg.get_content_type()
    assert (msg.get_content_charset() or "").lower() == "utf-8", msg["Content-Type"]
    text = body_text(m)
    assert TITLE in text, text
    assert s["id"] in text, text
    assert "rejected" in text.lower(), text
    assert REASON in text, text
    assert "responsible-use" in text, text

    # and the deliveries list says so
    items = wait_until(lambda: [i for i in all_deliveries(dapi, s1, hook["id"])
                                if i["status"] == "delivered"], 10)
    items = all_deliveries(dapi, s1, hook["id"])
    assert len(items) == 1, items
    [d] = items
    assert d["event_id"] == eid and d["event_type"] == "submission.decided", d
    assert (d["status"], d["attempts"], d["last_status"], d["last_error"]) == \
        ("delivered", 1, 200, None), d
    assert TS_RE.match(d["delivered_at"] or ""), d


# ---- retries ----

def test_three_failures_then_success_is_delivered_on_the_fourth_try(dapi, pg, people, s1,
                                                                     workers, receivers,
                                                                     hooks):
    artist, token = people["a"]
    p, _ = enrolled_program(dapi, s1, [token])
    rec = receivers(plan=[500, 500, 500])
    hook = hooks(p["id"], rec.url, ["submission.created"])
    workers(1)
    s = submitted(dapi, token, p["id"])
    eid = event_id(pg, "submission.created", s["id"])
    assert wait_until(lambda: any(r["status"] == 200 for r in rec.requests()), 20), \
        rec.requests()
    wait_until(lambda: delivery_states(pg, hook["id"]) == {"delivered": 1}, 10)
    time.sleep(0.5)

    reqs = rec.requests()
    assert [r["status"] for r in reqs] == [500, 500, 500, 200], reqs
    datas = [check_webhook_request(r, hook["secret"], eid, "submission.created")["data"]
             for r in reqs]
    assert all(d == datas[0] for d in datas) and datas[0]["submission_id"] == s["id"], datas
    # exponential backoff: attempt n waits 100 ms * 2^(n-1), +-20 %
    gaps = [b["at"] - a["at"] for a, b in zip(reqs, reqs[1:])]
    for n, gap in enumerate(gaps, start=1):
        assert gap >= 0.8 * BACKOFF_S * 2 ** (n - 1) - 0.01, gaps

    [d] = all_deliveries(dapi, s1, hook["id"])
    assert d["event_id"] == eid
    assert (d["status"], d["attempts"], d["last_status"]) == ("delivered", 4, 200), d
    assert d["delivered_at"] is not None


def test_unreachable_receiver_ends_dead_and_a_retry_delivers(dapi, pg, s1, workers, receivers,
                                                            hooks):
    p = open_program(dapi, s1)
    port = free_port()                     # nothing listens here (yet)
    url = "http://127.0.0.1:%d/hooks/fairbeta" % port
    hook = hooks(p["id"], url, ["payout.approved"])
    [eid] = insert_events(pg, p["id"], 1)
    workers(1, FAIRBETA_DELIVERY_MAX_ATTEMPTS="3")

    def dead():
        items = all_deliveries(dapi, s1, hook["id"])
        return items if items and items[0]["status"] == "dead" else None

    items = wait_until(dead, 20)
    assert items, all_deliveries(dapi, s1, hook["id"])
    [d] = items
    assert d["event_id"] == eid and d["event_type"] == "payout.approved", d
    assert d["attempts"] == 3, d
    assert d["last_status"] is None, d
    assert isinstance(d["last_error"], str) and d["last_error"].strip(), d
    assert d["delivered_at"] is None, d
    time.sleep(1.0)                         # dead means no further attempts
    assert pg.psql("SELECT status || ' ' || attempts FROM deliveries WHERE id = '%s'"
                   % d["id"]) == "dead 3"

    rec = receivers(port=port)
    r = retry(dapi, s1, hook["id"], d["id"])
    assert r.status == 200, r
    assert r.json["status"] == "pending" and r.json["attempts"] == 0, r.json
    assert wait_until(lambda: delivery_states(pg, hook["id"]) == {"delivered": 1}, 15), \
        (delivery_states(pg, hook["id"]), rec.requests())
    [req] = rec.requests()
    check_webhook_request(req, hook["secret"], eid, "payout.approved")
    [d2] = all_deliveries(dapi, s1, hook["id"])
    assert d2["id"] == d["id"]
    assert (d2["status"], d2["attempts"], d2["last_status"]) == ("delivered", 1, 200), d2


# ---- at least once: SIGKILL while deliveries are in flight ----

def test_sigkill_during_deliveries_loses_no_event(dapi, pg, s1, workers, receivers, hooks):
    delay = 1.0
    p = open_program(dapi, s1)
    rec = receivers(delay=delay)
    hook = hooks(p["id"], rec.url, ["payout.approved"])
    events = insert_events(pg, p["id"], 20)
    eid_of = {n: eid for eid, n in events.items()}
    [w1] = workers(1)
    assert wait_until(lambda: rec.requests(), 20), w1.logtext()
    time.sleep(0.3)
    in_flight = pg.psql("SELECT count(*) FROM deliveries WHERE webhook_id = '%s'"
                        " AND status = 'in_flight'" % hook["id"])
    kill_at = time.monotonic()
    w1.proc.kill()
    assert w1.proc.wait(5) == -9
    assert int(in_flight) >= 1, delivery_states(pg, hook["id"])
    # requests that arrived within `delay` before the kill were never answered to w1
    cut = {r["headers"]["webhook-id"] for r in rec.requests()
           if r["at"] > kill_at - delay + 0.1}
    assert cut, rec.requests()

    workers(1)
    assert wait_until(lambda: delivery_states(pg, hook["id"]) == {"delivered": 20}, 60), \
        delivery_states(pg, hook["id"])

    got = by_webhook_id(rec.requests())
    assert set(got) == set(events), set(got) ^ set(events)
    for wid, reqs in got.items():
        for r in reqs:
            data = check_webhook_request(r, hook["secret"], None, "payout.approved")["data"]
            # a retried request keeps the event's id: the data tells which event it is
            assert eid_of[data["n"]] == wid, (data, wid)
    for wid in cut:
        assert len(got[wid]) >= 2, (wid, got[wid])
    items = all_deliveries(dapi, s1, hook["id"])
    assert sorted(i["event_id"] for i in items) == sorted(events)
    assert all(i["status"] == "delivered" for i in items), items


# ---- two workers, 1,000 events: each delivered exactly once ----

def test_two_workers_deliver_1000_events_exactly_once(dapi, pg, s1, workers, receivers, hooks):
    p = open_program(dapi, s1)
    rec = receivers()
    hook = hooks(p["id"], rec.url, ["payout.approved"])
    ws = workers(2)
    t0 = time.monotonic()
    events = insert_events(pg, p["id"], 1000)
    done = wait_until(lambda: len(by_webhook_id(rec.requests())) >= 1000, 60, interval=0.2)
    elapsed = time.monotonic() - t0
    assert done, (len(by_webhook_id(rec.requests())), delivery_states(pg, hook["id"]))
    assert elapsed < 60
    assert wait_until(lambda: delivery_states(pg, hook["id"]) == {"delivered": 1000}, 10), \
        delivery_states(pg, hook["id"])
    time.sleep(1.0)
    reqs = rec.requests()
    got = by_webhook_id(reqs)
    dupes = {k: len(v) for k, v in got.items() if len(v) > 1}
    assert not dupes, dupes
    assert len(reqs) == 1000
    assert set(got) == set(events)
    for r in reqs:
        data = check_webhook_request(r, hook["secret"], None, "payout.approved")["data"]
        assert events[r["headers"]["webhook-id"]] == data["n"]
    assert pg.psql("SELECT count(*) FROM deliveries WHERE webhook_id = '%s' AND attempts = 1"
                   " AND last_status = 200" % hook["id"]) == "1000"
    assert all(w.running() for w in ws), [w.logtext() for w in ws]


# ---- user text never becomes a mail header ----

def test_cr_lf_in_names_and_titles_adds_no_header(dapi, pg, smtp, people, s1, workers):
    user, token = people["e"]
    p, _ = enrolled_program(dapi, s1, [token])
    s = submitted(dapi, token, p["id"])
    pg.psql("UPDATE users SET display_name = E'Eve\\r\\nBcc: evil@example.com' WHERE id = '%s'"
            % user["id"])
    pg.psql("UPDATE submissions SET title = E'Boats\\r\\nBcc: evil2@example.com\\r\\n"
            "X-Injected: yes' WHERE id = '%s'" % s["id"])
    assert pg.psql("SELECT display_name = E'Eve\\r\\nBcc: evil@example.com' FROM users"
                   " WHERE id = '%s'" % user["id"]) == "t"
    assert claimed(dapi, s1, p["id"])["id"] == s["id"]
    decided(dapi, s1, s["id"])             # submission.decided and accrual.posted
    publish_terms(dapi, s1, p["id"])       # terms.published to the program's artists
    workers(1)
    # enrollment.created, submission.decided, accrual.posted, terms.published
    assert wait_until(lambda: len(smtp.to(user["email"])) >= 4, 20), \
        [m["raw"][:800] for m in smtp.to(user["email"])]
    time.sleep(1.0)

    for m in smtp.messages():
        assert not any("evil" in r.lower() for r in m["rcpt_tos"]), m["rcpt_tos"]
    mails = smtp.to(user["email"])
    assert len(mails) == 4, [m["raw"][:800] for m in mails]
    for m in mails:
        msg = m["msg"]
        assert [r.lower() for r in m["rcpt_tos"]] == [user["email"]], m["rcpt_tos"]
        head = m["raw"].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        names = {k.lower() for k in msg.keys()}
        assert "bcc" not in names and "x-injected" not in names and "cc" not in names, \
            m["raw"][:1500]
        for line in head.replace(b"\r\n", b"\n").split(b"\n"):
            assert re.match(rb"^([!-9;-~]+:|[ \t])", line), (line, head)
            assert not re.match(rb"^(bcc|x-injected)\s*:", line, re.I), head
        for k, v in msg.items():
            assert "\r" not in str(v) and "\n" not in str(v), (k, v)
        assert [a.addr_spec.lower() for a in msg["To"].addresses] == [user["email"]], msg["To"]
        assert str(msg["Subject"]).startswith("[fairbeta]"), msg["Subject"]


# ---- preferences ----

def test_email_turned_off_for_decisions_still_comes_for_other_events(dapi, pg, smtp, people, s1,
                                                                     workers):
    p_user, p_token = people["p"]
    q_user, q_token = people["q"]
    r = put_prefs(dapi, p_token, {"submission.decided": False})
    assert r.status == 200, r
    prog, _ = enrolled_program(dapi, s1, [p_token, q_token])
    sp = submitted(dapi, p_token, prog["id"])
    assert claimed(dapi, s1, prog["id"])["id"] == sp["id"]
    decided(dapi, s1, sp["id"])
    sq = submitted(dapi, q_token, prog["id"])
    assert claimed(dapi, s1, prog["id"])["id"] == sq["id"]
    decided(dapi, s1, sq["id"])
    workers(1)
    # q (all on): enrollment.created, submission.decided, accrual.posted; p: no decision mail
    assert wait_until(lambda: len(smtp.to(q_user["email"])) >= 3
                      and len(smtp.to(p_user["email"])) >= 2, 20), \
        ([m["raw"][:600] for m in smtp.to(q_user["email"])],
         [m["raw"][:600] for m in smtp.to(p_user["email"])])
    time.sleep(1.5)
    assert len(smtp.to(q_user["email"])) == 3
    p_mails = smtp.to(p_user["email"])
    assert len(p_mails) == 2, [m["raw"][:600] for m in p_mails]

    def email_deliveries(user_id, event_type):
        return int(pg.psql("SELECT count(*) FROM deliveries d JOIN outbox o USING (event_id)"
                           " WHERE d.channel = 'email' AND d.user_id = '%s'"
                           " AND o.event_type = '%s' AND o.program_id = '%s'"
                           % (user_id, event_type, prog["id"])))

    assert email_deliveries(p_user["id"], "submission.decided") == 0
    assert email_deliveries(q_user["id"], "submission.decided") == 1
    assert email_deliveries(p_user["id"], "accrual.posted") == 1
    assert email_deliveries(p_user["id"], "enrollment.created") == 1
