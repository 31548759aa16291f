"""The web console (issue 14) in a real browser: Debian's Chromium driven by
playwright-core (tests/e2e/, installed from its lockfile) against the real
fairbeta-api serving the console, a fairbeta-worker delivering to an SMTP
sink, and the private PostgreSQL of the session.

This module makes the users (admin, two staff, two finance, artists) and the
programs, submissions, decisions and license requests the scenarios start
from, through the API with bearer tokens; then runs the Node scripts under
tests/e2e/ (flows.mjs, security.mjs, pages.mjs) with `node`, each once, with
the base URL and the credentials in the environment (FAIRBETA_E2E_WORLD, a
JSON document). Each script runs its scenarios one by one, each in fresh
browser contexts, and writes a JSON report (build/e2e-reports/<script>.json)
with one entry per scenario; every scenario is one test here, so a failure
shows its error, its screenshots and the browser's console messages. The
screenshots of every main page (desktop 1280x800 and phone 390x844) go to
build/screenshots/.

Run just this module against a build of your own:
  make BUILD=build/e2e all
  FAIRBETA_BUILD=$PWD/build/e2e /usr/bin/python3 -m pytest -q tests/integration/test_console.py
FAIRBETA_E2E_ONLY=name,name runs only those scenarios (the others fail as
not run); FAIRBETA_E2E_TRACE=1 logs every wait and navigation with its time
(node's stderr, shown with a failure); FAIRBETA_E2E_HEADED=1 shows the
browser (needs a display); FAIRBETA_E2E_CHROMIUM names another Chromium."""

import datetime
import html
import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
import uuid

import pytest

from conftest import ADMIN_PASSWORD
from harness import ROOT, SmtpSink, Workers, create_users, free_port
from test_delivery import body_text
from test_enrollments import enrolled, invite
from test_ledger import adjusted, funded, reversed_tx
from test_licenses import decline, license_rates, requested
from test_programs import make_program, publish_terms, put_rates, set_status
from test_submissions import GENERATION, claimed, decided, media, submitted
from test_worker import wait_until

E2E = os.path.join(ROOT, "tests", "e2e")
CONSOLE = os.path.join(ROOT, "console")
REPORTS = os.path.join(ROOT, "build", "e2e-reports")
SCREENSHOTS = os.path.join(ROOT, "build", "screenshots")
CHROMIUM = os.environ.get("FAIRBETA_E2E_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "a long enough password"       # harness.Api.create_user's
SCRIPT_TIMEOUT = 900                      # seconds for one script, all its scenarios

# The scenarios of each script, in the order it runs them (its report must
# name exactly these).
SCENARIOS = {
    "flows.mjs": [
        "transparency_page_without_signing_in",
        "staff_creates_program_terms_rates_and_invitation",
        "artist_joins_from_invitation_link_and_submits",
        "signed_in_artist_joins_by_accepting_terms",
        "keyboard_only_review",
        "artist_sees_decision_with_clause_text_and_appeals",
        "finance_funds_drafts_approves_pays_and_exports",
        "admin_lists_users_and_audit_log",
        "artist_accepts_license_request",
        "sign_out",
    ],
    "security.mjs": [
        "xss_in_every_text_field_renders_as_text",
        "csrf_cross_origin_form_post_refused",
        "csrf_fetch_without_console_header_refused",
        "bearer_token_client_unchanged",
        "security_headers_on_console_responses",
        "session_cookie_httponly_samesite_strict",
    ],
    "pages.mjs": [
        "pages_anyone",
        "pages_artist",
        "pages_staff",
        "pages_finance",
        "pages_admin",
    ],
}

# What a user may write, as hostile text: both must show as literal text.
XSS_IMG = "<img src=x onerror=window.__xss=1>"
XSS_SCRIPT = "<script>window.__xss=1</script>"

CLAUSES = [
    {"key": "confidentiality", "kind": "confidentiality", "title": "What stays confidential",
     "body": "Only unreleased model outputs marked confidential by staff. Nothing else."},
    {"key": "responsible-use", "kind": "responsible_use", "title": "Responsible use",
     "body": "Do not publish outputs that depict real people without their consent."},
    {"key": "pay", "kind": "compensation", "title": "Pay",
     "body": "Every accepted contribution is paid at the published rate card."},
]
REJECT_REASON = "Shows a real person without consent."


def tag():
    return uuid.uuid4().hex[:6]


# ---- the cross-origin page: a tiny http.server on another port ----

class EvilSite:
    """Pages of another origin that a signed-in user might visit:
    /form?action=URL&name=N&value=V&enctype=E  auto-submits a POST form to URL
    /fetch?url=URL&body=B                      fetch()es URL no-cors with credentials
    /frame?src=URL                             puts URL in an iframe"""

    def __init__(self):
        self.port = free_port()
        self.server = None

    def start(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
                a = lambda k: html.escape(q.get(k, ""), quote=True)  # noqa: E731
                if u.path == "/form":
                    page = ('<!doctype html><title>win a prize</title>'
                            '<form id="f" method="POST" action="%s" enctype="%s">'
                            '<input type="hidden" name="%s" value="%s"></form>'
                            '<script>document.getElementById("f").submit()</script>'
                            % (a("action"), a("enctype") or "text/plain", a("name"), a("value")))
                elif u.path == "/fetch":
                    page = ('<!doctype html><title>win a prize</title><script>'
                            'fetch(%s, {method: "POST", mode: "no-cors", credentials: "include",'
                            ' headers: {"Content-Type": "text/plain"}, body: %s})'
                            '.then(() => { document.title = "sent"; },'
                            ' () => { document.title = "failed"; });</script>'
                            % (json.dumps(q.get("url", "")).replace("<", "\\u003c"),
                               json.dumps(q.get("body", "")).replace("<", "\\u003c")))
                elif u.path == "/frame":
                    page = ('<!doctype html><title>framed</title>'
                            '<iframe id="victim" src="%s" width="800" height="600"></iframe>'
                            % a("src"))
                else:
                    page = "<!doctype html><title>nothing</title>"
                out = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


# ---- fixtures ----

@pytest.fixture(scope="module")
def smtp():
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def worker(pg, smtp):
    ws = Workers(pg.url, FAIRBETA_SMTP_URL=smtp.url, FAIRBETA_WORKER_TICK_MS="200")
    ws.start()
    try:
        yield ws
    finally:
        ws.stop_all()


@pytest.fixture(scope="module")
def evil():
    site = EvilSite().start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="module")
def people(api, admin):
    """{name: (user_json, token)}; the artist x1's display name is hostile."""
    made = create_users(api, admin["token"], staff="staff", staff2="staff", f1="finance",
                        f2="finance", a1="artist", a2="artist", a3="artist")
    email = "x1-%s@example.com" % tag()
    r = api.request("POST", "/v1/users", {"email": email, "password": PASSWORD,
                                          "display_name": "Xena %s %s" % (XSS_IMG, XSS_SCRIPT),
                                          "role": "artist"}, token=admin["token"])
    assert r.status == 201, r
    made["x1"] = (r.json, api.login(email, PASSWORD))
    return made


def open_prog(api, staff, name, clauses=CLAUSES, rates=None, **over):
    p = make_program(api, staff, name=name, slug="e2e-%s" % tag(), **over)
    publish_terms(api, staff, p["id"], clauses)
    put_rates(api, staff, p["id"], license_rates() if rates is None else rates)
    return set_status(api, staff, p["id"], "open")


def reject(api, reviewer, sid, pid, reason=REJECT_REASON, keys=("responsible-use",)):
    c = claimed(api, reviewer, pid)
    assert c["id"] == sid, (c, sid)
    return decided(api, reviewer, sid, "rejected", reason, list(keys))


def approve(api, reviewer, sid, pid):
    c = claimed(api, reviewer, pid)
    assert c["id"] == sid, (c, sid)
    return decided(api, reviewer, sid, "approved")


@pytest.fixture(scope="module")
def world(api, admin, people, worker, evil):
    """What the scenarios start from, made through the API (FAIRBETA_E2E_WORLD)."""
    tok = {n: t for n, (_, t) in people.items()}
    staff, staff2 = tok["staff"], tok["staff2"]
    me = api.request("GET", "/v1/me", token=admin["token"]).json
    users = {"admin": dict(me, password=ADMIN_PASSWORD, token=admin["token"])}
    for n, (u, t) in people.items():
        users[n] = dict(u, password=PASSWORD, token=t)

    # main: public figures; a1 has a rejected work (to appeal), an approved one
    # (with a pending license request) and a pending one; a2 is enrolled too
    main = open_prog(api, staff, "Northern Lights Beta %s" % tag(),
                     description="Short films from the image model.", public_transparency=True)
    code = invite(api, staff, main["id"])["code"]
    for n in ("a1", "a2", "x1"):
        enrolled(api, tok[n], code)
    rejected = submitted(api, tok["a1"], main["id"], title="Harbour at dawn",
                         media=[media(1)])
    reject(api, staff2, rejected["id"], main["id"])
    approved = submitted(api, tok["a1"], main["id"], title="Paper boats", media=[media(2)])
    approve(api, staff2, approved["id"], main["id"])
    pending = submitted(api, tok["a1"], main["id"], title="Canal at night", media=[media(3)])
    # money on the main program and a draft payout batch (for the finance pages)
    funded(api, tok["f1"], main["id"], 100000, memo="Season budget")
    r = api.request("POST", "/v1/programs/%s/payout-batches" % main["id"], {}, token=tok["f1"],
                    headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r.status == 201, r
    license_req = requested(api, staff, approved["id"], "promotion",
                            scope="The launch trailer on the company's website.",
                            note="We would love to open the trailer with it.")

    # review: three works of a2 waiting, oldest first, for the keyboard review
    review = open_prog(api, staff, "Keyboard Review %s" % tag())
    enrolled(api, tok["a2"], invite(api, staff, review["id"])["code"])
    queue = [submitted(api, tok["a2"], review["id"], title="Queue work %d" % i,
                       media=[media(10 + i)])["id"] for i in (1, 2, 3)]

    # finance: a1 and a2 each have an approved work (payable 5000 each)
    fin = open_prog(api, staff, "Ledger Program %s" % tag())
    fcode = invite(api, staff, fin["id"])["code"]
    for n in ("a1", "a2"):
        enrolled(api, tok[n], fcode)
        s = submitted(api, tok[n], fin["id"], title="Work for the ledger")
        approve(api, staff2, s["id"], fin["id"])

    # join: codes for a new artist and for a3 (signed in); a private program
    join = open_prog(api, staff, "Open Call %s" % tag(),
                     description="Everyone with an invitation is welcome.")
    join_new = invite(api, staff, join["id"])["code"]
    join_existing = invite(api, staff, join["id"])["code"]
    private = open_prog(api, staff, "Private Figures %s" % tag(), public_transparency=False)

    # hostile text in every field a user writes, through the API (the flows
    # type more of it through the console's forms)
    xname = "Xss %s program %s" % (XSS_IMG, XSS_SCRIPT)
    xss_clauses = [
        {"key": "confidentiality", "kind": "confidentiality",
         "title": "Secret %s" % XSS_IMG, "body": "Keep it %s quiet" % XSS_SCRIPT},
        {"key": "responsible-use", "kind": "responsible_use",
         "title": "Careful %s" % XSS_SCRIPT, "body": "No real people %s please" % XSS_IMG},
    ]
    xp = open_prog(api, staff, xname, clauses=xss_clauses, public_transparency=True,
                   description="About %s and %s" % (XSS_SCRIPT, XSS_IMG))
    xcode = invite(api, staff, xp["id"])["code"]
    enrolled(api, tok["x1"], xcode)
    gen = dict(GENERATION, model="Model %s" % XSS_IMG, prompt="Prompt %s" % XSS_SCRIPT)
    xrej = submitted(api, tok["x1"], xp["id"], title="Title %s" % XSS_IMG,
                     description="Description %s" % XSS_SCRIPT, generation=gen)
    xtext = {"name": xname, "description": xp["description"], "clauses": xss_clauses,
             "display_name": people["x1"][0]["display_name"],
             "reason": "Reason %s %s" % (XSS_IMG, XSS_SCRIPT),
             "statement": "Statement %s %s" % (XSS_SCRIPT, XSS_IMG),
             "memo": "Memo %s %s" % (XSS_IMG, XSS_SCRIPT),
             "scope": "Scope %s" % XSS_IMG, "note": "Note %s" % XSS_SCRIPT,
             "adjust_memo": "Adjustment %s" % XSS_SCRIPT,
             "reverse_memo": "Reversal %s" % XSS_IMG,
             "decline_reason": "Declined %s %s" % (XSS_IMG, XSS_SCRIPT)}
    reject(api, staff2, xrej["id"], xp["id"], reason=xtext["reason"], keys=("responsible-use",))
    r = api.request("POST", "/v1/submissions/%s/appeal" % xrej["id"],
                    {"statement": xtext["statement"]}, token=tok["x1"])
    assert r.status == 200, r
    xappr = submitted(api, tok["x1"], xp["id"], title="Approved %s" % XSS_SCRIPT)
    approve(api, staff2, xappr["id"], xp["id"])
    xlic = requested(api, staff, xappr["id"], "promotion", scope=xtext["scope"],
                     note=xtext["note"])
    funded(api, tok["f1"], xp["id"], 123400, memo=xtext["memo"])
    accts = {a["kind"]: a["id"] for a in api.request(
        "GET", "/v1/ledger/accounts?program_id=%s" % xp["id"], token=tok["f1"]).json["items"]}
    adj = adjusted(api, tok["f1"], xp["id"], [(accts["cash"], 100), (accts["funding"], -100)],
                   memo=xtext["adjust_memo"])
    reversed_tx(api, tok["f1"], adj["id"], memo=xtext["reverse_memo"])
    xdecl = requested(api, staff, xappr["id"], "training", scope="Training scope")
    r = decline(api, tok["x1"], xdecl["id"], {"reason": xtext["decline_reason"]})
    assert r.status == 200, r

    return {
        "base": "http://127.0.0.1:%d" % api.port,
        "evil": "http://127.0.0.1:%d" % evil.port,
        "evil_site": "http://localhost:%d" % evil.port,
        "screenshots": SCREENSHOTS,
        "chromium": CHROMIUM,
        "users": users,
        "xss": [XSS_IMG, XSS_SCRIPT],
        "xss_text": xtext,
        "clauses": CLAUSES,
        "reject_reason": REJECT_REASON,
        "programs": {
            "main": main, "review": review, "fin": fin, "join": join, "private": private,
            "xss": xp,
        },
        "codes": {"main": code, "join_new": join_new, "join_existing": join_existing,
                  "xss": xcode},
        "submissions": {"rejected": rejected, "approved": approved, "pending": pending,
                        "queue": queue, "xss_rejected": xrej, "xss_approved": xappr},
        "license_requests": {"main": license_req, "xss": xlic},
        "today": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
    }


def npm_ci():
    """The packages of tests/e2e's lockfile, as `make integration` installs them
    (also for runs that do not go through it, e.g. make sanitize)."""
    mods = os.path.join(E2E, "node_modules")
    if all(os.path.isdir(os.path.join(mods, p)) for p in ("playwright-core", "axe-core")):
        return
    out = subprocess.run(["npm", "ci", "--prefix", E2E, "--no-audit", "--no-fund",
                          "--loglevel=error"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


class Runs:
    """Each script, run once (on first use), with its report."""

    def __init__(self, world):
        self.world = world
        self.done = {}

    def get(self, script):
        if script not in self.done:
            self.done[script] = self.run(script)
        return self.done[script]

    def run(self, script):
        os.makedirs(REPORTS, exist_ok=True)
        os.makedirs(SCREENSHOTS, exist_ok=True)
        report = os.path.join(REPORTS, script.replace(".mjs", ".json"))
        if os.path.exists(report):
            os.unlink(report)
        env = dict(os.environ, FAIRBETA_E2E_WORLD=json.dumps(self.world),
                   FAIRBETA_E2E_REPORT=report)
        try:
            out = subprocess.run(["node", os.path.join(E2E, script)], cwd=E2E, env=env,
                                 capture_output=True, text=True, timeout=SCRIPT_TIMEOUT)
            status, stdout, stderr = out.returncode, out.stdout, out.stderr
        except subprocess.TimeoutExpired as e:
            status, stdout, stderr = "timeout", e.stdout or "", e.stderr or ""
            stdout = stdout if isinstance(stdout, str) else stdout.decode(errors="replace")
            stderr = stderr if isinstance(stderr, str) else stderr.decode(errors="replace")
        doc = None
        if os.path.exists(report):
            with open(report) as f:
                doc = json.load(f)
        return {"status": status, "stdout": stdout, "stderr": stderr, "report": doc,
                "path": report}


@pytest.fixture(scope="module")
def runs(world):
    assert shutil.which("node"), "node is missing: tools/deps.sh test installs nodejs"
    assert os.access(CHROMIUM, os.X_OK), \
        "%s is missing: tools/deps.sh test installs Debian's chromium" % CHROMIUM
    npm_ci()
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)      # this run's only
    return Runs(world)


def tail(text, n=3000):
    return text[-n:] if text else ""


def scenario_failure(run, entry):
    lines = ["%s: %s" % (entry["name"], entry.get("status"))]
    if entry.get("error"):
        lines.append(entry["error"])
    for k in ("screenshots", "notes", "console"):
        if entry.get(k):
            lines.append("%s:\n  %s" % (k, "\n  ".join(str(x) for x in entry[k])))
    lines.append("node stderr (tail):\n" + tail(run["stderr"], 1500))
    return "\n".join(lines)


# ---- the console's files ----

def test_console_files_stay_under_200_kb():
    assert os.path.isdir(CONSOLE), "console/ does not exist yet"
    names = sorted(os.listdir(CONSOLE))
    assert "index.html" in names and "app.js" in names, names
    sizes = {n: os.path.getsize(os.path.join(CONSOLE, n)) for n in names}
    assert all(os.path.isfile(os.path.join(CONSOLE, n)) for n in names), "flat directory only"
    assert sum(sizes.values()) < 200 * 1024, sizes


# ---- each script: it ran, its exit status agrees with its report ----

@pytest.mark.parametrize("script", list(SCENARIOS))
def test_script_runs_and_reports_every_scenario(runs, script):
    run = runs.get(script)
    doc = run["report"]
    assert doc is not None, "%s wrote no report (exit %s)\nstdout:\n%s\nstderr:\n%s" % (
        script, run["status"], tail(run["stdout"]), tail(run["stderr"]))
    names = [e["name"] for e in doc["scenarios"]]
    assert names == SCENARIOS[script], names
    failed = [e["name"] for e in doc["scenarios"] if e["status"] != "pass"]
    assert run["status"] == (1 if failed else 0), (run["status"], failed, tail(run["stderr"]))


# ---- each scenario ----

@pytest.mark.parametrize("script,scenario",
                         [(s, n) for s, names in SCENARIOS.items() for n in names])
def test_scenario(runs, script, scenario):
    run = runs.get(script)
    doc = run["report"]
    assert doc is not None, "%s wrote no report (exit %s)\nstderr:\n%s" % (
        script, run["status"], tail(run["stderr"]))
    entry = next((e for e in doc["scenarios"] if e["name"] == scenario), None)
    assert entry is not None, "%s did not report %s" % (script, scenario)
    if entry["status"] != "pass":
        pytest.fail(scenario_failure(run, entry), pytrace=False)


# ---- what the console's actions did behind it ----

def test_screenshots_of_every_main_page_at_both_widths(runs):
    doc = runs.get("pages.mjs")["report"]
    assert doc is not None
    shots = [s for e in doc["scenarios"] for s in e.get("artifacts", [])]
    assert shots, "pages.mjs saved no screenshot"
    pages = {os.path.basename(s).rsplit("-", 1)[0] for s in shots}
    for p in pages:
        for w in ("desktop", "phone"):
            path = os.path.join(SCREENSHOTS, "%s-%s.png" % (p, w))
            assert os.path.getsize(path) > 1000, path


def test_the_worker_emailed_the_artist_the_decisions_made_by_keyboard(runs, world, smtp):
    """The review made in the browser went through the real outbox and worker."""
    doc = runs.get("flows.mjs")["report"]
    entry = next(e for e in doc["scenarios"] if e["name"] == "keyboard_only_review")
    if entry["status"] != "pass":
        pytest.skip("keyboard_only_review failed")
    a2 = world["users"]["a2"]["email"]
    queue = world["submissions"]["queue"]
    mails = wait_until(lambda: [m for m in smtp.to(a2)
                                if any(sid in body_text(m) for sid in queue[:2])], 20)
    assert mails, [m["msg"]["Subject"] for m in smtp.to(a2)]
