"""lib/db's pool against the suite's PostgreSQL (issue 11): db-tests
(tests/db/test_db.c) drives it on a real libevent loop through one-flight
transactions, failures in the middle of a pipeline, steps as barriers,
serialization retries, reconnects, replans after a migration, the guard,
streams that pause, and the bound on prepared statements, and checks rows,
statuses, SQLSTATEs and the pool's counters. It works in a schema of its
own (db_tests), dropped when it ends, so it shares the session's database."""

import os
import re
import subprocess

from harness import BUILD, check_sanitizer_reports

# The program's checks number about 200; far fewer means scenarios were skipped.
MIN_CHECKS = 180


def test_db_pool_against_postgresql(pg):
    exe = os.path.join(BUILD, "db-tests")
    assert os.path.exists(exe), "%s is missing: make BUILD=%s %s" % (exe, BUILD, exe)
    proc = subprocess.Popen([exe, pg.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("db-tests hung:\n" + out + err)
    check_sanitizer_reports(proc.pid)
    output = "exit status %d\n%s%s" % (proc.returncode, out, err)
    m = re.search(r"^db: (\d+) passed, (\d+) failed$", out, re.M)
    assert m, output
    assert (m.group(2), proc.returncode) == ("0", 0), output
    assert int(m.group(1)) >= MIN_CHECKS, output
