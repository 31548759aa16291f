"""make bench: throughput and latency of the server against a real, private
PostgreSQL, driven by wrk from a separate process on loopback.

Figures printed: requests/s and p50/p99 latency for a route that never touches
the database (/healthz) and for one that does one authenticated query
(/v1/me), and their ratio: how much of the loop's capacity a database round
trip costs. Nothing here asserts a number; the output is the measurement."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import Api, Postgres, run_admin  # noqa: E402

DURATION = os.environ.get("BENCH_SECONDS", "5")
CONNS = os.environ.get("BENCH_CONNECTIONS", "32")
PASSWORD = "bench password 123"


def wrk(url, token=None):
    cmd = ["wrk", "-t2", "-c" + CONNS, "-d" + DURATION + "s", "--latency", url]
    if token:
        cmd[1:1] = ["-H", "Authorization: Bearer " + token]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
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
    finally:
        if api:
            api.stop()
        db.destroy()


if __name__ == "__main__":
    main()
