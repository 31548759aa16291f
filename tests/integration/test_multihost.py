"""A multi-host database URL whose first host misbehaves (issue 15, failover).

libpq tries a URL's hosts in order within one connection attempt, but gives
up on all of them when the first one fails in some ways: a server that
accepts and hangs up during start-up, or one that accepts and never answers
(libpq leaves an asynchronous attempt's time to its caller). Before lib/db
rotated the hosts and put a deadline on each attempt, such a first host kept
fairbeta-api and fairbeta-worker from ever reaching the healthy second one,
retrying in silence. Each test puts a real misbehaving listener first and
the session's PostgreSQL (reached by TCP) second, and waits for the API to be
ready and serve a write, and for the worker to do its work."""

import os
import socket
import subprocess
import threading
import time

import pytest

from harness import PG_SH, Api, Postgres, Workers, create_users, free_port, run_admin
from test_programs import make_program

PASSWORD = "a long enough password"


class BadHost:
    """A TCP listener that accepts and then closes at once ("close") or holds
    the connection without a word ("silent")."""

    def __init__(self, mode):
        self.mode, self.held = mode, []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.mode == "close":
                c.close()
            else:
                self.held.append(c)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture(scope="module")
def tcp_pg():
    """A private cluster that also listens on 127.0.0.1, as a deployment's does."""
    port = free_port()
    db = Postgres()
    os.environ["FAIRBETA_PG_TCP_PORT"] = str(port)
    try:
        db.start()
    finally:
        del os.environ["FAIRBETA_PG_TCP_PORT"]
    assert run_admin(db.url, "migrate").returncode == 0
    db.tcp_port = port
    yield db
    db.destroy()


def wait_until(fn, timeout):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(0.1)


@pytest.mark.parametrize("mode", ["close", "silent"])
def test_a_misbehaving_first_host_does_not_hide_the_second(tcp_pg, mode):
    bad = BadHost(mode)
    url = "postgresql://fairbeta@127.0.0.1:%d,127.0.0.1:%d/fairbeta" % (bad.port,
                                                                        tcp_pg.tcp_port)
    # a short attempt deadline, so that the silent host costs a second, not five
    api = Api(url, FAIRBETA_DB_CONNECT_TIMEOUT_MS="1000")
    try:
        api.start()          # waits for /readyz: the database answers
        admin_email = "mh-%s-%d@example.com" % (mode, time.time_ns())
        out = run_admin(tcp_pg.url, "admin", "create-user", "--email", admin_email, "--role",
                        "admin", "--display-name", "Admin", stdin=PASSWORD + "\n")
        assert out.returncode == 0, out.stderr
        token = api.login(admin_email, PASSWORD)
        people = create_users(api, token, staff="staff")
        p = make_program(api, people["staff"][1])
        assert p["status"] == "draft"
        assert bad.accepted >= 1, "the first host was never tried"
        log = api.logtext()
        assert "attempt 1" in log, log[-2000:]
    finally:
        api.stop()
        bad.close()


def test_the_worker_gets_past_a_silent_first_host(tcp_pg):
    bad = BadHost("silent")
    url = "postgresql://fairbeta@127.0.0.1:%d,127.0.0.1:%d/fairbeta" % (bad.port,
                                                                        tcp_pg.tcp_port)
    # an event the worker must fan out: it can only do so through the second host
    tcp_pg.psql("INSERT INTO outbox (event_id, event_type, entity_type, entity_id, payload,"
                " request_id) VALUES (gen_random_uuid(), 'terms.published', 'program',"
                " 'x', '{}', 'test-multihost')")
    ws = Workers(url, FAIRBETA_DB_CONNECT_TIMEOUT_MS="1000", FAIRBETA_WORKER_TICK_MS="200")
    try:
        ws.start(1)
        assert wait_until(lambda: tcp_pg.psql(
            "SELECT count(*) FROM outbox WHERE request_id = 'test-multihost'"
            " AND dispatched_at IS NOT NULL") == "1", 30)
        assert bad.accepted >= 1
    finally:
        ws.stop_all()
        bad.close()
