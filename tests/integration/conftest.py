"""Session-wide fixtures: one PostgreSQL cluster, one migrated database, one
API server and a first admin made by the command-line tool, as a newcomer
would. Everything is torn down at the end, also when a test fails."""

import uuid

import pytest

from harness import (Api, Postgres, new_sanitizer_reports, run_admin, sanitizer_reports,
                     sanitizer_text)

ADMIN_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def pg():
    db = Postgres()
    try:
        db.start()
        out = run_admin(db.url, "migrate")
        assert out.returncode == 0, out.stderr
        yield db
    finally:
        db.destroy()


@pytest.fixture(scope="session")
def api(pg):
    server = Api(pg.url)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def admin(pg, api):
    email = "admin-%s@example.com" % uuid.uuid4().hex[:8]
    out = run_admin(pg.url, "admin", "create-user", "--email", email, "--role", "admin",
                    "--display-name", "First Admin", stdin=ADMIN_PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    return {"email": email, "token": api.login(email, ADMIN_PASSWORD)}


# Each module defines `people` ({name: (user, token)}); these pick from it.

@pytest.fixture(scope="module")
def staff(people):
    return people["staff"][1]


@pytest.fixture(scope="module")
def f1(people):
    return people["f1"][1]


@pytest.fixture(scope="module")
def f2(people):
    return people["f2"][1]


# ---- sanitizers (issue 10; see the end of harness.py) ----

@pytest.fixture(autouse=True)
def no_sanitizer_report():
    """Fails the test during which a sanitized process wrote a report (at
    teardown), or, for one written between tests (a fixture's process), the
    next test (at setup)."""
    fresh = new_sanitizer_reports()
    if fresh:
        pytest.fail("sanitizer report(s) since the previous test:\n" + sanitizer_text(fresh),
                    pytrace=False)
    yield
    fresh = new_sanitizer_reports()
    if fresh:
        pytest.fail("sanitizer report(s) during this test:\n" + sanitizer_text(fresh),
                    pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """Belt and braces: any report at the end fails the session (each was
    printed with the test it failed)."""
    paths = sanitizer_reports()
    if paths:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_sep("=", "%d sanitizer report(s)" % len(paths), red=True)
            for path in paths:
                tr.write_line(path)
        session.exitstatus = 1
