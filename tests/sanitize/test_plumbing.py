"""The sanitizer plumbing itself, run by tests/sanitize/run.sh before the
suites: a sanitized process that overflows the heap, overflows a signed int
or leaks leaves a report, and harness.stop_process() turns it into a failure
that names it; a clean process passes. Without this, a typo in an option
would make `make sanitize` pass whatever the binaries do."""

import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import harness  # noqa: E402

PROGRAM = r"""
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *volatile keep;

int
main(int argc, char **argv)
{
	sigset_t set;
	int sig;
	volatile int n = INT_MAX;

	keep = malloc(8);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	puts("ready");
	fflush(stdout);
	if (argc > 1 && strcmp(argv[1], "overflow") == 0)
		keep[8] = 1;
	if (argc > 1 && strcmp(argv[1], "ub") == 0)
		n += argc;
	sigwait(&set, &sig);
	if (argc > 1 && strcmp(argv[1], "leak") == 0)
		keep = NULL;
	else
		free(keep);
	return n == INT_MAX ? 0 : 3;
}
"""

pytestmark = pytest.mark.skipif(not os.environ.get("FAIRBETA_SANITIZE_DIR"),
                                reason="run by tests/sanitize/run.sh (make sanitize)")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    d = tmp_path_factory.mktemp("plumbing")
    src, exe = d / "p.c", d / "p"
    src.write_text(PROGRAM)
    flags = os.environ.get("SAN_FLAGS", "-fsanitize=address,undefined").split()
    subprocess.run([os.environ.get("SAN_CC", "clang"), *flags, "-O0", "-g", "-o", str(exe), str(src)], check=True)
    return str(exe)


@pytest.fixture
def reports(tmp_path, monkeypatch):
    """This test's own report directory, with run.sh's options pointed at it."""
    monkeypatch.setattr(harness, "SANITIZE_DIR", str(tmp_path))
    env = dict(os.environ)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        assert "log_path=" in env.get(var, ""), var
        env[var] = re.sub(r"log_path=[^:]*", "log_path=%s/report" % tmp_path, env[var])
    return env


def run(program, env, what):
    """Starts the program; returns once SIGTERM is blocked (it said "ready")."""
    proc = subprocess.Popen([program, what], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    if what in ("overflow", "ub"):
        proc.wait()           # these stop at the error, before waiting for SIGTERM
    return proc


def test_clean_process_passes(program, reports):
    proc = run(program, reports, "clean")
    assert harness.stop_process(proc) == 0
    assert harness.sanitizer_reports() == []


@pytest.mark.parametrize("what,says", [
    ("overflow", "AddressSanitizer: heap-buffer-overflow"),
    ("ub", "runtime error: signed integer overflow"),
    ("leak", "LeakSanitizer: detected memory leaks"),
])
def test_report_fails_the_stop(program, reports, what, says):
    proc = run(program, reports, what)
    with pytest.raises(AssertionError) as e:
        harness.stop_process(proc)
    assert "sanitizer report from pid %d" % proc.pid in str(e.value)
    assert says in str(e.value)
    assert proc.returncode != 0
    assert [os.path.basename(p).rsplit(".", 1)[1] for p in harness.sanitizer_reports()] \
        == [str(proc.pid)]
