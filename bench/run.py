"""make bench: every performance figure of the server beside an anchor that
the bench starts itself, on the same machine and in the same run, and the
ratio (fairbeta / anchor unless said otherwise). A figure and its anchor
use the same client count: wrk -t2 -c$BENCH_CONNECTIONS, pgbench
-c$BENCH_CONNECTIONS -j2 -M prepared, $BENCH_SECONDS each (pgbench's
counted after a first second in which its new connections warm up, as
the API's pooled ones already are). One private
PostgreSQL cluster (tests/integration/harness.py) serves the API and the
pgbench anchors; pgbench's own tables live in a database of their own.

  P1   GET /v1/submissions/{id} as its artist, req/s
       / pgbench -S (select-only) tps
  P1'  the same figure / the statements the server ran for one such request,
       captured from PostgreSQL's log (bench/capture.py), replayed by pgbench
  P1b  GET /v1/me, req/s / pgbench -S tps
  P2   POST /v1/programs/{id}/funding, a fresh Idempotency-Key each
       (bench/funding.lua), all into one program, req/s / pgbench's TPC-B-like
       default script at scale 1, tps: one branch row that every transaction
       updates, the same contention as one program's two accounts; the ratio
       to scale 10 (ten branches) is printed under it; then
       `fairbeta admin check-ledger`
  P3   GET /healthz, req/s / nginx `return 200` with as many workers as the
       API has loops (bench/anchors.py)
  P4   POST /v1/programs/{id}/queue/claim p99 latency with 1,000,000
       pending submissions / the same with 10,000 (bench/load.py loads both),
       sequential claims from one client, alternating between the queues
  P5   a streamed CSV export of 1,000,000 ledger entries, seconds / psql
       \\copy of the export's own SELECT (captured like P1'); and the API's
       peak resident memory meanwhile
  P6   the API's resident memory growth per 10,000 idle keep-alive
       connections (each sent one GET /healthz) / the same for nginx
       (bench/idle.py)

Nothing here asserts a number; the output is the measurement. A figure
whose run saw non-2xx answers or errors gets a WARNING line: it is not
valid. A figure that cannot be measured at all (the server died, say) is
reported as FAILED, the others still run, and the run exits with 1."""

import http.client
import math
import os
import re
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(BENCH_DIR, "..", "tests", "integration"))
from harness import Api, Postgres, create_users, run_admin  # noqa: E402
from test_programs import make_program  # noqa: E402
from test_submissions import enrolled_program, submitted  # noqa: E402

import anchors  # noqa: E402
import capture  # noqa: E402
import idle  # noqa: E402
import load  # noqa: E402

DURATION = int(os.environ.get("BENCH_SECONDS", "5"))
CONNS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
PASSWORD = "bench password 123"

QUEUE_SMALL, QUEUE_BIG = 10000, 1000000
CLAIMS = 2000                       # per queue, at most; within CLAIM_BUDGET_S
CLAIM_BUDGET_S = 6 * DURATION
EXPORT_TRANSACTIONS = 500000        # two entries each
PROBE_TRANSACTIONS = 100            # the small ledger P5's statements are captured on
IDLE_CONNECTIONS = 10000

TARGETS = {
    "P1": "this step >= 0.5, goal >= 0.9",
    "P1'": "this step >= 0.9, goal >= 0.95",
    "P1b": "this step >= 0.6, goal >= 0.9",
    "P2": "this step >= 0.7, goal >= 0.9",
    "P3": "goal >= 0.8",
    "P4": "this step <= 1.2, goal <= 1.2",
    "P5": "this step <= 1.2, goal <= 1.2",
    "P5m": "this step <= 32 MB, goal <= 32 MB",
    "P6": "this step <= 40 MB, goal <= 10 MB",
}
warnings = []


# ---- output ----

def row(tag, label, value, anchor=None, anchor_value="", ratio=None):
    print("%-4s %-34s %12s   anchor %-32s %12s   ratio %5s   (%s)" % (
        tag, label, value, anchor or "(none)", anchor_value,
        "-" if ratio is None else "%.2f" % ratio, TARGETS[tag]))


def detail(text):
    print("       " + text)


def warn(tag, what):
    warnings.append("%s: %s" % (tag, what))
    print("       WARNING: %s; the figure is not valid" % what)


def over(a, b):
    return a / b if b else None


# ---- the load generators ----

def wrk(url, token=None, script=None, env=None):
    """One wrk run: {rps, p50, p99, non2xx, errors}."""
    cmd = ["wrk", "-t2", "-c%d" % CONNS, "-d%ds" % DURATION, "--latency", url]
    if token:
        cmd[1:1] = ["-H", "Authorization: Bearer " + token]
    if script:
        cmd[1:1] = ["-s", os.path.join(BENCH_DIR, script)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ, **(env or {}))).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": lat.get("50", "?"), "p99": lat.get("99", "?"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": sum(map(int, errors.groups())) if errors else 0}


def run_text(x):
    if "tps" in x:
        return ("latency average %.2f ms, %d transactions, %d failed (%.0f tps over the "
                "whole run)" % (
                    x["latency_ms"], x["transactions"], x["failed"], x["whole_tps"]))
    return "p50 %s p99 %s, non-2xx %d, socket errors %d" % (
        x["p50"], x["p99"], x["non2xx"], x["errors"])


def run_details(tag, r, a=None):
    """A line on the figure's run r and the anchor's run a (wrk or pgbench),
    and a warning for each that saw errors."""
    runs = [(who, x) for who, x in (("fairbeta", r), ("anchor", a)) if x is not None]
    detail("; ".join("%s %s" % (who, run_text(x)) for who, x in runs))
    for who, x in runs:
        if x.get("non2xx") or x.get("errors"):
            warn(tag, "%s had %d non-2xx answers and %d socket errors"
                 % (who, x["non2xx"], x["errors"]))
        if x.get("failed"):
            warn(tag, "%s had %d failed transactions" % (who, x["failed"]))
        if "tps" in x and not x["tps"]:
            warn(tag, "%s completed no transaction after its first second" % who)


# ---- set-up ----

def setup(db, api):
    """Users, programs and data every figure needs; {name: value}, with
    w["took"] the seconds each part of the loading took."""
    run_admin(db.url, "admin", "create-user", "--email", "bench@example.com", "--role",
              "admin", "--display-name", "Bench", stdin=PASSWORD + "\n")
    admin = api.login("bench@example.com", PASSWORD)
    people = create_users(api, admin, staff="staff", artist="artist", finance="finance")
    w = {"admin": admin, "staff": people["staff"][1], "artist": people["artist"][1],
         "finance": people["finance"][1], "took": {}}
    program, _ = enrolled_program(api, w["staff"], [w["artist"]])
    w["submission"] = submitted(api, w["artist"], program["id"])["id"]
    t = time.monotonic()
    for n in (QUEUE_SMALL, QUEUE_BIG):
        queue, (enrollment,) = enrolled_program(api, w["staff"], [w["artist"]])
        load.pending_submissions(db, queue["id"], enrollment["id"], n)
        w["queue", n] = queue["id"]
    t = took(w, "submissions", t)
    w["funding"] = make_program(api, admin)["id"]
    w["export"] = make_program(api, admin)["id"]
    db.bulk_ledger(w["export"], EXPORT_TRANSACTIONS)
    w["probe"] = make_program(api, admin)["id"]
    db.bulk_ledger(w["probe"], PROBE_TRANSACTIONS)
    t = took(w, "ledger", t)
    w["pgbench"] = anchors.pgbench_init(db)
    w["pgbench_hot"] = anchors.pgbench_init(db, "pgbench_hot", 1)
    t = took(w, "pgbench -i", t)
    load.settle(db)
    took(w, "vacuum analyze", t)
    return w


def took(w, what, since):
    now = time.monotonic()
    w["took"][what] = now - since
    return now


def header(db, api):
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f
                      if line.startswith("model name")), "?")
    print("fairbeta bench: %d cores (%s), Linux %s, PostgreSQL %s (fsync off), "
          "load average %.2f at the start" % (
              os.cpu_count(), model, os.uname().release, db.psql("SHOW server_version"),
              os.getloadavg()[0]))
    print("  wrk -t2 -c%d and pgbench -c%d -j2 -M prepared, %d s per run (pgbench's after a "
          "first second that warms its connections up); API %s loops, pool %s per loop; "
          "server, PostgreSQL and clients share the machine" % (
              CONNS, CONNS, DURATION, api.env["FAIRBETA_THREADS"],
              api.env.get("FAIRBETA_DB_POOL", "4")))


# ---- the figures ----

def p1(db, api, w):
    base = "http://127.0.0.1:%d" % api.port
    path = "/v1/submissions/" + w["submission"]
    r = wrk(base + path, token=w["artist"])
    a = anchors.pgbench(w["pgbench"], CONNS, DURATION, "-S")
    row("P1", "GET /v1/submissions/{id} (artist)", "%.0f req/s" % r["rps"],
        "pgbench -S -M prepared", "%.0f tps" % a["tps"], over(r["rps"], a["tps"]))
    run_details("P1", r, a)

    stmts, resp = capture.capture(db, lambda: api.request("GET", path, token=w["artist"]))
    if resp.status != 200:
        warn("P1'", "the captured request answered %d" % resp.status)
    script, defines = capture.pgbench_script(stmts)
    c = anchors.pgbench_script(db.url, CONNS, DURATION, script, defines)
    row("P1'", "GET /v1/submissions/{id} (P1 run)", "%.0f req/s" % r["rps"],
        "its statements via pgbench", "%.0f tps" % c["tps"], over(r["rps"], c["tps"]))
    detail("captured %s of one GET from the PostgreSQL log" % capture.describe(stmts))
    run_details("P1'", None, c)

    m = wrk(base + "/v1/me", token=w["admin"])
    row("P1b", "GET /v1/me", "%.0f req/s" % m["rps"], "pgbench -S (the P1 run)",
        "%.0f tps" % a["tps"], over(m["rps"], a["tps"]))
    run_details("P1b", m)


def p2(db, api, w):
    f = wrk("http://127.0.0.1:%d/" % api.port, script="funding.lua",
            env={"BENCH_PROGRAM": w["funding"], "BENCH_TOKEN": w["finance"]})
    # the same contention: every transaction updates the one branch row, as
    # every funding updates the program's two accounts
    a = anchors.pgbench(w["pgbench_hot"], CONNS, DURATION)
    row("P2", "POST funding (1 posting each)", "%.0f req/s" % f["rps"],
        "pgbench TPC-B-like, 1 branch", "%.0f tps" % a["tps"], over(f["rps"], a["tps"]))
    run_details("P2", f, a)
    a10 = anchors.pgbench(w["pgbench"], CONNS, DURATION)
    detail("against TPC-B-like at -s %d (%d branches: a tenth of the contention): %.0f tps,"
           " ratio %.2f; %s" % (anchors.PGBENCH_SCALE, anchors.PGBENCH_SCALE, a10["tps"],
                                over(f["rps"], a10["tps"]) or 0, run_text(a10)))
    check = run_admin(db.url, "admin", "check-ledger")
    detail("check-ledger after it: %s" % (check.stdout.strip() or check.stderr.strip()))
    if check.returncode != 0:
        warn("P2", "check-ledger failed")


def p3(api, nginx):
    h = wrk("http://127.0.0.1:%d/healthz" % api.port)
    n = wrk("http://127.0.0.1:%d/" % nginx.port)
    row("P3", "GET /healthz (no database)", "%.0f req/s" % h["rps"],
        "nginx return 200, %d workers" % nginx.workers, "%.0f req/s" % n["rps"],
        over(h["rps"], n["rps"]))
    run_details("P3", h, n)


def percentile(values, q):
    """The nearest-rank percentile (q = 0.99 for p99)."""
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def p4(db, api, w):
    """Claims, one at a time, alternating between the two queues, each
    timed; every claim takes a submission out of its queue for the lease."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    hdrs = {"Authorization": "Bearer " + w["staff"]}
    times = {QUEUE_SMALL: [], QUEUE_BIG: []}
    bad = {QUEUE_SMALL: 0, QUEUE_BIG: 0}
    before = {n: load.pending(db, w["queue", n]) for n in times}
    deadline = time.monotonic() + CLAIM_BUDGET_S
    while len(times[QUEUE_BIG]) < CLAIMS and time.monotonic() < deadline:
        for n in (QUEUE_SMALL, QUEUE_BIG):
            t0 = time.perf_counter()
            conn.request("POST", "/v1/programs/%s/queue/claim" % w["queue", n], headers=hdrs)
            resp = conn.getresponse()
            resp.read()
            times[n].append(time.perf_counter() - t0)
            bad[n] += resp.status != 200
    conn.close()
    after = {n: load.pending(db, w["queue", n]) for n in times}
    big, small = (percentile(times[n], 0.99) * 1000 for n in (QUEUE_BIG, QUEUE_SMALL))
    row("P4", "claim p99, %s pending" % format(QUEUE_BIG, ","), "%.2f ms" % big,
        "itself, at %s pending" % format(QUEUE_SMALL, ","), "%.2f ms" % small, over(big, small))
    for n in (QUEUE_SMALL, QUEUE_BIG):
        detail("%s pending: %d claims, p50 %.2f ms p99 %.2f ms, non-200 %d; pending %d before, "
               "%d after" % (format(n, ","), len(times[n]), percentile(times[n], 0.5) * 1000,
                             percentile(times[n], 0.99) * 1000, bad[n], before[n], after[n]))
        if bad[n]:
            warn("P4", "%d claims at %d pending did not answer 200" % (bad[n], n))


def export_statement(db, stmts, rows):
    """The captured statement that returned the export's rows: the one
    SELECT whose row count (run again, rolled back) is the CSV's."""
    found = []
    for s in stmts:
        if not re.match(r"\s*(SELECT|WITH)\b", s.sql, re.I):
            continue
        try:
            n = db.psql("BEGIN; SELECT count(*) FROM (%s) q; ROLLBACK"
                        % capture.literal_sql(s))
        except subprocess.CalledProcessError:
            continue
        if n.strip() == str(rows):
            found.append(s)
    if len(found) != 1:
        raise RuntimeError("%d captured statements return the export's %d rows: %s"
                           % (len(found), rows, stmts))
    return found[0]


def stream_export(api, program, token):
    """One streamed CSV export read as fast as possible: (seconds, rows,
    bytes, RSS before, sampled peak RSS) with RSS in KiB."""
    pid = api.proc.pid
    before = peak = idle.rss_kib(pid)
    size = rows = 0
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
    conn.request("GET", "/v1/exports/ledger?format=csv&program_id=" + program,
                 headers={"Authorization": "Bearer " + token})
    resp = conn.getresponse()
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        rows += chunk.count(b"\n")
        peak = max(peak, idle.rss_kib(pid))
    secs = time.monotonic() - t0
    conn.close()
    return secs, rows - 1, size, before, peak, resp.status


def psql_copy(db, sql):
    """psql \\copy of sql to /dev/null, as CSV with a header: (seconds, rows)."""
    t0 = time.monotonic()
    out = subprocess.run(["psql", db.url, "-X", "-v", "ON_ERROR_STOP=1", "-c",
                          "\\copy (%s) TO '/dev/null' WITH (FORMAT csv, HEADER)"
                          % sql.replace("\n", " ")],
                         check=True, capture_output=True, text=True)
    secs = time.monotonic() - t0
    return secs, int(re.search(r"COPY (\d+)", out.stdout).group(1))


def p5(db, api, w):
    path = "/v1/exports/ledger?format=csv&program_id="
    stmts, probe = capture.capture(
        db, lambda: api.request("GET", path + w["probe"], token=w["finance"]))
    select = export_statement(db, stmts, probe.body.count(b"\n") - 1)
    secs, rows, size, before, peak, status = stream_export(api, w["export"], w["finance"])
    csecs, crows = psql_copy(db, capture.literal_sql(select, {w["probe"]: w["export"]}))
    row("P5", "export of %s entries (csv)" % format(rows, ","), "%.2f s" % secs,
        "psql \\copy of its SELECT", "%.2f s" % csecs, over(secs, csecs))
    detail("fairbeta %.0f rows/s, %.1f MB/s; anchor %d rows; the SELECT is 1 of the %s "
           "captured from one export" % (rows / secs, size / secs / 1e6, crows,
                                         capture.describe(stmts)))
    if status != 200 or rows != crows:
        warn("P5", "the export answered %d with %d rows, psql copied %d" % (status, rows, crows))
    row("P5m", "API peak RSS in the export", "%.1f MiB" % (peak / 1024))
    detail("%.1f MiB before the export, sampled after every MiB read" % (before / 1024))


def idle_growth(tag, port, pids):
    """RSS growth (KiB, summed over pids()) per IDLE_CONNECTIONS idle connections."""
    before = sum(idle.rss_kib(p) for p in pids())
    socks, not_ok, failed = idle.open_idle(port, IDLE_CONNECTIONS)
    time.sleep(0.5)
    after = sum(idle.rss_kib(p) for p in pids())
    alive = idle.still_open(socks)
    idle.close_all(socks)
    if not_ok or failed or alive != IDLE_CONNECTIONS:
        warn(tag, "%d answers not 200, %d connections failed, %d of %d still open" % (
            not_ok, failed, alive, IDLE_CONNECTIONS))
    return (after - before) * IDLE_CONNECTIONS / max(1, len(socks)), before, after, alive


def p6(api, nginx):
    g, b, a, n = idle_growth("P6", api.port, lambda: [api.proc.pid])
    ng, nb, na, nn = idle_growth("P6", nginx.port, nginx.pids)
    row("P6", "RSS / 10,000 idle keep-alive conns", "%.1f MiB" % (g / 1024),
        "nginx, %d workers" % nginx.workers, "%.1f MiB" % (ng / 1024), over(g, ng))
    detail("fairbeta %.1f -> %.1f MiB with %d open; nginx (master and workers) "
           "%.1f -> %.1f MiB with %d open" % (b / 1024, a / 1024, n, nb / 1024, na / 1024, nn))


def measured(tags, figure, args, api):
    """Runs one figure; on an error prints it (and the server's log if the
    server died) and returns False, so that the other figures still run."""
    try:
        figure(*args)
        return True
    except Exception as e:  # noqa: BLE001 - reported, and the run fails at the end
        print("%-4s FAILED: %s: %s" % (tags.split(",")[0], type(e).__name__, e))
        if api.proc.poll() is not None and "server died" not in warnings:
            warnings.append("server died")
            print("       the server exited (%s); its log ends:\n%s"
                  % (api.proc.returncode, api.logtext()))
        return False


def main():
    nofile = idle.raise_nofile()
    db = Postgres()
    api = nginx = None
    try:
        db.start()
        assert run_admin(db.url, "migrate").returncode == 0
        # idle connections stay open for P6 whatever its pace
        api = Api(db.url, FAIRBETA_LOG_LEVEL="error", FAIRBETA_HTTP_TIMEOUT_S=300).start()
        header(db, api)
        w = setup(db, api)
        print("  data: 1 submission (P1), 10,000 and 1,000,000 pending submissions (P4), "
              "1,000,000 ledger entries (P5), pgbench -i -s %d and -s 1; %s" % (
                  anchors.PGBENCH_SCALE, ", ".join("%s %.0f s" % kv for kv in w["took"].items())))
        nginx = anchors.Nginx(int(api.env["FAIRBETA_THREADS"]), IDLE_CONNECTIONS + 1000,
                              nofile).start()
        failed = [tags for tags, figure, args in (
            ("P1, P1', P1b", p1, (db, api, w)), ("P2", p2, (db, api, w)),
            ("P3", p3, (api, nginx)), ("P4", p4, (db, api, w)), ("P5", p5, (db, api, w)),
            ("P6", p6, (api, nginx))) if not measured(tags, figure, args, api)]
        if warnings:
            print("WARNING: %d figure run(s) not valid: %s" % (len(warnings), "; ".join(warnings)))
        if failed:
            print("FAILED: %s could not be measured" % ", ".join(failed))
            sys.exit(1)
    finally:
        if nginx:
            nginx.stop()
        if api:
            api.stop()
        db.destroy()


if __name__ == "__main__":
    main()
