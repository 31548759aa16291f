"""The three tests that prove the server's design: the event loop never waits
on the database, a database outage is survived without a restart, and SIGTERM
drains in-flight work. Each runs against its own PostgreSQL cluster and server,
because each one breaks something on purpose."""

import http.client
import subprocess
import threading
import time
import uuid

import pytest

from harness import Api, Postgres, run_admin

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def world():
    db = Postgres()
    servers = []
    try:
        db.start()
        assert run_admin(db.url, "migrate").returncode == 0
        email = "admin-%s@example.com" % uuid.uuid4().hex[:8]
        out = run_admin(db.url, "admin", "create-user", "--email", email, "--role", "admin",
                        "--display-name", "Admin", stdin=PASSWORD + "\n")
        assert out.returncode == 0, out.stderr

        def new_api(**env):
            s = Api(db.url, **env).start()
            servers.append(s)
            return s

        yield {"db": db, "email": email, "new_api": new_api}
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception:
                pass
        db.destroy()


def hold_lock(db, table, seconds):
    """From a separate connection, holds an exclusive lock on table; returns
    once the lock is granted. The returned process ends when it is released."""
    proc = subprocess.Popen(["psql", db.url, "-XqAt", "-c",
                             "BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%s); COMMIT;"
                             % (table, seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        held = db.psql("SELECT count(*) FROM pg_locks WHERE relation = '%s'::regclass"
                       " AND mode = 'AccessExclusiveLock' AND granted" % table)
        if held == "1":
            return proc
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("lock on %s was never granted" % table)


def run_in_threads(n, fn):
    results = [None] * n

    def work(i):
        try:
            results[i] = fn(i)
        except Exception as e:  # recorded, then asserted on
            results[i] = e

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def test_loop_answers_healthz_while_sign_ins_wait_on_a_locked_table(world):
    api = world["new_api"]()
    email = world["email"]
    locker = hold_lock(world["db"], "users", 3)
    threads, results = run_in_threads(
        8, lambda i: api.request("POST", "/v1/sessions", {"email": email, "password": PASSWORD}))
    time.sleep(0.3)  # the sign-ins are now queued behind the lock

    # Both loops stay responsive: several fresh connections, spread by the kernel.
    for _ in range(10):
        r = api.request("GET", "/healthz", timeout=1)
        assert r.status == 200
        pending = [t for t in threads if t.is_alive()]
        assert len(pending) == 8, "healthz was answered only after sign-ins finished"

    locker.wait(timeout=10)
    for t in threads:
        t.join(timeout=20)
    assert all(getattr(r, "status", None) == 201 for r in results), results
    assert len({r.json["token"] for r in results}) == 8


def test_database_outage_gives_503_then_service_resumes_without_restart(world):
    db = world["db"]
    api = world["new_api"]()
    token = api.login(world["email"], PASSWORD)
    assert api.request("GET", "/v1/me", token=token).status == 200

    db.stop()
    try:
        statuses = set()
        deadline = time.time() + 5
        while time.time() < deadline and 503 not in statuses:
            statuses.add(api.request("GET", "/v1/me", token=token, timeout=10).status)
        assert 503 in statuses, statuses
        assert statuses <= {200, 503}, statuses
        r = api.request("GET", "/v1/me", token=token, timeout=10)
        assert r.status == 503
        assert r.header("Retry-After")
        assert r.header("Content-Type") == "application/problem+json"
        ready = api.request("GET", "/readyz", timeout=10)
        assert ready.status == 503
        assert ready.json["database"] == "unreachable"
        assert api.request("GET", "/healthz").status == 200
        assert api.proc.poll() is None, "the server died with its database"
    finally:
        db.start()

    deadline = time.time() + 15
    status = None
    while time.time() < deadline:
        status = api.request("GET", "/v1/me", token=token, timeout=10).status
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200, "service did not resume after the database came back"
    # every loop reconnects on its own backoff: the one that answers readyz may
    # come back a little later than the one that answered /v1/me
    ready = None
    while time.time() < deadline + 15:
        ready = api.request("GET", "/readyz").status
        if ready == 200:
            break
        time.sleep(0.1)
    assert ready == 200
    assert api.proc.poll() is None


def test_sigterm_finishes_in_flight_requests_refuses_new_ones_and_exits_zero(world):
    api = world["new_api"]()
    token = api.login(world["email"], PASSWORD)
    locker = hold_lock(world["db"], "users", 2)
    threads, results = run_in_threads(
        4, lambda i: api.request("GET", "/v1/me", token=token, timeout=20))
    time.sleep(0.3)
    assert all(t.is_alive() for t in threads)

    api.proc.send_signal(15)
    refused = False
    deadline = time.time() + 3
    while time.time() < deadline and not refused:
        try:
            api.request("GET", "/healthz", timeout=1)
            time.sleep(0.02)
        except ConnectionRefusedError:
            refused = True
        except (ConnectionResetError, http.client.RemoteDisconnected):
            pass  # accepted by the kernel just before the listener closed
    assert refused, "new connections were still accepted after SIGTERM"

    locker.wait(timeout=10)
    for t in threads:
        t.join(timeout=20)
    assert [getattr(r, "status", r) for r in results] == [200] * 4
    assert api.proc.wait(timeout=15) == 0


def test_client_that_leaves_mid_request_costs_nothing_and_breaks_nothing(world):
    """A request whose client disconnects while it waits on the database is
    finished and freed without touching the gone connection."""
    import socket

    api = world["new_api"]()
    token = api.login(world["email"], PASSWORD)
    locker = hold_lock(world["db"], "users", 1)
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", api.port))
        s.sendall(b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                  token.encode() + b"\r\n\r\n")
        s.close()
    locker.wait(timeout=10)

    # The scrape itself is in flight on loop 0, where the metrics listener lives.
    idle = 'fairbeta_http_requests_in_flight{loop="0"} 1\nfairbeta_http_requests_in_flight{loop="1"} 0'
    deadline = time.time() + 5
    while time.time() < deadline and idle not in api.metrics():
        time.sleep(0.05)
    metrics = api.metrics()
    assert idle in metrics
    assert 'fairbeta_http_requests_total{route="/v1/me",method="GET",status="200"} 5' in metrics
    assert api.request("GET", "/v1/me", token=token).status == 200
    assert api.proc.poll() is None
