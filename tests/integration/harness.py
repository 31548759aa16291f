"""The real things the integration tests run against: a throwaway PostgreSQL
cluster (tools/pg.sh), the migrated schema (build/fairbeta migrate) and the
fairbeta-api binary on free ports. Nothing here is mocked."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

PROBLEM_PREFIX = "https://fairbeta.dev/problems/"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# FAIRBETA_BUILD picks another build of the binaries (make sanitize uses it)
BUILD = os.path.abspath(os.environ.get("FAIRBETA_BUILD") or os.path.join(ROOT, "build"))
PG_SH = os.path.join(ROOT, "tools", "pg.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A private cluster in a temporary directory, reached by Unix socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="fairbeta-pg-")
        self.url = None

    def start(self):
        out = subprocess.run([PG_SH, "start", self.dir], check=True, capture_output=True,
                             text=True, env=dict(os.environ, FAIRBETA_PG_FSYNC="off"))
        self.url = out.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self):
        subprocess.run([PG_SH, "stop", self.dir], check=False, capture_output=True)

    def psql(self, sql):
        """Runs SQL through psql (the test's own, separate connection)."""
        out = subprocess.run(["psql", self.url, "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def bulk_ledger(self, program_id, n):
        """n balanced funding transactions (cash +1, funding -1) written set-wise,
        each entry with its balance and version after it: a big ledger in
        seconds. (n calls of ledger_post() in one statement would be quadratic:
        each updates the same two account rows in one transaction.) The
        per-row commit check is skipped (session_replication_role = replica);
        every row balances by construction. Returns the cash and funding ids."""
        cash, funding = [self.psql("SELECT ledger_account('%s', '%s', NULL)" % (program_id, k))
                         for k in ("cash", "funding")]
        self.psql("""
            SET session_replication_role = replica;
            CREATE TEMP TABLE bulk_tx ON COMMIT DROP AS
              SELECT gen_random_uuid() AS id, g AS rn FROM generate_series(1, {n}) g;
            INSERT INTO ledger_transactions (id, program_id, kind, memo, currency, request_id)
              SELECT bulk_tx.id, '{p}', 'funding', 'bulk', programs.currency, 'bulk'
                FROM bulk_tx, programs WHERE programs.id = '{p}' ORDER BY rn;
            INSERT INTO ledger_entries (transaction_id, account_id, amount_minor,
                                        balance_after, account_version)
              SELECT b.id, x.acct, x.amt, b.rn, b.rn FROM bulk_tx b
              CROSS JOIN (VALUES (1, '{c}'::uuid, 1::bigint),
                                 (2, '{f}'::uuid, -1::bigint)) x(side, acct, amt)
              ORDER BY b.rn, x.side;
            UPDATE ledger_accounts SET balance = {n}, version = {n}
             WHERE id IN ('{c}', '{f}');
        """.format(n=n, p=program_id, c=cash, f=funding))
        return cash, funding

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # issue 15: replication and failover (Standby is defined further down)

    def kill(self):
        """SIGKILL to the postmaster (tools/pg.sh kill): a crash. Its backends
        notice and exit on their own; the socket and lock files stay behind."""
        subprocess.run([PG_SH, "kill", self.dir], check=False, capture_output=True)

    def standby(self, application_name=None, dir=None):
        """A started hot standby of this cluster (tools/pg.sh standby),
        streaming from it; see Standby."""
        sb = Standby(self, dir=dir)
        sb.start(application_name)
        return sb

    def current_lsn(self):
        return self.psql("SELECT pg_current_wal_lsn()")

    def wipe(self):
        """Stops it (if it runs) and removes its data, keeping the directory:
        a dead primary's directory made ready to hold a new standby."""
        self.stop()
        shutil.rmtree(os.path.join(self.dir, "data"), ignore_errors=True)


def stop_process(proc, sig=signal.SIGTERM, timeout=15):
    """Signals proc and returns its exit status; kills it (and raises
    TimeoutExpired) when it does not exit within timeout seconds."""
    if proc is None or proc.poll() is not None:
        if proc is not None:
            check_sanitizer_reports(proc.pid)
        return proc.returncode if proc else None
    proc.send_signal(sig)
    try:
        status = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    check_sanitizer_reports(proc.pid)
    return status


def run_admin(db_url, *args, stdin=None):
    env = dict(os.environ, FAIRBETA_DATABASE_URL=db_url)
    return subprocess.run([os.path.join(BUILD, "fairbeta"), *args], input=stdin,
                          capture_output=True, text=True, env=env)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Api:
    """One fairbeta-api process on free ports."""

    def __init__(self, db_url, **env):
        self.port = free_port()
        self.metrics_port = free_port()
        self.env = dict(os.environ,
                        FAIRBETA_DATABASE_URL=db_url,
                        FAIRBETA_LISTEN="127.0.0.1:%d" % self.port,
                        FAIRBETA_METRICS_LISTEN="127.0.0.1:%d" % self.metrics_port,
                        FAIRBETA_THREADS="2",
                        FAIRBETA_LOG_LEVEL="warn")
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="fairbeta-api-", suffix=".log", delete=False)

    def start(self, wait_ready=True):
        self.proc = subprocess.Popen([os.path.join(BUILD, "fairbeta-api")], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("fairbeta-api exited: %s" % self.logtext())
            try:
                r = self.request("GET", "/readyz" if wait_ready else "/healthz", timeout=2)
                if r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("fairbeta-api did not become ready: %s" % self.logtext())

    def logtext(self):
        with open(self.log.name) as f:
            return f.read()[-4000:]

    def stop(self, sig=signal.SIGTERM, timeout=15):
        return stop_process(self.proc, sig, timeout)

    def request(self, method, path, body=None, token=None, headers=None, raw=None,
                timeout=30, port=None, content_type="application/json"):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None and content_type and "Content-Type" not in hdrs:
            hdrs["Content-Type"] = content_type
        if token:
            hdrs["Authorization"] = "Bearer " + token
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()

    def metrics(self):
        return self.request("GET", "/metrics", port=self.metrics_port).body.decode()

    # conveniences shared by the suites

    def login(self, email, password):
        r = self.request("POST", "/v1/sessions", {"email": email, "password": password})
        assert r.status == 201, r
        return r.json["token"]

    def create_user(self, admin_token, role, password="a long enough password", email=None):
        email = email or "%s-%s@example.com" % (role, uuid.uuid4().hex[:12])
        r = self.request("POST", "/v1/users", {"email": email, "password": password,
                                               "display_name": role.title() + " User",
                                               "role": role}, token=admin_token)
        assert r.status == 201, r
        return r.json, self.login(email, password)


def create_users(api, admin_token, **roles):
    """Users made at once (Argon2id hashing runs in parallel on the server):
    create_users(api, token, staff="staff", a="artist") -> {name: (user, token)}."""
    import concurrent.futures
    names = list(roles)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(names))) as ex:
        made = list(ex.map(lambda n: api.create_user(admin_token, roles[n]), names))
    return dict(zip(names, made))


def assert_problem(r, status):
    """The RFC 9457 shape every error shares; returns the document."""
    assert r.status == status, r
    ctype = r.header("Content-Type") or ""
    assert ctype.split(";")[0].strip() == "application/problem+json", ctype
    p = r.json
    assert isinstance(p.get("type"), str) and p["type"].startswith(PROBLEM_PREFIX), p
    assert len(p["type"]) > len(PROBLEM_PREFIX), p
    assert isinstance(p.get("title"), str) and p["title"], p
    assert p.get("status") == status, p
    assert isinstance(p.get("detail"), str) and p["detail"], p
    assert p.get("request_id") == r.header("X-Request-Id"), (p, r.headers)
    return p


class Worker:
    """One fairbeta-worker process. Its JSON log lines (stderr) go to a file."""

    def __init__(self, db_url, **env):
        self.env = dict(os.environ,
                        FAIRBETA_DATABASE_URL=db_url,
                        FAIRBETA_LISTEN="127.0.0.1:%d" % free_port(),
                        FAIRBETA_METRICS_LISTEN="127.0.0.1:%d" % free_port(),
                        FAIRBETA_LOG_LEVEL="info")
        self.env.update({k: str(v) for k, v in env.items()})
        self.proc = None
        self.out = tempfile.NamedTemporaryFile(prefix="fairbeta-worker-", suffix=".out",
                                               delete=False)
        self.log = tempfile.NamedTemporaryFile(prefix="fairbeta-worker-", suffix=".log",
                                               delete=False)

    def start(self):
        self.proc = subprocess.Popen([os.path.join(BUILD, "fairbeta-worker")], env=self.env,
                                     stdout=self.out, stderr=self.log)
        time.sleep(0.1)
        if self.proc.poll() is not None:
            raise RuntimeError("fairbeta-worker exited: %s" % self.logtext())
        return self

    def logtext(self):
        with open(self.log.name) as f:
            return f.read()[-4000:]

    def loglines(self):
        with open(self.log.name) as f:
            return [line for line in f.read().splitlines() if line.strip()]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5):
        return stop_process(self.proc, sig, timeout)


class Workers:
    """Workers started with shared settings (start(n, **more)); stop_all()
    stops every one still running. For fixtures that start several."""

    def __init__(self, db_url, **env):
        self.db_url, self.env, self.started = db_url, env, []

    def start(self, n=1, **env):
        ws = [Worker(self.db_url, **dict(self.env, **env)).start() for _ in range(n)]
        self.started.extend(ws)
        return ws

    def stop_all(self):
        for w in self.started:
            if w.running():
                try:
                    w.stop(timeout=5)
                except subprocess.TimeoutExpired:
                    pass


# ---- notification sinks (issue 6): a real SMTP server and a real HTTP receiver ----

import email
import email.policy
import http.server
import threading


class SmtpSink:
    """A real SMTP server (Debian's python3-aiosmtpd) on 127.0.0.1 and a free
    port that keeps every message it is given: envelope sender, envelope
    recipients and the raw message bytes."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.url = "smtp://127.0.0.1:%d" % self.port
        self._lock = threading.Lock()
        self._messages = []
        self._controller = None

    def start(self):
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                content = envelope.original_content or envelope.content
                if isinstance(content, str):
                    content = content.encode("utf-8", "surrogateescape")
                with sink._lock:
                    sink._messages.append({
                        "at": time.monotonic(),
                        "mail_from": envelope.mail_from,
                        "rcpt_tos": list(envelope.rcpt_tos),
                        "raw": content,
                    })
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                      enable_SMTPUTF8=True)
        self._controller.start()
        return self

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self):
        """Every message so far, each with `msg` (parsed by Python's email
        package) added: [{"at", "mail_from", "rcpt_tos", "raw", "msg"}]."""
        with self._lock:
            got = list(self._messages)
        out = []
        for m in got:
            m = dict(m)
            m["msg"] = email.message_from_bytes(m["raw"], policy=email.policy.default)
            out.append(m)
        return out

    def count(self):
        with self._lock:
            return len(self._messages)

    def to(self, address, since=0):
        """Messages (from index `since`) whose envelope names this recipient."""
        address = address.lower()
        return [m for m in self.messages()[since:]
                if address in [r.lower() for r in m["rcpt_tos"]]]


class WebhookReceiver:
    """A real HTTP server (http.server in a thread) that records every request:
    {"at", "method", "path", "headers" (lower-case names), "body", "status"}.
    It answers the statuses in `plan` first (one per request), then `default`;
    `delay` seconds of sleep before each answer."""

    def __init__(self, port=None, plan=(), default=200, delay=0.0):
        self.port = port or free_port()
        self.url = "http://127.0.0.1:%d/hooks/fairbeta" % self.port
        self.plan = list(plan)
        self.default = default
        self.delay = delay
        self._lock = threading.Lock()
        self._requests = []
        self._server = None
        self._thread = None

    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    status = receiver.plan.pop(0) if receiver.plan else receiver.default
                    receiver._requests.append({
                        "at": time.monotonic(), "method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "status": status})
                    delay = receiver.delay
                if delay:
                    time.sleep(delay)
                out = b'{"ok": true}' if 200 <= status < 300 else b'{"ok": false}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass          # the sender went away (e.g. it was killed)

            do_POST = _handle
            do_PUT = _handle
            do_GET = _handle

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def requests(self):
        with self._lock:
            return list(self._requests)


# ---- sanitizers (issue 10): reports from the binaries `make sanitize` built ----
# tests/sanitize/run.sh sets FAIRBETA_SANITIZE_DIR and ASAN_OPTIONS/UBSAN_OPTIONS
# with log_path into it, so every process the tests start writes any report
# (ASan, UBSan, or LeakSanitizer's at exit) to <dir>/report.<pid>.
# stop_process() fails when the process it stopped wrote one; conftest.py fails
# the test during which any other appeared, and the session if any exists.

SANITIZE_DIR = os.environ.get("FAIRBETA_SANITIZE_DIR") or None
_sanitizer_seen = set()


def sanitizer_reports(pid=None):
    """Report files in FAIRBETA_SANITIZE_DIR (all, or those of one pid), sorted;
    [] when the binaries are not the sanitized build."""
    if not SANITIZE_DIR or not os.path.isdir(SANITIZE_DIR):
        return []
    names = sorted(os.listdir(SANITIZE_DIR))
    if pid is not None:
        names = [n for n in names if n.rsplit(".", 1)[-1] == str(pid)]
    return [os.path.join(SANITIZE_DIR, n) for n in names]


def sanitizer_text(paths):
    out = []
    for path in paths:
        with open(path, errors="replace") as f:
            out.append("==== %s ====\n%s" % (path, f.read()))
    return "\n".join(out)


def new_sanitizer_reports():
    """Report files not returned by an earlier call (or by a stop_process)."""
    fresh = [p for p in sanitizer_reports() if p not in _sanitizer_seen]
    _sanitizer_seen.update(fresh)
    return fresh


def check_sanitizer_reports(pid):
    """Raises AssertionError with the reports when process pid wrote any."""
    paths = sanitizer_reports(pid)
    if paths:
        _sanitizer_seen.update(paths)
        raise AssertionError("sanitizer report from pid %d:\n%s" % (pid, sanitizer_text(paths)))


# ---- issue 15: a hot standby, failover and PgBouncer ----

def _as_postgres(cmd):
    """cmd run as the `postgres` user when we are root (PostgreSQL and PgBouncer
    refuse root), as tools/pg.sh does; unchanged otherwise."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return list(cmd)


def _give_to_postgres(path):
    if os.geteuid() == 0:
        shutil.chown(path, "postgres")


class Standby(Postgres):
    """A hot standby of `primary` in its own directory (pg_basebackup -R,
    streaming replication, reached by its own Unix socket): url, psql(),
    promote(), kill(), stop(), destroy(). With application_name, the standby
    names itself so to the primary (primary_conninfo, set with ALTER SYSTEM and
    a reload), which synchronous_standby_names can then name. `dir` reuses a
    directory whose data/ is gone (a dead primary rebuilt as a standby)."""

    def __init__(self, primary, dir=None):
        self.primary = primary
        self.dir = dir or tempfile.mkdtemp(prefix="fairbeta-pg-standby-")
        self.url = None
        self.application_name = None

    def start(self, application_name=None):
        if os.path.exists(os.path.join(self.dir, "data")):
            raise RuntimeError("%s/data exists: a standby starts from an empty directory"
                               % self.dir)
        out = subprocess.run([PG_SH, "standby", self.primary.dir, self.dir], check=True,
                             capture_output=True, text=True,
                             env=dict(os.environ, FAIRBETA_PG_FSYNC="off"))
        self.url = out.stdout.strip().splitlines()[-1]
        if application_name:
            self.set_application_name(application_name)
        return self.url

    def set_application_name(self, name):
        conninfo = self.psql("SHOW primary_conninfo")
        conninfo = re.sub(r"\s*application_name=\S+", "", conninfo)
        conninfo += " application_name=%s" % name
        self.psql("ALTER SYSTEM SET primary_conninfo = '%s'" % conninfo.replace("'", "''"))
        self.psql("SELECT pg_reload_conf()")
        self.application_name = name

    def promote(self):
        subprocess.run([PG_SH, "promote", self.dir], check=True, capture_output=True)

    def start_again(self):
        """Starts it again after stop(): still a standby (standby.signal), it
        resumes streaming from where it was."""
        subprocess.run([PG_SH, "start", self.dir], check=True, capture_output=True,
                       env=dict(os.environ, FAIRBETA_PG_FSYNC="off"))

    def replay_lsn(self):
        return self.psql("SELECT pg_last_wal_replay_lsn()")

    def wait_replayed(self, lsn, timeout=30):
        """Waits until the standby has replayed the primary's WAL up to lsn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.psql("SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn" % lsn) == "t":
                return
            time.sleep(0.05)
        raise AssertionError("the standby did not replay up to %s in %ds" % (lsn, timeout))


def multi_host_url(*clusters, **params):
    """libpq's multi-host URL over clusters' Unix sockets, read-write sessions
    only: postgresql:///fairbeta?host=<a>,<b>&port=5432,5432&user=fairbeta&
    target_session_attrs=read-write."""
    q = dict({"host": ",".join(c.dir for c in clusters),
              "port": ",".join("5432" for _ in clusters),
              "user": "fairbeta", "target_session_attrs": "read-write"}, **params)
    return "postgresql:///fairbeta?" + "&".join("%s=%s" % kv for kv in q.items())


class PgBouncer:
    """Debian's pgbouncer in front of a Postgres, on a Unix socket in its own
    directory (port: a free number, which names the socket), run as the
    postgres user when we are root. pool_mode: session or transaction;
    db_params: more of the [databases] line (timezone=UTC, connect_query=...);
    more: other [pgbouncer] settings. url is the database URL through it;
    admin(sql) runs a command on its admin console (SHOW POOLS, ...)."""

    def __init__(self, pg, pool_mode="session", pool_size=40, db_params=None, **more):
        self.pg = pg
        self.db_params = dict(db_params or {})
        self.dir = tempfile.mkdtemp(prefix="fairbeta-pgbouncer-")
        self.port = free_port()
        self.pool_mode = pool_mode
        self.settings = dict({
            "listen_addr": "", "listen_port": self.port, "unix_socket_dir": self.dir,
            "auth_type": "trust", "auth_file": os.path.join(self.dir, "userlist.txt"),
            "admin_users": "fairbeta", "pool_mode": pool_mode,
            "default_pool_size": pool_size, "max_client_conn": 500,
            "logfile": os.path.join(self.dir, "pgbouncer.log"),
            "pidfile": os.path.join(self.dir, "pgbouncer.pid"),
        }, **more)
        self.url = "postgresql:///fairbeta?host=%s&port=%d&user=fairbeta" % (self.dir, self.port)
        self.proc = None
        self.out = open(os.path.join(self.dir, "pgbouncer.out"), "wb")   # gone with dir

    def start(self):
        db = "host=%s port=5432 dbname=fairbeta user=fairbeta" % self.pg.dir
        db += "".join(" %s=%s" % kv for kv in self.db_params.items())
        ini = ["[databases]", "fairbeta = " + db, "", "[pgbouncer]"]
        ini += ["%s = %s" % kv for kv in self.settings.items()]
        with open(os.path.join(self.dir, "pgbouncer.ini"), "w") as f:
            f.write("\n".join(ini) + "\n")
        with open(os.path.join(self.dir, "userlist.txt"), "w") as f:
            f.write('"fairbeta" ""\n')
        for name in ("", "pgbouncer.ini", "userlist.txt"):
            _give_to_postgres(os.path.join(self.dir, name))
        self.proc = subprocess.Popen(
            _as_postgres(["pgbouncer", os.path.join(self.dir, "pgbouncer.ini")]),
            stdout=self.out, stderr=subprocess.STDOUT, cwd="/")
        sock = os.path.join(self.dir, ".s.PGSQL.%d" % self.port)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("pgbouncer exited: %s" % self.logtext())
            if os.path.exists(sock):
                return self
            time.sleep(0.05)
        raise RuntimeError("pgbouncer did not listen: %s" % self.logtext())

    def logtext(self):
        text = ""
        for path in (self.out.name, self.settings["logfile"]):
            try:
                with open(path) as f:
                    text += f.read()[-4000:]
            except OSError:
                pass
        return text

    def admin(self, sql):
        """Rows of an admin console command, each a {column: text} dict."""
        out = subprocess.run(["psql", "-h", self.dir, "-p", str(self.port), "-U", "fairbeta",
                              "-d", "pgbouncer", "-XAq", "-F", "|", "-P", "footer=off",
                              "-c", sql], check=True, capture_output=True, text=True)
        lines = [line.split("|") for line in out.stdout.splitlines() if line]
        return [dict(zip(lines[0], row)) for row in lines[1:]]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()        # SIGTERM: immediate shutdown
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def destroy(self):
        self.stop()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)
