"""Hostile input over every route (issue 10): bodies, query strings, path
parameters, headers, methods and the protocol itself. The routes come from
the OpenAPI document (hostile_cases.py reads api/openapi.yaml; the first test
checks that the served /v1/openapi.json and the route table describe the same
operations, and that every one of them is covered here).

Each test sends one class of input to one route, as an authorised caller
(with real objects, so that bodies get past 404 and are really validated)
or anonymously, and asserts for every answer: a 4xx status in the set the
contract gives, application/problem+json whose "status" is the HTTP status
and which has a "type", an X-Request-Id, an answer within a socket timeout
(no hang); and after the group: the process alive, /healthz answering, and
nothing written to the database (no transaction that wrote a row; refused
requests that carried an Idempotency-Key may store the refusal, as the
document says 4xx answers are kept for replay). A failure lists every
input of the group that went wrong and what came back."""

import contextlib
import json
import os
import re
import subprocess
import uuid

import pytest

import hostile_cases as hc
from harness import BUILD, PROBLEM_PREFIX, Api, create_users
from test_enrollments import enrolled, fresh_email, future, invite
from test_ledger import account_id, adjusted, approve_new, funded, new_key
from test_licenses import granted, license_program, requested
from test_notifications import insert_delivery, insert_event, retire_webhooks
from test_programs import etag_of, fresh_slug, make_program, open_program, publish_terms
from test_submissions import claimed, decided, submitted

PASSWORD = "a long enough password"
PUBLIC_HOOK = "https://93.184.216.34/hooks/fairbeta"      # a public address literal: no DNS
REASON = "Shows a real person without consent."
IDEM_REQUIRED = {o.op_id for o in hc.OPERATIONS if o.headers.get("idempotency-key", {}).get("required")}


# ---- the server, the people and the objects ----

@pytest.fixture(scope="module")
def server(pg, api):
    """Our own fairbeta-api over the shared database: a crash found here is
    reported and the server restarted, without taking the other suites down."""
    # a short read timeout, so that a client that never completes a request
    # (a TLS hello, a body shorter than its length) sees the server close
    s = Api(pg.url, FAIRBETA_HTTP_TIMEOUT_S=4)
    try:
        yield s.start()
    finally:
        s.stop()


@pytest.fixture(scope="module")
def people(server, admin):
    return create_users(server, admin["token"], staff="staff", f1="finance", f2="finance",
                        a="artist", b="artist", spare="staff")


class World:
    """Real objects every route can be pointed at, and factories for fresh ones
    where a leaked request would change the state later groups rely on."""

    def __init__(self, api, pg, admin, people):
        self.api, self.pg, self.people = api, pg, people
        self.admin = admin["token"]
        self.staff, self.f1, self.f2 = (people[n][1] for n in ("staff", "f1", "f2"))
        self.a, self.b = people["a"][1], people["b"][1]
        self.hooks = []
        p = open_program(api, self.staff, public_transparency=True)
        self.program = p["id"]
        self.invitation = invite(api, self.staff, self.program, max_uses=1000)
        self.enrollment = enrolled(api, self.a, self.invitation["code"])["id"]
        funded(api, self.f1, self.program, 10 ** 12)
        self.cash = account_id(pg, self.program, "cash")
        self.funding = account_id(pg, self.program, "funding")
        self.transaction = self.adjustment()
        submitted(api, self.a, self.program)
        c = claimed(api, self.staff, self.program)
        self.submission = decided(api, self.staff, c["id"])["id"]
        self.batch = self.draft(self.program)
        self.queue = self.enrolled_program()
        self.webhook = self.hook()
        self.delivery = self.dead_delivery()
        # license rates of 1: every fee in the document's examples is at least that
        self.license_program = license_program(api, self.staff, [self.a], promotion=1,
                                               training=1)["id"]
        self.licensed_work = self.licensable()
        granted(api, self.staff, self.a, self.licensed_work, fee_minor=1)

    # factories
    def enrolled_program(self):
        p = open_program(self.api, self.staff)
        inv = invite(self.api, self.staff, p["id"], max_uses=1000)
        enrolled(self.api, self.a, inv["code"])
        return p["id"]

    def adjustment(self):
        return adjusted(self.api, self.f1, self.program,
                        [(self.cash, 1), (self.funding, -1)])["id"]

    def draft(self, pid):
        r = self.api.request("POST", "/v1/programs/%s/payout-batches" % pid, {},
                             token=self.f1, headers={"Idempotency-Key": new_key()})
        assert r.status == 201, r
        return r.json

    def owed_program(self):
        pid = self.enrolled_program()
        submitted(self.api, self.a, pid)
        decided(self.api, self.staff, claimed(self.api, self.staff, pid)["id"])
        funded(self.api, self.f1, pid, 10 ** 9)
        return pid

    def approved_batch(self):
        b = self.draft(self.owed_program())
        r = self.api.request("POST", "/v1/payout-batches/%s/approve" % b["id"], None,
                             token=self.f2)
        assert r.status == 200, r
        return b

    def claimed_in_queue(self):
        submitted(self.api, self.a, self.queue)
        return claimed(self.api, self.staff, self.queue)["id"]

    def hook(self):
        r = self.api.request("POST", "/v1/webhooks", {"program_id": self.program,
                                                      "url": PUBLIC_HOOK,
                                                      "events": ["payout.paid"]},
                             token=self.staff)
        assert r.status == 201, r
        self.hooks.append(r.json["id"])
        return r.json["id"]

    def dead_delivery(self):
        eid = insert_event(self.pg, self.program)
        return insert_delivery(self.pg, self.webhook, eid, "dead", 8, 500, "HTTP 500")

    def licensable(self):
        """A fresh approved work of artist a, in the program with license rates."""
        return approve_new(self.api, self.staff, self.a, self.license_program)["id"]

    def license_request(self):
        return requested(self.api, self.staff, self.licensable(), fee_minor=1)["id"]

    def fresh_token(self):
        return self.api.login(self.people["spare"][0]["email"], PASSWORD)


@pytest.fixture(scope="module")
def world(server, pg, admin, people):
    w = World(server, pg, admin, people)
    yield w
    retire_webhooks(pg, w.hooks)


class Target:
    """Where and as whom one operation is called: path parameters, the token,
    extra headers and the base bodies (the document's examples with real ids)."""

    def __init__(self, op, token, params=None, headers=None, bases=None):
        self.op, self.token = op, token
        self.params = dict(params or {})
        self.headers = list(headers or [])
        self.bases = bases if bases is not None else [(n, json.loads(json.dumps(b)))
                                                      for n, b in op.examples]

    def path(self, **over):
        p = self.op.path
        for name, value in dict(self.params, **over).items():
            p = p.replace("{%s}" % name, value)
        assert not re.search(r"\{[a-z_]+\}", p), p
        return p


def _examples(op, **fill):
    """The document's examples with these members replaced wherever they occur."""
    def sub(v):
        if isinstance(v, dict):
            return {k: (fill[k]() if callable(fill[k]) else fill[k]) if k in fill else sub(x)
                    for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        return v
    return [(n, sub(b)) for n, b in op.examples]


def target(op, w, anonymous=False):
    """A fresh Target for op: objects in the state in which a valid body would succeed."""
    o = op.op_id
    api = w.api
    T = lambda token, **kw: Target(op, token, **kw)
    if o == "createSession":
        return T(None, bases=_examples(op, email=lambda: fresh_email("hostile")))
    if o == "deleteCurrentSession":
        return T(w.fresh_token())
    if o in ("getMe", "getNotificationPreferences", "listPrograms", "getHealth", "getReadiness",
             "getOpenApiDocument"):
        return T(w.staff)
    if o == "updateNotificationPreferences":
        return T(w.staff)
    if o == "createUser":
        return T(w.admin, bases=_examples(op, email=lambda: fresh_email("hostile")))
    if o == "listAuditEntries":
        return T(w.admin)
    if o == "createProgram":
        return T(w.staff, bases=_examples(op, slug=lambda: fresh_slug("hostile")))
    if o in ("getProgram", "getLatestTerms", "getCurrentRateCard", "listInvitations",
             "listProgramEnrollments", "getReviewQueue", "getProgramTransparency"):
        return T(w.staff, params={"id": w.program})
    if o in ("getTermsVersion", "getRateCardVersion"):
        return T(w.staff, params={"id": w.program, "version": "1"})
    if o == "updateProgram":
        p = make_program(api, w.staff)
        publish_terms(api, w.staff, p["id"])
        r = api.request("PUT", "/v1/programs/%s/rates" % p["id"],
                        {"rates": [{"kind": k, "amount_minor": 100} for k in
                                   ("work", "bug_report", "feedback", "session_hour")]},
                        token=w.staff)
        assert r.status == 200, r
        return T(w.staff, params={"id": p["id"]},
                 headers=[("If-Match", etag_of(api, w.staff, p["id"]))])
    if o in ("publishTerms", "putRateCard"):
        return T(w.staff, params={"id": make_program(api, w.staff)["id"]})
    if o == "createInvitation":
        return T(w.staff, params={"id": w.program}, bases=_examples(op, expires_at=future(30)))
    if o == "revokeInvitation":
        return T(w.staff, params={"id": invite(api, w.staff, w.program)["id"]})
    if o == "createEnrollment":
        pid = open_program(api, w.staff)["id"]
        code = invite(api, w.staff, pid, max_uses=100)["code"]
        bases = _examples(op, invitation_code=code, accept_terms_version=1,
                          email=lambda: fresh_email("hostile"))
        bases = [(n, b) for n, b in bases if (n == "newAccount") == anonymous]
        return T(None if anonymous else w.b, bases=bases)
    if o == "getEnrollment":
        return T(w.staff, params={"id": w.enrollment})
    if o == "acceptTerms":
        pid = w.enrolled_program()
        eid = json.loads(w.pg.psql(
            "SELECT to_json(id) FROM enrollments WHERE program_id = '%s'" % pid))
        publish_terms(api, w.staff, pid)
        return T(w.a, params={"id": eid}, bases=_examples(op, version=2))
    if o == "withdrawEnrollment":
        pid = w.enrolled_program()
        eid = json.loads(w.pg.psql(
            "SELECT to_json(id) FROM enrollments WHERE program_id = '%s'" % pid))
        return T(w.a, params={"id": eid})
    if o in ("listMyEnrollments", "getMyBalance", "listMyStatement"):
        return T(w.a)
    if o == "createSubmission":
        return T(w.a, params={"id": w.program})
    if o == "listSubmissions":
        return T(w.staff)
    if o == "getSubmission":
        return T(w.staff, params={"id": w.submission})
    if o == "withdrawSubmission":
        return T(w.a, params={"id": submitted(api, w.a, w.program)["id"]})
    if o == "claimNextSubmission":
        pid = w.enrolled_program()
        submitted(api, w.a, pid)
        return T(w.staff, params={"id": pid})
    if o in ("releaseSubmission", "decideSubmission"):
        return T(w.staff, params={"id": w.claimed_in_queue()})
    if o == "appealSubmission":
        sid = w.claimed_in_queue()
        decided(api, w.staff, sid, "rejected", REASON, ["responsible-use"])
        return T(w.a, params={"id": sid})
    if o == "exhibitSubmission":
        sid = w.claimed_in_queue()
        decided(api, w.staff, sid)
        return T(w.staff, params={"id": sid})
    if o == "fundProgram":
        return T(w.f1, params={"id": w.program})
    if o in ("listLedgerAccounts", "listLedgerTransactions", "exportLedger"):
        return T(w.f1)
    if o == "createLedgerTransaction":
        def entries():
            return [{"account_id": w.cash, "amount_minor": 2500},
                    {"account_id": w.funding, "amount_minor": -2500}]
        return T(w.f1, bases=_examples(op, program_id=w.program, entries=entries))
    if o == "getLedgerTransaction":
        return T(w.f1, params={"id": w.transaction})
    if o == "reverseLedgerTransaction":
        return T(w.f1, params={"id": w.adjustment()})
    if o == "createPayoutBatch":
        return T(w.f1, params={"id": w.program})
    if o in ("getPayoutBatch", "exportPayoutBatch"):
        return T(w.f1, params={"id": w.batch["id"]})
    if o == "approvePayoutBatch":
        return T(w.f2, params={"id": w.draft(w.owed_program())["id"]})
    if o in ("markPayoutItemPaid", "markPayoutItemFailed"):
        b = w.approved_batch()
        return T(w.f1, params={"id": b["id"], "item": b["items"][0]["id"]})
    if o == "createWebhook":
        return T(w.staff, bases=_examples(op, program_id=w.program, url=PUBLIC_HOOK))
    if o == "listWebhookDeliveries":
        return T(w.staff, params={"id": w.webhook})
    if o == "retryWebhookDelivery":
        return T(w.staff, params={"id": w.webhook, "delivery": w.dead_delivery()})
    if o == "createLicenseRequest":
        return T(w.staff, params={"id": w.licensable()})
    if o == "getSubmissionLicenses":
        return T(w.staff, params={"id": w.licensed_work})
    if o == "listMyLicenseRequests":
        return T(w.a)
    if o in ("acceptLicenseRequest", "declineLicenseRequest"):
        return T(w.a, params={"id": w.license_request()})
    if o == "withdrawLicenseRequest":
        return T(w.staff, params={"id": w.license_request()})
    if o == "revokeLicense":
        return T(w.a, params={"id": granted(api, w.staff, w.a, w.licensable(),
                                            fee_minor=1)[1]["id"]})
    if o == "listProgramLicenses":
        return T(w.staff, params={"id": w.license_program})
    if o == "checkLicense":
        return T(w.staff)
    # the web console's files, and what the API gained for the console
    if o == "getConsole":
        return T(None)
    if o == "getConsoleFile":
        return T(None, params={"file": "app.js"})
    if o == "listUsers":
        return T(w.admin)
    if o == "previewInvitation":
        return T(None, bases=_examples(op, invitation_code=w.invitation["code"]))
    if o == "listPayoutBatches":
        return T(w.f1, params={"id": w.program})
    if o == "listWebhooks":
        return T(w.staff)
    raise AssertionError("no target for %s: add one (the document grew)" % op.name)


TARGETED = {"createSession", "deleteCurrentSession", "getMe", "getNotificationPreferences",
            "listPrograms", "getHealth", "getReadiness", "getOpenApiDocument",
            "updateNotificationPreferences", "createUser", "listAuditEntries", "createProgram",
            "getProgram", "getLatestTerms", "getCurrentRateCard", "listInvitations",
            "listProgramEnrollments", "getReviewQueue", "getProgramTransparency",
            "getTermsVersion", "getRateCardVersion", "updateProgram", "publishTerms",
            "putRateCard", "createInvitation", "revokeInvitation", "createEnrollment",
            "getEnrollment", "acceptTerms", "withdrawEnrollment", "listMyEnrollments",
            "getMyBalance", "listMyStatement", "createSubmission", "listSubmissions",
            "getSubmission", "withdrawSubmission", "claimNextSubmission", "releaseSubmission",
            "decideSubmission", "appealSubmission", "exhibitSubmission", "fundProgram",
            "listLedgerAccounts", "listLedgerTransactions", "exportLedger",
            "createLedgerTransaction", "getLedgerTransaction", "reverseLedgerTransaction",
            "createPayoutBatch", "getPayoutBatch", "exportPayoutBatch", "approvePayoutBatch",
            "markPayoutItemPaid", "markPayoutItemFailed", "createWebhook",
            "listWebhookDeliveries", "retryWebhookDelivery", "createLicenseRequest",
            "getSubmissionLicenses", "listMyLicenseRequests", "acceptLicenseRequest",
            "declineLicenseRequest", "withdrawLicenseRequest", "revokeLicense",
            "listProgramLicenses", "checkLicense", "getConsole", "getConsoleFile", "listUsers",
            "previewInvitation", "listPayoutBatches", "listWebhooks"}


# ---- sending and judging ----

def next_xid(pg):
    """The next transaction id: it moves only when some transaction wrote (or
    locked) a row; our own reads take none."""
    return int(pg.psql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text"))


def written_since(pg, xid):
    """{table: rows inserted or updated by transactions from xid on}, every table
    of the public schema."""
    tables = pg.psql("SELECT string_agg(quote_ident(table_name), ' ') FROM"
                     " information_schema.tables WHERE table_schema = 'public'"
                     " AND table_type = 'BASE TABLE'").split()
    sql = " UNION ALL ".join("SELECT '%s', count(*) FROM %s WHERE xmin::text::bigint >= %d"
                             % (t, t, xid) for t in tables)
    out = {}
    for line in pg.psql(sql).splitlines():
        name, n = line.split("|")
        if int(n):
            out[name] = int(n)
    return out


CLOSED = "closed"


def judge(ans, expected, benign=False, method="GET"):
    """What is wrong with one answer ([] when nothing). CLOSED in expected
    accepts the server closing the connection without an answer: where the
    client never finished a request libevent can read (no request line ever
    ends; a body that stops short and then EOF), there is nothing to answer,
    and libevent 2.1 closes without a page."""
    if isinstance(ans, Exception):
        if CLOSED in expected and "no HTTP answer" in str(ans):
            return []
        return ["no answer: %s" % ans]
    wrong = []
    rid = ans.header("X-Request-Id")
    if not rid:
        wrong.append("no X-Request-Id")
    elif not re.fullmatch(r"[!-~]{1,200}", rid):
        wrong.append("unsafe X-Request-Id %r" % rid[:80])
    if ans.status >= 500 and ans.status not in expected:
        wrong.append("5xx")
    if benign and ans.status < 400:
        return wrong
    if ans.status not in expected:
        wrong.append("status %d, expected %s" % (ans.status, sorted(expected, key=str)))
    ctype = (ans.header("Content-Type") or "").split(";")[0].strip()
    if ctype != "application/problem+json":
        wrong.append("Content-Type %r" % ans.header("Content-Type"))
    if method == "HEAD":
        return wrong
    try:
        p = json.loads(ans.body)
        if not isinstance(p, dict):
            raise ValueError("not an object")
        if p.get("status") != ans.status:
            wrong.append("problem status %r != %d" % (p.get("status"), ans.status))
        if not (isinstance(p.get("type"), str) and p["type"].startswith(PROBLEM_PREFIX)):
            wrong.append("problem type %r" % p.get("type"))
        if rid and p.get("request_id") != rid:
            wrong.append("request_id %r != header %r" % (p.get("request_id"), rid))
    except ValueError as e:
        wrong.append("body not a problem document (%s): %r" % (e, ans.body[:120]))
    return wrong


class Group:
    """One group of hostile requests with the checks that follow it."""

    def __init__(self, api, pg, title):
        self.api, self.pg, self.title = api, pg, title
        self.failures = []
        self.idem_sent = False

    def send(self, name, data, expected, method="GET", benign=False, half_close=False):
        if b"\r\nIdempotency-Key:" in data.split(b"\r\n\r\n", 1)[0]:
            self.idem_sent = True
        try:
            ans = hc.raw_request(self.api.port, data, method=method, half_close=half_close)
        except (hc.NoAnswer, OSError) as e:
            ans = e
        wrong = judge(ans, expected, benign, method)
        if wrong:
            self.failures.append("%s: %s -> %r" % (name, "; ".join(wrong), ans))
            self.note(name, wrong, ans)
        if self.api.proc.poll() is not None:
            self.failures.append("%s: fairbeta-api DIED (exit %s): %s"
                                 % (name, self.api.proc.returncode, self.api.logtext()[-1500:]))
            self.api.start()
        return ans

    def note(self, name, wrong, ans):
        """Also appends the failure to $FAIRBETA_HOSTILE_REPORT (JSON lines), if set."""
        report = os.environ.get("FAIRBETA_HOSTILE_REPORT")
        if report:
            with open(report, "a") as f:
                f.write(json.dumps({"group": self.title, "case": name, "wrong": wrong,
                                    "answer": repr(ans)[:300]}) + "\n")

    def request(self, name, method, target, expected, token=None, headers=(), body=None,
                benign=False, content_type="application/json", idem=False):
        hdrs = list(headers)
        if token:
            hdrs.append(("Authorization", "Bearer " + token))
        if body is not None and content_type is not None:
            hdrs.append(("Content-Type", content_type))
        if idem:
            hdrs.append(("Idempotency-Key", new_key("hostile")))
        return self.send(name, hc.build(method, target, hdrs, body), expected, method, benign)


@contextlib.contextmanager
def group(server, pg, title):
    """Runs the requests of one group; then checks the process, /healthz and
    that nothing was written, and fails naming every bad answer."""
    g = Group(server, pg, title)
    before = next_xid(pg)
    yield g
    alive = server.proc.poll() is None
    if not alive:
        g.failures.append("fairbeta-api DIED: %s" % server.logtext()[-1500:])
        server.start()
    h = server.request("GET", "/healthz", timeout=hc.TIMEOUT_S)
    if h.status != 200:
        g.failures.append("/healthz answered %r afterwards" % h)
    if next_xid(pg) != before:
        written = written_since(pg, before)
        if g.idem_sent:
            written.pop("idempotency_keys", None)      # refusals are kept for replay
        if written:
            g.failures.append("DATA WRITTEN by refused requests: %s" % written)
            g.note("(group)", ["DATA WRITTEN %s" % written], None)
    assert not g.failures, "%s: %d problems\n  %s" % (title, len(g.failures),
                                                      "\n  ".join(g.failures))


def anon_expected(op, expected):
    """What an anonymous caller may get: the class's status, or 401 first."""
    return set(expected) if op.public else set(expected) | {401}


# ---- coverage: the document, the route table and this suite agree ----

def _norm(path):
    return re.sub(r"\{[^}/]+\}|:[a-z_]+", "{}", path)


def test_every_documented_operation_is_covered(server):
    served = server.request("GET", "/v1/openapi.json").json
    served_ops = {(m.upper(), _norm(p)) for p, item in served["paths"].items()
                  for m in item if m in hc.METHODS} - {("GET", "/metrics")}
    assert served_ops == {(o.method, _norm(o.path)) for o in hc.OPERATIONS}
    out = subprocess.run([os.path.join(BUILD, "fairbeta-api"), "--routes"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    routes = {(l.split()[0], _norm(l.split()[1])) for l in out.stdout.splitlines() if l.strip()}
    assert routes == served_ops
    assert {o.op_id for o in hc.OPERATIONS} == TARGETED


def test_document_examples_are_valid_bases():
    """The bases the mutations start from are valid by the document's own schemas
    (so each mutated body differs from a valid one in exactly one way)."""
    for op in hc.OPERATIONS:
        if op.schema is not None:
            assert op.examples, op
            for name, body in op.examples:
                assert hc.valid(op.schema, body), (op, name)


# ---- bodies ----

BODY_OPS = [o for o in hc.OPERATIONS if o.schema is not None]
NO_BODY_OPS = [o for o in hc.OPERATIONS if o.schema is None]
BODY_CLASSES = ["syntax", "encoding", "unknown", "types", "numbers", "strings", "size",
                "content-type"]
ANON_CLASSES = ["syntax", "unknown", "size", "content-type"]


def body_params():
    out = []
    for op in BODY_OPS:
        for cls in BODY_CLASSES:
            out.append(pytest.param(op, cls, False, id="%s-%s-auth" % (op.name, cls)))
        for cls in (BODY_CLASSES if op.public else ANON_CLASSES):
            out.append(pytest.param(op, cls, True, id="%s-%s-anon" % (op.name, cls)))
    return out


def max_body(server):
    return int(server.env.get("FAIRBETA_MAX_BODY", 1048576))


def size_cases(server, base):
    limit = max_body(server)
    pad = lambda n: json.dumps(dict(base, zz="a" * n)).encode()
    just = pad(limit - len(pad(0)) + 1)
    assert len(just) == limit + 1
    chunks = lambda body, size: b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                                         for i in range(0, len(body), size)) + b"0\r\n\r\n"
    return [("limit+1", just, None), ("limit*4+1", pad(4 * limit), None),
            ("limit*16", pad(16 * limit), None),
            ("chunked-limit+1", chunks(just, 65536), "chunked"),
            ("chunked-limit*4", chunks(pad(4 * limit), 65536), "chunked"),
            ("content-length-10GB", b'{"a":1}', "10000000000"),
            ("content-length-2^64", b'{"a":1}', "18446744073709551616")]


CONTENT_TYPES = [("text/plain", {415}), ("application/x-www-form-urlencoded", {415}),
                 ("multipart/form-data; boundary=x", {415}), ("application/jsonx", {415}),
                 ("application/json-patch+json", {415}), ("application/xml", {415}),
                 # JSON defines no charset parameter (RFC 8259): ignoring it is allowed
                 ("application/json; charset=latin1", {415, 422}),
                 ("application/json; charset=utf-16", {415, 422}), ("", {415}), ("*/*", {415}),
                 ("application/*", {415}), ("json", {415}), ("application/json, text/plain", {415}),
                 ("\x01\x7f", {400, 415}), (b"application/j\xc3\xa9son", {400, 415}),
                 ("application/json; charset=utf-8", {422}), ("application/json;charset=UTF-8", {422}),
                 ("APPLICATION/JSON", {422}), ("application/json ; charset=\"utf-8\"", {415, 422}),
                 ("x" * 9000, {400, 413, 415, 431})]


@pytest.mark.parametrize("op,cls,anonymous", body_params())
def test_hostile_bodies(server, pg, world, op, cls, anonymous):
    t = target(op, world, anonymous)
    token = None if anonymous else t.token
    exp = (lambda e: anon_expected(op, e)) if anonymous else (lambda e: set(e))
    idem = op.op_id in IDEM_REQUIRED and token is not None
    hdrs = t.headers
    path = t.path()
    with group(server, pg, "%s %s" % (op.name, cls)) as g:
        for bname, base in t.bases:
            tag = lambda n: "%s[%s] %s" % (op.op_id, bname, n)
            if cls == "syntax":
                cases = hc.syntax_cases(base, op.body_required)
            elif cls in ("unknown", "types", "numbers", "strings", "encoding"):
                cases = hc.body_cases(op.schema, base, cls)
            elif cls == "size":
                for n, body, special in size_cases(server, base):
                    h = list(hdrs) + [("Content-Type", "application/json")]
                    if token:
                        h.append(("Authorization", "Bearer " + token))
                    if idem:
                        h.append(("Idempotency-Key", new_key("hostile")))
                    if special == "chunked":
                        h.append(("Transfer-Encoding", "chunked"))
                        data = hc.build(op.method, path, h, body)
                    elif special:
                        h.append(("Content-Length", special))
                        data = hc.build(op.method, path, h, body)
                    else:
                        data = hc.build(op.method, path, h, body)
                    g.send(tag(n), data, exp({413}), op.method, half_close=bool(special and
                                                                               special != "chunked"))
                continue
            elif cls == "content-type":
                body = hc.dump(dict(base, zz=1))
                for ct, e in CONTENT_TYPES:
                    g.request(tag("content-type %r" % ct), op.method, path, exp(e), token,
                              hdrs, body, content_type=ct, idem=idem)
                g.request(tag("no content-type"), op.method, path, exp({415}), token, hdrs,
                          body, content_type=None, idem=idem)
                g.request(tag("two content-types"), op.method, path, exp({400, 415}), token,
                          list(hdrs) + [("Content-Type", "text/plain")], body, idem=idem)
                continue
            for n, body, e in cases:
                g.request(tag(n), op.method, path, exp(e), token, hdrs, body, idem=idem)


@pytest.mark.parametrize("op", NO_BODY_OPS, ids=lambda o: o.name)
def test_body_on_routes_without_one(server, pg, world, op):
    t = target(op, world)
    with group(server, pg, "%s with a body" % op.name) as g:
        for n, body, ct in [("json-object", b'{"zz":1}', "application/json"),
                            ("json-malformed", b"{", "application/json"),
                            ("text", b"hello", "text/plain"),
                            ("over-limit", b'{"a":"' + b"a" * (max_body(server) + 1) + b'"}',
                             "application/json")]:
            g.request("%s %s" % (op.op_id, n), op.method, t.path(), {400, 413, 415, 422},
                      t.token, t.headers, body, content_type=ct)


# ---- query strings ----

QUERY_OPS = [o for o in hc.OPERATIONS if o.query_params]
BAD_CURSORS = ["garbage", "", "%00", "a" * 5000, "eyJpZCI6IngifQ", "eyJpZCI6IngifQ==", "W10",
               "AAAA", "%FF%FE", "..", "null", "-1", "e30", "%2F%2F%2F%2F"]


def bad_values(name, schema):
    """(value, expected) query values the document says are invalid."""
    s = hc.resolve(schema)
    t = hc.types_of(s)
    if name == "cursor":
        return [(v, {400, 422}) for v in BAD_CURSORS]
    if "integer" in t:
        cands = ["-1", "0", "201", "99999999999999999999", "1e3", "abc", "", "1.5", "+1",
                 "%201", "1%00", "0x10", "1%20", "-0", "2147483648", "9223372036854775808",
                 "%", "%zz", "%FF"]
        out = []
        for v in cands:
            if re.fullmatch(r"-?[0-9]+", v) and hc.valid(s, int(v)) and v != "-0":
                continue
            out.append((v, {400, 422}))
        return out
    vals = ["", "%00", "%FF%FE", "%", "%zz", "a" * 3000, "a%00b", "%C2%85", "x%0D%0Ay"]
    if s.get("format") == "uuid":
        vals += ["nope", "7c9e6679-7425-40de-944b-e07fc1f90ae7%00",
                 "{7c9e6679-7425-40de-944b-e07fc1f90ae7}", "7c9e6679742540de944be07fc1f90ae7x"]
    if s.get("format") == "date-time":
        vals += ["yesterday", "2026-13-01T00:00:00Z", "2027-02-30T00:00:00Z",
                 "2026-01-01T00:00:00%2B16:00", "2026-01-01T00:00:00-16:00",
                 "2026-01-01T00:00:00", "2026-01-01", "2026-01-01T24:00:00Z",
                 "0000-01-01T00:00:00Z", "99999-01-01T00:00:00Z", "1e10",
                 "2026-01-01T00:00:00%2B15:60"]
    if "enum" in s:
        vals += ["bogus", s["enum"][0].upper(), s["enum"][0] + "%00", s["enum"][0] + ","]
    return [(v, {400, 422}) for v in vals if not (v and hc.valid(s, v))]


def query_base(op, w):
    """Good values of the operation's required query parameters."""
    good = {"program_id": w.program, "submission_id": w.licensed_work, "use": "promotion"}
    return {n: good[n] for n, p in op.query_params.items() if p.get("required") and n in good}


def qs(params):
    return "&".join("%s=%s" % kv for kv in params)


@pytest.mark.parametrize("op", QUERY_OPS, ids=lambda o: o.name)
def test_hostile_query_strings(server, pg, world, op):
    t = target(op, world)
    base = list(query_base(op, world).items())
    path = t.path()
    with group(server, pg, "%s query" % op.name) as g:
        def q(name, pairs, expected, token=t.token, raw=None):
            """The base query with these pairs (replacing base pairs of the same name)."""
            if raw is None:
                names = {k for k, _ in pairs}
                raw = qs([kv for kv in base if kv[0] not in names] + pairs)
            g.request("%s ?%s" % (op.op_id, name[:80]), "GET", path + "?" + raw, expected,
                      token, t.headers)
        for pname, p in op.query_params.items():
            for v, e in bad_values(pname, p.get("schema", {})):
                q("%s=%s" % (pname, v), [(pname, v)], e)
            good = {"limit": "1", "program_id": world.program, "from": "2026-01-01T00:00:00Z",
                    "to": "2027-01-01T00:00:00Z"}.get(pname)
            if good is None and "enum" in hc.resolve(p.get("schema", {})):
                good = hc.resolve(p["schema"])["enum"][0]
            if good is not None:
                q("%s repeated" % pname, [(pname, good), (pname, good)], {400, 422})
        if "from" in op.query_params and "to" in op.query_params:
            for f, to in [("2027-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
                          ("2026-06-01T00:00:01Z", "2026-06-01T00:00:00Z"),
                          ("2026-06-01T12:00:00%2B02:00", "2026-06-01T09:00:00Z")]:
                q("to before from %s %s" % (f, to), [("from", f), ("to", to)], {422})
        for name, raw in [("unknown", "zz=1"), ("unknown-empty", "zz="), ("bare-name", "zz"),
                          ("empty-name", "=1"), ("ampersands", "&&&"), ("bad-escape-name", "%zz=1"),
                          ("nul-name", "li%00mit=1"), ("upper-name", "LIMIT=1"),
                          ("semicolon", "limit=1;zz=1"), ("long-value", "zz=" + "a" * 20000),
                          ("many-params", "&".join("z%d=1" % i for i in range(2000))),
                          ("long-name", "a" * 9000 + "=1")]:
            q(name, [], {400, 413, 414, 422, 431},
              raw=qs(base) + ("&" if base else "") + raw)
        q("anonymous", [("limit", "-1")], anon_expected(op, {400, 422}), token=None)


# ---- path parameters and paths ----

PARAM_OPS = [o for o in hc.OPERATIONS if o.path_params]


def bad_ids(real):
    """(value, expected for a GET, benign on a GET); none is real itself (a name
    without dashes, such as a console file's, stays the same without them)."""
    rnd = str(uuid.uuid4())
    return [c for c in _bad_ids(real, rnd) if c[0] != real]


def _bad_ids(real, rnd):
    return [("not-a-uuid", {404}, False), ("0", {404}, False), ("-1", {404}, False),
            (real.upper(), {404}, True), ("{%s}" % real, {404}, False),
            ("%%7B%s%%7D" % real, {404}, False), (real + "%00", {400, 404}, False),
            (real + "%20", {404}, False), ("%20" + real, {404}, False), (real[:-1], {404}, False),
            (real + "0", {404}, False), ("%2F" + real, {404}, False), (real + "%2Fx", {404}, False),
            ("..", {404}, False), (".", {404}, False), ("%2e%2e", {404}, False),
            ("a" * 10000, {404, 414, 400}, False), ("%C3%A9", {404}, False),
            ("%FF", {400, 404}, False), ("%", {400, 404}, False), ("%zz", {400, 404}, False),
            (rnd, {404}, False), (rnd.upper(), {404}, False),
            ("00000000-0000-0000-0000-000000000000", {404}, False),
            ("ffffffff-ffff-ffff-ffff-ffffffffffff", {404}, False),
            (real.replace("-", ""), {404}, False), ("urn:uuid:" + real, {404}, False),
            (real + ";x", {404}, False), (real + "%3B", {404}, False)]


def bad_versions():
    return [("0", {404}, False), ("-1", {404}, False), ("01", {404}, True), ("1.0", {404}, False),
            ("1e0", {404}, False), ("+1", {404}, True), ("0x1", {404}, False), (" 1", {404}, False),
            ("99999999999999999999", {404}, False), ("2147483648", {404}, False),
            ("9223372036854775808", {404}, False), ("abc", {404}, False), ("1%00", {400, 404}, False),
            ("%", {400, 404}, False), ("%31", {404}, True), ("a" * 10000, {404, 414, 400}, False)]


@pytest.mark.parametrize("anonymous", [False, True], ids=["auth", "anon"])
@pytest.mark.parametrize("op", PARAM_OPS, ids=lambda o: o.name)
def test_hostile_path_parameters(server, pg, world, op, anonymous):
    t = target(op, world)
    token = None if anonymous else t.token
    # a write gets a body the document refuses, so that no variant may act
    body = hc.dump(dict(t.bases[0][1], zz=1)) if t.bases else None
    with group(server, pg, "%s path" % op.name) as g:
        for p in op.path_params:
            real = t.params[p["name"]]
            for v, e, benign in (bad_versions() if p["name"] == "version" else bad_ids(real)):
                e = set(e)
                if body is not None:
                    e |= {400, 422}
                if anonymous:
                    e = anon_expected(op, e)
                g.request("%s %s=%s" % (op.op_id, p["name"], v[:60]), op.method,
                          t.path(**{p["name"]: v}), e, token, t.headers, body,
                          benign=benign and op.method == "GET",
                          idem=op.op_id in IDEM_REQUIRED and token is not None)
            # an empty segment
            g.request("%s %s=(empty)" % (op.op_id, p["name"]), op.method,
                      t.path(**{p["name"]: ""}), anon_expected(op, {404, 405}) if anonymous
                      else {404, 405} | ({400, 422} if body else set()), token, t.headers, body)


def path_variants(path):
    """Paths that are not this documented path (filled with a placeholder id)."""
    p = path
    segs = p.split("/")
    out = []
    for i in range(2, len(segs)):
        out.append(("/".join(segs[:i]) + "%2F" + "/".join(segs[i:]), {404}))
        out.append(("/".join(segs[:i]) + "%2f" + "/".join(segs[i:]), {404}))
        out.append(("/".join(segs[:i]) + "//" + "/".join(segs[i:]), {404}))
        out.append(("/".join(segs[:i]) + "/./" + "/".join(segs[i:]), {404}))
        out.append(("/".join(segs[:i]) + "/%2e/" + "/".join(segs[i:]), {404}))
        out.append(("/".join(segs[:i]) + "/x/../" + "/".join(segs[i:]), {404}))
    out += [("/" + p, {404}), (p + "/", {404}), (p + "/.", {404}), (p + "/..", {404}),
            (p + "/%2e%2e", {404}), (p.upper(), {404}), (p + ";x", {404}), (p + "%00", {400, 404}),
            (p + "%", {400, 404}), (p + "\\", {400, 404}), (p.replace("/", "\\", 2), {400, 404}),
            (p + "/" + "a" * 10000, {400, 404, 414}), ("/v1/../" + p.lstrip("/"), {404}),
            (p + "%20", {404}), (p + "%C3%A9", {404}), (p + "*", {404})]
    # on the root ("/"), some of these are the path itself (upper case, ...)
    return [(v, e) for v, e in out if v != p]


@pytest.mark.parametrize("path", hc.PATHS)
def test_paths_that_are_not_routes(server, pg, world, path):
    """Encoded slashes, double slashes, dot segments and other look-alikes of a
    documented path are 404 even with a token that may use the real one."""
    ops = [o for o in hc.OPERATIONS if o.path == path]
    t = target(ops[0], world)
    real = t.path()
    with group(server, pg, "look-alikes of %s" % path) as g:
        token = t.token or world.staff
        for v, e in path_variants(real):
            g.request("GET %s" % v[:120], "GET", v, e, token)
        g.request("raw non-ASCII", "GET", real.encode() + b"\xc3\xa9", {400, 404}, token)
        g.request("raw NUL", "GET", real.encode() + b"\x00x", {400, 404}, token)
        g.request("raw space", "GET", real.encode() + b" x", {400, 404}, token)


# ---- headers ----

def auth_headers(token):
    return [("none", None), ("empty", ""), ("Bearer", "Bearer"), ("Bearer-space", "Bearer "),
            ("short", "Bearer x"), ("token+x", "Bearer " + token + "x"),
            ("token-1", "Bearer " + token[:-1]), ("token-upper", "Bearer " + token.upper()),
            ("basic", "Basic dXNlcjpwYXNz"), ("no-scheme", token), ("other-scheme", "Token " + token),
            ("control-chars", "Bearer \x01\x02\x03"), ("tab-in-token", "Bearer " + token[:10] + "\t" + token[10:]),
            ("del", "Bearer " + token[:-1] + "\x7f"), ("non-ascii", b"Bearer " + token.encode() + b"\xff"),
            ("utf8", "Bearer " + "\u00e9".encode().decode("latin-1") * 20),
            ("oversized-8k", "Bearer " + "a" * 8000), ("oversized-64k", "Bearer " + "a" * 65000),
            ("nul-in-token", "Bearer " + token[:5] + "%00" + token[5:]),
            ("token-twice", "Bearer " + token + " " + token), ("comma", "Bearer " + token + ", Basic x")]


AUTH_OPS = [o for o in hc.OPERATIONS if not o.public or o.op_id in ("createEnrollment",
                                                                    "getProgramTransparency")]


@pytest.mark.parametrize("op", AUTH_OPS, ids=lambda o: o.name)
def test_hostile_authorization(server, pg, world, op):
    """Bad credentials on a request that would succeed with good ones: 401, and
    nothing done."""
    t = target(op, world)
    body = hc.dump(t.bases[0][1]) if t.bases else None
    idem = op.op_id in IDEM_REQUIRED
    with group(server, pg, "%s Authorization" % op.name) as g:
        for n, value in auth_headers(t.token or world.staff):
            h = list(t.headers) + ([("Authorization", value)] if value is not None else [])
            e = {401} if value is not None or not op.public else {400, 401, 403, 422}
            if n in ("oversized-64k",):
                e = {400, 401, 413, 431}
            if op.public and value is None:
                continue
            g.request("%s auth %s" % (op.op_id, n), op.method, t.path(), e, None, h, body,
                      idem=idem)
        g.request("%s auth duplicated (good, bad)" % op.op_id, op.method, t.path(), {400, 401},
                  None, list(t.headers) + [("Authorization", "Bearer " + (t.token or world.staff)),
                                           ("Authorization", "Bearer x")], body, idem=idem)


REQUEST_IDS = [("bare-cr", b"abc\rInjected: yes"), ("control", b"a\x01b"), ("non-ascii", b"\xff\xfe"),
               ("utf8", "caf\u00e9".encode()), ("long-10k", b"a" * 10000), ("empty", b""),
               ("space", b"a b"), ("del", b"x\x7f"), ("percent-crlf", b"abc%0d%0aInjected:%20yes"),
               ("json", b'","status":200,"x":"'), ("html", b"<script>alert(1)</script>")]


@pytest.mark.parametrize("op", hc.OPERATIONS, ids=lambda o: o.name)
def test_hostile_request_ids(server, pg, world, op):
    """An unusable X-Request-Id is replaced, never echoed into headers or body."""
    t = target(op, world)
    body = b"{" if op.schema is not None else None
    if op.schema is not None:          # the order of the body and token checks is free
        e, benign = ({400} if op.public else {400, 401}), False
    else:
        e, benign = ({401} if not op.public else {400}), op.public
    with group(server, pg, "%s X-Request-Id" % op.name) as g:
        for n, rid in REQUEST_IDS:
            # a header value that is not valid HTTP (a bare CR) may be refused: 400
            ans = g.request("%s X-Request-Id %s" % (op.op_id, n), op.method, t.path(), e | {400},
                            None,
                            list(t.headers) + [("X-Request-Id", rid)], body, benign=benign)
            if isinstance(ans, hc.Answer):
                if ans.header("Injected") is not None or b"Injected" in ans.body:
                    g.failures.append("%s: X-Request-Id injected a header: %r" % (n, ans.headers))
                if rid and not re.fullmatch(rb"[!-~]{1,200}", rid) and \
                        (ans.header("X-Request-Id") or "").encode("latin-1") == rid:
                    g.failures.append("%s: unusable X-Request-Id echoed" % n)
        g.request("%s two X-Request-Ids" % op.op_id, op.method, t.path(), e, None,
                  list(t.headers) + [("X-Request-Id", "one"), ("X-Request-Id", "two")], body,
                  benign=benign)


BAD_KEYS = [("empty", b""), ("201-chars", b"k" * 201), ("64k", b"k" * 65000), ("non-ascii", b"k\xff"),
            ("utf8", "cl\u00e9".encode()), ("space", b"a key"), ("control", b"k\x01"), ("del", b"k\x7f"),
            ("tab", b"k\tk")]


@pytest.mark.parametrize("op", [o for o in hc.OPERATIONS if o.method == "POST" and not o.public],
                         ids=lambda o: o.name)
def test_hostile_idempotency_keys(server, pg, world, op):
    """A bad Idempotency-Key on a request that would otherwise succeed: 422, nothing done."""
    t = target(op, world)
    body = hc.dump(t.bases[0][1]) if t.bases else None
    with group(server, pg, "%s Idempotency-Key" % op.name) as g:
        for n, key in BAD_KEYS:
            e = {400, 413, 422, 431} if n == "64k" else {422}
            g.request("%s Idempotency-Key %s" % (op.op_id, n), op.method, t.path(), e, t.token,
                      list(t.headers) + [("Idempotency-Key", key)], body)
        g.request("%s two Idempotency-Keys" % op.op_id, op.method, t.path(), {400, 422}, t.token,
                  list(t.headers) + [("Idempotency-Key", new_key()), ("Idempotency-Key", new_key())],
                  body)
        g.idem_sent = True


@pytest.mark.parametrize("op", [o for o in hc.OPERATIONS if "if-match" in o.headers],
                         ids=lambda o: o.name)
def test_hostile_if_match(server, pg, world, op):
    t = target(op, world)
    body = hc.dump(t.bases[0][1])
    others = [h for h in t.headers if h[0] != "If-Match"]
    with group(server, pg, "%s If-Match" % op.name) as g:
        for n, v in [("garbage", "garbage"), ("empty", ""), ("unquoted", "v1"), ("weak", 'W/"zz"'),
                     ("empty-tag", '""'), ("list", '"zz", "yy"'), ("star-list", '*, "zz"'),
                     ("long", '"' + "a" * 9000 + '"'), ("control", '"\x01"'), ("non-ascii", b'"\xff"'),
                     ("quote", '"')]:
            g.request("%s If-Match %s" % (op.op_id, n), op.method, t.path(), {400, 412}, t.token,
                      others + [("If-Match", v)], body)


@pytest.mark.parametrize("op", [o for o in hc.OPERATIONS if "if-none-match" in o.headers],
                         ids=lambda o: o.name)
def test_hostile_if_none_match(server, pg, world, op):
    """Garbage If-None-Match is at worst ignored (200) or refused (400); never 5xx."""
    t = target(op, world)
    with group(server, pg, "%s If-None-Match" % op.name) as g:
        for n, v in [("garbage", "garbage"), ("empty", ""), ("long", '"' + "a" * 9000 + '"'),
                     ("control", '"\x01"'), ("non-ascii", b'"\xff"'), ("quote", '"'),
                     ("many", ", ".join('"%d"' % i for i in range(2000)))]:
            g.request("%s If-None-Match %s" % (op.op_id, n), "GET", t.path(), {400, 413, 431},
                      t.token, list(t.headers) + [("If-None-Match", v)], benign=True)


# ---- methods ----

# CONNECT (authority-form) is in test_hostile_protocol; HEAD is GET without the
# body on a path that has GET (RFC 9110 9.3.2), a method not served elsewhere
EXTENSION_METHODS = ["FOO", "PROPFIND", "TRACE", "get", "post", "Get", "OPTIONS", "MKCOL",
                     "LOCK", "PURGE", "X" * 100]


@pytest.mark.parametrize("path", hc.PATHS)
def test_hostile_methods(server, pg, world, path):
    """A method the path does not serve, known or not: 405 with Allow naming the
    documented methods (api/openapi.yaml, "Every answer is problem+json")."""
    ops = [o for o in hc.OPERATIONS if o.path == path]
    allowed = hc.allowed_methods(path)
    t = target(ops[0], world)
    with group(server, pg, "methods on %s" % path) as g:
        methods = [m for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] if m not in allowed]
        methods += EXTENSION_METHODS + ([] if "GET" in allowed else ["HEAD"])
        for m in methods:
            ans = g.request("%r %s" % (m[:20], path), m, t.path(), {405}, world.admin, (),
                            b"{}" if m in ("POST", "PUT", "PATCH") else None)
            if isinstance(ans, hc.Answer) and ans.status == 405:
                got = {x.strip() for x in (ans.header("Allow") or "").split(",") if x.strip()}
                if got - {"HEAD"} != allowed:
                    g.failures.append("%r %s: Allow %r, documented %s"
                                      % (m[:20], path, ans.header("Allow"), sorted(allowed)))
        if "GET" in allowed:
            get = [o for o in ops if o.method == "GET"][0]
            query = qs(query_base(get, world).items())
            g.request("HEAD %s" % path, "HEAD", t.path() + ("?" + query if query else ""),
                      {401, 403, 404, 405}, world.admin, benign=True)


# ---- the protocol ----

def protocol_cases(port, token):
    body = json.dumps({"slug": fresh_slug("hostile"), "name": "n", "currency": "EUR",
                       "capacity": 1, "review_sla_hours": 1, "zz": 1}).encode()
    H = lambda *extra: b"\r\n".join([b"Host: 127.0.0.1", b"Connection: close"] + list(extra))
    P = lambda extra, data=body: (b"POST /v1/programs HTTP/1.1\r\n" + H(
        b"Authorization: Bearer " + token.encode(), b"Content-Type: application/json", *extra)
        + b"\r\n\r\n" + data)
    cases = [
        ("http/1.0", b"GET /v1/me HTTP/1.0\r\n\r\n", {401}),
        ("http/0.9 style", b"GET /v1/me\r\n\r\n", {400}),
        ("http/1.x", b"GET /v1/me HTTP/1.x\r\n" + H() + b"\r\n\r\n", {400}),
        ("http/9.9", b"GET /v1/me HTTP/9.9\r\n" + H() + b"\r\n\r\n", {400, 505}),
        ("lowercase-version", b"GET /v1/me http/1.1\r\n" + H() + b"\r\n\r\n", {400}),
        ("absolute-form", ("GET http://127.0.0.1:%d/v1/me HTTP/1.1\r\n" % port).encode()
         + H() + b"\r\n\r\n", {401}),
        ("absolute-form-other-host", b"GET http://evil.example/v1/me HTTP/1.1\r\n" + H()
         + b"\r\n\r\n", {400, 401}),
        ("asterisk-form", b"GET * HTTP/1.1\r\n" + H() + b"\r\n\r\n", {400, 404}),
        ("authority-form", b"CONNECT 127.0.0.1:5432 HTTP/1.1\r\n" + H() + b"\r\n\r\n",
         {400, 404, 405}),
        ("request-line-20k", b"GET /v1/me?" + b"a" * 20000 + b" HTTP/1.1\r\n" + H() + b"\r\n\r\n",
         {400, 413, 414, 431}),
        ("request-line-200k", b"GET /" + b"a" * 200000 + b" HTTP/1.1\r\n" + H() + b"\r\n\r\n",
         {400, 413, 414, 431}),
        ("no-target", b"GET  HTTP/1.1\r\n" + H() + b"\r\n\r\n", {400}),
        ("extra-spaces", b"GET  /v1/me  HTTP/1.1\r\n" + H() + b"\r\n\r\n", {400, 401, 404}),
        ("tab-separated", b"GET\t/v1/me\tHTTP/1.1\r\n" + H() + b"\r\n\r\n", {400, 401}),
        ("garbage-line", b"\x00\x01\x02\x03\r\n\r\n", {400}),
        ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}),
        ("tls-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
         {400, CLOSED}),
        ("blank-lines-first", b"\r\n\r\nGET /v1/me HTTP/1.1\r\n" + H() + b"\r\n\r\n", {400, 401}),
        ("bare-lf", b"GET /v1/me HTTP/1.1\nHost: x\nConnection: close\n\n", {400, 401}),
        ("header-without-colon", b"GET /v1/me HTTP/1.1\r\n" + H(b"NoColonHere") + b"\r\n\r\n", {400}),
        ("header-name-space", b"GET /v1/me HTTP/1.1\r\n" + H(b"X Foo: 1") + b"\r\n\r\n", {400, 401}),
        ("space-before-colon", b"GET /v1/me HTTP/1.1\r\n" + H(b"Authorization : Bearer "
                                                                + token.encode()) + b"\r\n\r\n",
         {400, 401}),
        ("obs-fold", b"GET /v1/me HTTP/1.1\r\n" + H(b"X-Foo: a", b" folded") + b"\r\n\r\n",
         {400, 401}),
        # RFC 9112 5.2: refuse obs-fold (400) or unfold it to a space (then 200 is right)
        ("obs-fold-authorization", b"GET /v1/me HTTP/1.1\r\n" + H(b"Authorization: Bearer",
                                                                  b" " + token.encode())
         + b"\r\n\r\n", {400, 401, 200}),
        ("nul-in-header", b"GET /v1/me HTTP/1.1\r\n" + H(b"X-Foo: a\x00b") + b"\r\n\r\n",
         {400, 401}),
        ("header-32k", b"GET /v1/me HTTP/1.1\r\n" + H(b"X-Big: " + b"a" * 32000) + b"\r\n\r\n",
         {400, 413, 431}),
        ("header-block-200k", b"GET /v1/me HTTP/1.1\r\n" + H(*[b"X-H%d: %s" % (i, b"a" * 100)
                                                              for i in range(2000)]) + b"\r\n\r\n",
         {400, 413, 431}),
        ("5000-tiny-headers", b"GET /v1/me HTTP/1.1\r\n" + H(*[b"X-%d: 1" % i for i in range(5000)])
         + b"\r\n\r\n", {400, 401, 413, 431}),
        ("two-hosts", b"GET /v1/me HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
         {400, 401}),
        ("no-host-1.1", b"GET /v1/me HTTP/1.1\r\nConnection: close\r\n\r\n", {400, 401}),
        # bodies framed wrongly (on a write: nothing may be created)
        ("content-length-twice-different", P([b"Content-Length: %d" % len(body),
                                              b"Content-Length: %d" % (len(body) - 1)]), {400}),
        ("content-length-twice-same", P([b"Content-Length: %d" % len(body),
                                         b"Content-Length: %d" % len(body)]), {400, 422}),
        ("content-length-list", P([b"Content-Length: %d, %d" % (len(body), len(body))]), {400, 422}),
        ("content-length-negative", P([b"Content-Length: -1"]), {400}),
        ("content-length-letters", P([b"Content-Length: 12abc"]), {400}),
        ("content-length-plus", P([b"Content-Length: +%d" % len(body)]), {400, 422}),
        ("content-length-hex", P([b"Content-Length: 0x10"]), {400}),
        ("content-length-space-inside", P([b"Content-Length: 1 0"]), {400}),
        ("content-length-short", P([b"Content-Length: %d" % (len(body) - 5)]), {400}),
        ("content-length-and-chunked", P([b"Content-Length: 5", b"Transfer-Encoding: chunked"],
                                         b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)), {400, 422}),
        ("chunked-bad-size", P([b"Transfer-Encoding: chunked"], b"zz\r\n" + body + b"\r\n0\r\n\r\n"),
         {400}),
        ("chunked-negative", P([b"Transfer-Encoding: chunked"], b"-1\r\n" + body + b"\r\n0\r\n\r\n"),
         {400}),
        ("chunked-huge", P([b"Transfer-Encoding: chunked"], b"ffffffffffffffffff\r\n" + body),
         {400, 413}),
        ("chunked-2^63", P([b"Transfer-Encoding: chunked"], b"8000000000000000\r\n" + body),
         {400, 413}),
        ("chunked-size-too-small", P([b"Transfer-Encoding: chunked"],
                                     b"3\r\n" + body + b"\r\n0\r\n\r\n"), {400}),
        ("chunked-bad-extension", P([b"Transfer-Encoding: chunked"],
                                    b"%x;\x01=\x02\r\n%s\r\n0\r\n\r\n" % (len(body), body)), {400, 422}),
        ("chunked-no-crlf", P([b"Transfer-Encoding: chunked"],
                              b"%x\r\n%sXX0\r\n\r\n" % (len(body), body)), {400}),
        ("transfer-encoding-gzip", P([b"Transfer-Encoding: gzip"], body), {400, 411, 415, 501}),
        ("transfer-encoding-identity", P([b"Transfer-Encoding: identity", b"Content-Length: %d"
                                          % len(body)]), {400, 422, 501}),
        ("transfer-encoding-chunked-twice", P([b"Transfer-Encoding: chunked, chunked"],
                                              b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)),
         {400, 422, 501}),
        ("transfer-encoding-Chunked-obfuscated", P([b"Transfer-Encoding: xchunked"], body),
         {400, 411, 501}),
        ("content-encoding-gzip", P([b"Content-Encoding: gzip", b"Content-Length: %d" % len(body)]),
         {400, 415, 422}),
        ("expect-100-bogus", P([b"Expect: 100-continue-x", b"Content-Length: %d" % len(body)]),
         {400, 417, 422}),
    ]
    return cases


HALF_CLOSED = {"content-length-short", "chunked-huge", "chunked-2^63", "chunked-bad-size",
               "chunked-negative"}


def test_hostile_protocol(server, pg, world):
    with group(server, pg, "protocol") as g:
        for name, data, e in protocol_cases(server.port, world.staff):
            g.send(name, data, e, half_close=name in HALF_CLOSED, benign=200 in e)
    # and afterwards the server still serves a normal request
    assert server.request("GET", "/v1/me", token=world.staff).status == 200


def test_content_length_longer_than_the_body_does_not_hang(server, pg, world):
    """A body shorter than its Content-Length, the client then half-closing: a 400
    (or the connection closed) within the timeout, nothing created."""
    body = b'{"slug":"x"}'
    data = hc.build("POST", "/v1/programs", [("Authorization", "Bearer " + world.staff),
                                             ("Content-Type", "application/json"),
                                             ("Content-Length", "1000")], body)
    with group(server, pg, "short body") as g:
        g.send("content-length 1000, 12 bytes, half-closed", data, {400, CLOSED}, "POST",
               half_close=True)
