"""README.md stays true where that can be checked mechanically: the settings
table against lib/config.c, the layout against the tree, the `make` targets
it names against the Makefile, its links, and the license named in README,
LICENSE and api/openapi.yaml. No server is needed."""

import glob
import hashlib
import os
import re
import subprocess

import pytest
import yaml

from harness import ROOT


def read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


README = read("README.md")


def section(title):
    """The text of the README section `## title`, up to the next `## `."""
    m = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % re.escape(title), README, re.M | re.S)
    assert m, "README has no section '## %s'" % title
    return m.group(1)


# Settings ---------------------------------------------------------------

def config_table():
    """{name: default} from lib/config.c's cfg_table, the one list of settings."""
    src = read("lib", "config.c")
    body = re.search(r"cfg_table\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
    assert body, "lib/config.c: no cfg_table"
    rows = re.findall(r'\{\s*"(FAIRBETA_[A-Z0-9_]+)",\s*\w+,\s*S\(\w+\),\s*"([^"]*)"',
                      body.group(1))
    assert len(rows) >= 10, rows
    return dict(rows)


def readme_settings():
    """{name: default cell} from the README's configuration table."""
    out = {}
    for line in section("Configuration").splitlines():
        if not line.startswith("| `FAIRBETA_"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 3, line
        for name in re.findall(r"FAIRBETA_[A-Z0-9_]+", cells[0]):
            assert name not in out, "README lists %s twice" % name
            out[name] = cells[1]
    return out


def test_every_setting_is_documented_and_every_documented_setting_exists():
    code, doc = config_table(), readme_settings()
    assert sorted(set(code) - set(doc)) == [], "in lib/config.c but not in README's table"
    assert sorted(set(doc) - set(code)) == [], "in README's table but not in lib/config.c"


def test_documented_defaults_are_the_real_ones():
    code, doc = config_table(), readme_settings()
    wrong = {}
    for name, default in code.items():
        cell = doc.get(name, "")
        ok = ("(none" in cell) if default == "" else ("`%s`" % default in cell)
        if not ok:
            wrong[name] = (default, cell)
    assert wrong == {}, "README's default differs from lib/config.c (real, documented)"


def test_every_fairbeta_variable_the_readme_names_is_read_somewhere():
    """Outside the settings table, README may name only variables that the
    tools or the test harness really read (e.g. FAIRBETA_BUILD)."""
    readers = "".join(read(p) for p in ("tests/integration/harness.py",
                                         "tools/run.sh", "tools/pg.sh"))
    known = set(config_table()) | set(re.findall(r"FAIRBETA_[A-Z0-9_]+", readers))
    named = set(re.findall(r"FAIRBETA_[A-Z0-9_]+", README))
    assert sorted(named - known) == []


# Layout -----------------------------------------------------------------

def layout():
    """[(dir, text)] from the code block of the README's Layout section."""
    m = re.search(r"```\n(.*?)```", section("Layout"), re.S)
    assert m, "the Layout section has no code block"
    entries = []
    for line in m.group(1).splitlines():
        head = re.match(r"^(\S+/)\s+(.*)$", line)
        if head:
            entries.append([head.group(1), head.group(2)])
        else:
            assert line.startswith(" ") and entries, "stray layout line: %r" % line
            entries[-1][1] += " " + line.strip()
    assert entries
    return [(d, t) for d, t in entries]


def items(text):
    """The single-word items of a layout entry: what is left between commas
    and colons once backticks and parenthesised remarks are gone."""
    text = text.replace("`", "")
    while True:
        stripped = re.sub(r"\([^()]*\)", "", text)
        if stripped == text:
            break
        text = stripped
    out = set()
    for part in re.split(r"[,:]", text):
        part = re.sub(r"^and\s+", "", part.strip())
        if re.fullmatch(r"[\w.-]+", part):
            out.add(part)
    return out


def project_files():
    """Every file of the project: tracked, or new and not ignored."""
    try:
        out = subprocess.run(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard"],
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip("not a git checkout: %s" % e)
    return [p for p in out.splitlines() if os.path.exists(os.path.join(ROOT, p))]


def test_every_directory_and_file_the_layout_names_exists():
    missing = []
    for d, text in layout():
        if not os.path.isdir(os.path.join(ROOT, d)):
            missing.append(d)
        bare = text.replace("`", " ")
        for name in re.findall(r"(?<![\w/<>.-])([A-Za-z0-9_][\w.-]*\.(?:c|h|sh|py|lua|md|sql|yaml|mk))\b",
                               bare):
            if not os.path.exists(os.path.join(ROOT, d, name)):
                missing.append(d + name)
        for sub in re.findall(r"(?<![\w/.-])([\w-]+)/(?=[\s,)]|$)", bare):
            if not os.path.isdir(os.path.join(ROOT, d, sub)):
                missing.append(d + sub + "/")
    assert missing == []


def test_every_directory_of_the_project_is_in_the_layout():
    dirs = [d for d, _ in layout()]
    unlisted = sorted({os.path.dirname(p) for p in project_files()
                       if os.path.dirname(p) and not any(p.startswith(d) for d in dirs)})
    assert unlisted == []


@pytest.mark.parametrize("d", ["api", "lib", "workers", "admin"])
def test_every_module_is_in_the_layout(d):
    entry = dict(layout()).get(d + "/")
    assert entry is not None, "no %s/ entry in the layout" % d
    listed = items(entry)
    modules = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, d, "*.[ch]"))}
    assert modules
    unlisted = []
    for f in sorted(modules):
        stem = f[:-2]
        if stem.startswith("h_"):  # handlers: "one h_<resource>.c per resource: ..."
            ok = "h_<resource>.c" in entry and stem[2:] in listed
        else:
            ok = stem in listed or f in listed
        if not ok:
            unlisted.append(f)
    assert unlisted == [], "add them to README's Layout (%s/)" % d


# Commands ---------------------------------------------------------------

def make_targets():
    src = read("Makefile")
    for inc in re.findall(r"^-?include\s+(.+)$", src, re.M):
        for pattern in inc.split():
            for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
                with open(path, encoding="utf-8") as f:
                    src += "\n" + f.read()
    targets = set()
    for m in re.finditer(r"^([\w./$()-][^:=\n]*?)\s*::?(?!=)", src, re.M):
        targets.update(m.group(1).split())
    return targets


def test_every_make_target_the_readme_names_exists():
    named = set()
    for m in re.finditer(r"\bmake((?:\s+[A-Z_]+=\S+)*)\s+([a-z][\w-]*)", README):
        named.add(m.group(2))
    assert {"run", "test", "bench"} <= named
    assert sorted(named - make_targets()) == []


def test_relative_links_in_the_readme_resolve():
    broken = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README):
        if re.match(r"^[a-z]+:", target):
            continue
        if not os.path.exists(os.path.join(ROOT, target)):
            broken.append(target)
    assert broken == []


def test_make_run_database_lines_use_the_file_run_sh_writes():
    """README reaches make run's database through the file tools/run.sh
    writes, wherever the cluster lives, never through a guessed path."""
    run_sh = read("tools", "run.sh")
    assert re.search(r'urlfile="\$state/database-url"', run_sh)
    assert "tools/pg.sh url" not in README
    psql = [line for line in README.splitlines() if re.match(r"^\s*psql\b", line)]
    check = [line for line in README.splitlines() if "admin check-ledger" in line
             and line.lstrip().startswith("FAIRBETA_DATABASE_URL=")]
    assert psql and check
    for line in psql + check:
        assert '"$(cat .fairbeta/database-url)"' in line, line


# License ----------------------------------------------------------------

# The texts this project could carry, by SPDX id: how the text begins, and the
# SHA-256 of the complete, unmodified text as the license steward publishes it.
LICENSES = {
    "Apache-2.0": (r"^\s*Apache License\s+Version 2\.0, January 2004\s",
                   "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"),
}


def license_id():
    with open(os.path.join(ROOT, "LICENSE"), "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    for spdx, (start, sha) in LICENSES.items():
        if re.match(start, text):
            assert hashlib.sha256(raw).hexdigest() == sha, \
                "LICENSE is not the complete, unmodified %s text" % spdx
            return spdx
    raise AssertionError("LICENSE holds no license this test knows")


def test_readme_names_the_license_in_license():
    spdx = license_id()
    ids = re.findall(r"^SPDX-License-Identifier:\s*(\S+)\s*$", README, re.M)
    assert ids == [spdx]
    assert "LICENSE" in section("License")


def test_openapi_names_the_license_in_license():
    spdx = license_id()
    doc = yaml.safe_load(read("api", "openapi.yaml"))
    lic = doc["info"].get("license")
    assert lic, "api/openapi.yaml: no info.license"
    assert lic.get("name")
    if doc["openapi"].startswith("3.0"):
        assert lic.get("url"), "OpenAPI 3.0 names a license by url"
    else:
        assert lic.get("identifier") == spdx
