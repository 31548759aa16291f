"""tools/check_deps.py (`make check-deps`, issue 12): the include graph of the
modules in api/, lib/, workers/ and admin/ has no cycle, and no handler
includes another handler's header. First on the real tree, then the script
itself on small trees made in tmp_path. No server or database is needed, and
no fixture of conftest.py is used."""

import functools
import os
import subprocess
import sys
import textwrap

import pytest

from harness import ROOT

SCRIPT = os.path.join(ROOT, "tools", "check_deps.py")


def check(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=120)


@functools.lru_cache(maxsize=None)
def real():
    return check("--root", ROOT)


def lines_of(out, prefix):
    return [line for line in out.stdout.splitlines() if line.startswith(prefix)]


# The real tree ------------------------------------------------------------

def test_the_script_reads_the_real_tree():
    out = real()
    assert out.returncode in (0, 1), out.stderr
    summary = out.stdout.splitlines()[-1]
    assert summary.startswith("check-deps: "), out.stdout
    modules = int(summary.split()[1])
    assert modules >= 40, summary


def test_no_handler_includes_another_handlers_header():
    out = real()
    assert lines_of(out, "forbidden:") == []


def test_the_module_graph_has_no_cycle():
    out = real()
    assert lines_of(out, "cycle:") == [], out.stdout
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[-1].endswith(", no cycle, no handler imports a handler")


# The script on synthetic trees ---------------------------------------------

def tree(tmp_path, files):
    """Writes {relative path: C text} under tmp_path; returns its path."""
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return str(tmp_path)


def run(root, *args, include_dirs=("lib", "api", "workers", "admin")):
    extra = ["--include-dirs", *include_dirs] if include_dirs is not None else []
    return check("--root", root, *extra, *args)


def test_a_tree_without_a_cycle_passes(tmp_path):
    root = tree(tmp_path, {
        "lib/fb.h": "#include <stdio.h>\n",
        "lib/db.h": '#include "fb.h"\n',
        "lib/db.c": '#include "db.h"\n#include "fb.h"\n',
        "api/http.h": '#include "db.h"\n',
        "api/http.c": '#include "http.h"\n#include "db.h"\n',
        "api/main.c": '#include "http.h"\n#include "fb.h"\n',
    })
    out = run(root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [
        "check-deps: 4 modules, 4 edges, no cycle, no handler imports a handler"]


def test_a_two_module_cycle_fails_and_is_named(tmp_path):
    root = tree(tmp_path, {
        "api/http.h": "",
        "api/http.c": '#include "http.h"\n#include "idem.h"\n',
        "api/idem.h": "",
        "api/idem.c": '#include "idem.h"\n#include "http.h"\n',
        "lib/fb.h": "",
    })
    out = run(root)
    assert out.returncode == 1, out.stdout
    assert lines_of(out, "cycle:") == ["cycle: api/http -> api/idem -> api/http"]
    assert "strongly connected (2 modules): api/http api/idem" in out.stdout
    assert out.stdout.splitlines()[-1].endswith("FAILED")


def test_every_elementary_cycle_is_named(tmp_path):
    # a -> b -> c -> a and a -> c -> a (header to header, and .c to header)
    root = tree(tmp_path, {
        "lib/a.h": '#include "b.h"\n',
        "lib/a.c": '#include "a.h"\n#include "c.h"\n',
        "lib/b.h": '#include "c.h"\n',
        "lib/c.h": "",
        "lib/c.c": '#include "c.h"\n#include "a.h"\n',
        "lib/d.h": '#include "a.h"\n',
    })
    out = run(root)
    assert out.returncode == 1
    assert lines_of(out, "cycle:") == ["cycle: lib/a -> lib/c -> lib/a",
                                       "cycle: lib/a -> lib/b -> lib/c -> lib/a"]
    assert "strongly connected (3 modules): lib/a lib/b lib/c" in out.stdout
    assert "lib/d" not in "\n".join(lines_of(out, "strongly connected"))


def test_a_bare_name_resolves_in_the_includers_dir_then_in_include_dir_order(tmp_path):
    # util.h is in lib/ and api/: api's files get api/util.h, the others the
    # first -I directory's; so only the api/ pair forms a cycle
    files = {
        "lib/util.h": "",
        "api/util.h": '#include "user.h"\n',
        "api/user.h": "",
        "api/user.c": '#include "util.h"\n',
        "workers/job.c": '#include "util.h"\n',
    }
    out = run(tree(tmp_path, files), "--edges")
    edges = lines_of(out, "edge:")
    assert "edge: api/user -> api/util (api/user.c:1)" in edges
    assert "edge: workers/job -> lib/util (workers/job.c:1)" in edges
    assert lines_of(out, "cycle:") == ["cycle: api/user -> api/util -> api/user"]

    out = run(str(tmp_path), "--edges", include_dirs=("api", "lib"))
    assert "edge: workers/job -> api/util (workers/job.c:1)" in lines_of(out, "edge:")


def test_the_include_dirs_come_from_the_makefile(tmp_path):
    root = tree(tmp_path, {
        "Makefile": "BUILD ?= build\nCFLAGS ?= -O2\n"
                    "CFLAGS += -std=c11 -Iapi \\\n   -Ilib -I$(BUILD)/gen "
                    "-I$(shell pg_config --includedir)\n",
        "lib/util.h": "",
        "api/util.h": "",
        "workers/job.c": '#include "util.h"\n#include "gen.h"\n',
        "build/gen/gen.h": "",
    })
    out = run(root, "--edges", include_dirs=None)
    assert out.returncode == 0, out.stdout + out.stderr
    assert lines_of(out, "edge:") == ["edge: workers/job -> api/util (workers/job.c:1)"]
    assert out.stderr == ""  # gen.h is found (in build/gen) and is no module


def test_system_commented_and_unknown_includes_are_no_edges(tmp_path):
    root = tree(tmp_path, {
        "lib/a.h": "",
        "lib/b.h": "",
        "lib/b.c": """\
            #include <a.h>
            // #include "a.h"
            /* #include "a.h"
               #include "a.h" */
            #if 0
            #include "a.h"
            #endif
            #include "nowhere.h"
            """,
    })
    out = run(root, "--edges")
    assert out.returncode == 0, out.stdout
    assert lines_of(out, "edge:") == []
    assert '"nowhere.h"' in out.stderr


def test_a_handler_including_another_handlers_header_fails(tmp_path):
    root = tree(tmp_path, {
        "api/handlers.h": "",
        "api/h_programs.h": "",
        "api/h_programs.c": '#include "handlers.h"\n#include "h_programs.h"\n',
        "api/h_terms.c": '#include "handlers.h"\n#include "h_programs.h"\n',
    })
    out = run(root)
    assert out.returncode == 1, out.stdout
    assert lines_of(out, "forbidden:") == [
        'forbidden: api/h_terms.c:2 includes "h_programs.h": a handler may include no '
        "h_*.h but its own h_terms.h"]
    assert lines_of(out, "cycle:") == []
    assert out.stdout.splitlines()[-1].endswith(
        "no cycle, 1 handler include of another handler's header: FAILED")


def test_a_handler_may_include_its_own_header_and_shared_ones(tmp_path):
    root = tree(tmp_path, {
        "api/handlers.h": "",
        "api/program.h": "",
        "api/program.c": '#include "program.h"\n',
        "api/h_programs.h": "",
        "api/h_programs.c": '#include "h_programs.h"\n#include "program.h"\n',
        "api/h_terms.c": '#include "handlers.h"\n#include "program.h"\n',
    })
    out = run(root)
    assert out.returncode == 0, out.stdout
    assert lines_of(out, "forbidden:") == []


def test_calls_into_another_handler_are_reported_but_do_not_fail(tmp_path):
    root = tree(tmp_path, {
        "api/handlers.h": "",
        "api/h_programs.c": """\
            #include "handlers.h"

            static int
            local_only(int x)
            {
            	return x;
            }

            bool
            program_step_changeable(int step)
            {
            	return local_only(step) > 0;
            }
            """,
        "api/h_terms.c": """\
            #include "handlers.h"

            static int
            local_only(int x)
            {
            	return -x;
            }

            void
            h_terms_put(int step)
            {
            	/* program_step_changeable(step) in a comment is no call */
            	if (program_step_changeable(step) && local_only(step))
            		return;
            }
            """,
    })
    out = run(root)
    assert out.returncode == 0, out.stdout
    assert lines_of(out, "info:") == [
        "info: api/h_terms.c calls program_step_changeable() defined in api/h_programs.c "
        "(line 13)"]
