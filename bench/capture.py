"""The statements one API request runs, read back from PostgreSQL's own log,
so that an anchor replays exactly what the server sends and cannot drift
from the C sources (nothing here is copied from them).

capture(db, send) turns on log_statement = 'all' (ALTER SYSTEM and
pg_reload_conf()), logs a marker through psql, calls send() (one request,
made while nothing else runs), logs a second marker, turns logging off and
parses the server log between the two markers. It reads both forms
PostgreSQL writes: "statement: <sql>" (simple protocol) and
"execute <name>: <sql>" (extended protocol: unnamed or named prepared
statements, pipeline mode), each with its "DETAIL:  parameters: $1 = '...'"
line; BEGIN and COMMIT are statements like any other. Statements of other
sessions between the markers (the markers' own psql, anything in the
background) are kept only if they come from a backend that is not psql's.

pgbench_script() turns the statements into a pgbench script (each $k of
statement i becomes :p<i>_<k>, given with -D p<i>_<k>=value) and
literal_sql() into plain SQL for psql."""

import os
import re
import time
import uuid

# log_line_prefix '%m [%p] ' (PostgreSQL's default, which tools/pg.sh keeps)
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[(\d+)\] ([A-Z]+):  (.*)$")
STATEMENT = re.compile(r"^(statement|execute [^\s:]+): (.*)$", re.S)
PARAMETER = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")
# what a $k may be: a string or a quoted identifier is skipped, not rewritten
TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\d+)")


class Statement:
    def __init__(self, pid, form, sql):
        self.pid, self.form, self.sql, self.params = pid, form, sql, {}

    def __repr__(self):
        return "<%s: %s %s>" % (self.form, self.sql[:60], self.params)


def log_path(db):
    return os.path.join(db.dir, "postgres.log")


def set_logging(db, on):
    db.psql("ALTER SYSTEM SET log_statement = 'all'" if on
            else "ALTER SYSTEM RESET log_statement")
    db.psql("SELECT pg_reload_conf()")
    # backends reread the configuration when the postmaster signals them
    time.sleep(0.5)


def capture(db, send, tries=3):
    """(statements, send()'s result) of one request; retries when a backend
    had not taken the new setting in time and nothing was logged."""
    set_logging(db, True)
    try:
        for _ in range(tries):
            mark = "bench-mark-%s" % uuid.uuid4().hex
            offset = os.path.getsize(log_path(db))
            db.psql("SELECT '%s-start'" % mark)
            result = send()
            db.psql("SELECT '%s-end'" % mark)
            with open(log_path(db), errors="replace") as f:
                f.seek(offset)
                stmts = between(parse(f.read()), mark)
            if stmts:
                return stmts, result
            time.sleep(1)
        raise RuntimeError("no statement of the request was logged")
    finally:
        set_logging(db, False)


def parse(text):
    """Statements in log order, each with the parameters of its DETAIL line."""
    entries = []
    for line in text.splitlines():
        m = ENTRY.match(line)
        if m:
            entries.append([m.group(1), m.group(2), m.group(3)])
        elif line.startswith("\t") and entries:          # a statement's next line
            entries[-1][2] += "\n" + line[1:]
    stmts, last = [], {}
    for pid, level, text in entries:
        m = STATEMENT.match(text)
        if level == "LOG" and m:
            last[pid] = Statement(pid, m.group(1), m.group(2))
            stmts.append(last[pid])
        elif level == "DETAIL" and text.startswith("parameters: ") and pid in last:
            last[pid].params = {int(k): None if v == "NULL" else v[1:-1].replace("''", "'")
                                for k, v in PARAMETER.findall(text)}
    return stmts


def between(stmts, mark):
    """The statements after the start marker and before the end marker,
    without the markers' sessions."""
    start = next((i for i, s in enumerate(stmts) if mark + "-start" in s.sql), None)
    end = next((i for i, s in enumerate(stmts) if mark + "-end" in s.sql), None)
    if start is None or end is None:
        return []
    psql = {stmts[start].pid, stmts[end].pid}
    return [s for s in stmts[start + 1:end] if s.pid not in psql]


def rewrite(sql, value_of):
    """sql with each $k outside quotes replaced by value_of(k)."""
    return TOKEN.sub(lambda m: value_of(int(m.group(1))) if m.group(1) else m.group(0), sql)


def pgbench_script(stmts):
    """(script, defines): one pgbench transaction running every statement in
    order; defines are the -D arguments. A NULL parameter becomes the literal
    NULL (pgbench variables cannot be NULL)."""
    lines, defines, names = [], [], set()
    for i, s in enumerate(stmts, 1):
        def var(k, i=i, s=s):
            if k not in s.params:
                raise RuntimeError("statement %d uses $%d but the log gave no value" % (i, k))
            if s.params[k] is None:
                return "NULL"
            name = "p%d_%d" % (i, k)
            if name not in names:
                names.add(name)
                defines.extend(["-D", "%s=%s" % (name, s.params[k])])
            return ":" + name
        sql = rewrite(s.sql, var)
        stray = set(re.findall(r"(?<!:):(?!:)(\w+)", sql)) - names
        if stray:
            raise RuntimeError("statement %d has %s, which pgbench would take for a variable"
                               % (i, ", ".join(":" + v for v in sorted(stray))))
        lines.append(sql.rstrip().rstrip(";") + ";")
    return "\n".join(lines) + "\n", defines


def literal(value):
    return "NULL" if value is None else "'%s'" % value.replace("'", "''")


def literal_sql(stmt, replace=None):
    """stmt's SQL with its parameters as literals; replace maps a parameter
    value to another (the same query for another program)."""
    replace = replace or {}
    return rewrite(stmt.sql, lambda k: literal(replace.get(stmt.params[k], stmt.params[k])))


def describe(stmts):
    """'4 statements: execute <unnamed> x4' and the like."""
    forms = {}
    for s in stmts:
        forms[s.form] = forms.get(s.form, 0) + 1
    return "%d statement%s (%s)" % (len(stmts), "" if len(stmts) == 1 else "s",
                                    ", ".join("%s x%d" % kv for kv in forms.items()))
