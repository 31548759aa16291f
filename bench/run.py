"""make bench: throughput and latency of the server against a real, private
PostgreSQL, driven by wrk from a separate process on loopback.

Figures printed: requests/s and p50/p99 latency for a route that never touches
the database (/healthz) and for one that does one authenticated query
(/v1/me), and their ratio: how much of the loop's capacity a database round
trip costs; postings per second (POST funding, each with its own
Idempotency-Key: claim, post, store the reply); and a streamed ledger export
of 1,000,000 entries: rows/s, MB/s and the server's resident memory before
and at its peak. Nothing here asserts a number; the output is the
measurement."""

import http.client
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import Api, Postgres, run_admin  # noqa: E402

DURATION = os.environ.get("BENCH_SECONDS", "5")
CONNS = os.environ.get("BENCH_CONNECTIONS", "32")
PASSWORD = "bench password 123"


BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
EXPORT_TRANSACTIONS = 500000


def wrk(url, token=None, script=None, env=None):
    cmd = ["wrk", "-t2", "-c" + CONNS, "-d" + DURATION + "s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", "Authorization: Bearer " + token]
    if script:
        cmd[1:1] = ["-s", os.path.join(BENCH_DIR, script)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ, **(env or {}))).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat.get("50", "?"), lat.get("99", "?"), int(errors.group(1)) if errors else 0


def main():
    db = Postgres()
    api = None
    try:
        db.start()
        assert run_admin(db.url, "migrate").returncode == 0
        run_admin(db.url, "admin", "create-user", "--email", "bench@example.com", "--role",
                  "admin", "--display-name", "Bench", stdin=PASSWORD + "\n")
        api = Api(db.url, FAIRBETA_LOG_LEVEL="error").start()
        token = api.login("bench@example.com", PASSWORD)
        base = "http://127.0.0.1:%d" % api.port
        print("fairbeta bench: wrk -t2 -c%s -d%ss, %s loops, pool %s per loop" %
              (CONNS, DURATION, api.env["FAIRBETA_THREADS"], api.env.get("FAIRBETA_DB_POOL", "4")))
        h = wrk(base + "/healthz")
        m = wrk(base + "/v1/me", token)
        for name, r in (("GET /healthz (no database)", h), ("GET /v1/me (1 query)", m)):
            print("  %-28s %10.0f req/s   p50 %8s   p99 %8s   non-2xx %d" % (name, *r))
        print("  ratio /v1/me : /healthz       %10.2f" % (m[0] / h[0]))
        finance = api.create_user(token, "finance")[1]
        program = api.request("POST", "/v1/programs", {
            "slug": "bench", "name": "Bench", "currency": "EUR", "capacity": 10,
            "review_sla_hours": 24}, token=token).json["id"]
        f = wrk(base + "/", script="funding.lua",
                env={"BENCH_PROGRAM": program, "BENCH_TOKEN": finance})
        print("  %-28s %10.0f req/s   p50 %8s   p99 %8s   non-2xx %d"
              % ("POST funding (1 posting)", *f))
        print("  check-ledger after it:       %s"
              % run_admin(db.url, "admin", "check-ledger").stdout.strip())
        export(db, api, token, finance)
    finally:
        if api:
            api.stop()
        db.destroy()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def export(db, api, token, finance):
    """A million entries (Postgres.bulk_ledger, as the export test loads them),
    then one streamed CSV export read as fast as possible."""
    program = api.request("POST", "/v1/programs", {
        "slug": "bench-export", "name": "Bench export", "currency": "EUR", "capacity": 10,
        "review_sla_hours": 24}, token=token).json["id"]
    db.bulk_ledger(program, EXPORT_TRANSACTIONS)
    before = rss_kib(api.proc.pid)
    peak, size, rows = before, 0, 0
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=120)
    conn.request("GET", "/v1/exports/ledger?format=csv&program_id=" + program,
                 headers={"Authorization": "Bearer " + finance})
    resp = conn.getresponse()
    while True:
        chunk = resp.read(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        rows += chunk.count(b"\n")
        peak = max(peak, rss_kib(api.proc.pid))
    secs = time.monotonic() - t0
    conn.close()
    print("  %-28s %10.0f rows/s  %6.1f MB/s  %d rows in %.2f s" %
          ("GET /v1/exports/ledger (csv)", (rows - 1) / secs, size / secs / 1e6, rows - 1, secs))
    print("  server RSS                   %10.1f MiB before, %.1f MiB at the peak" %
          (before / 1024, peak / 1024))


if __name__ == "__main__":
    main()
