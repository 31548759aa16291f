"""Ledger exports (API.md, "Ledger, payouts, exports"): GET /v1/exports/ledger
streams every entry of a program with chunked encoding, as RFC 4180 CSV with
a header row (CRLF line ends, quotes doubled) or as JSON lines; the same
rows either way; the filters and the problems; finance only. And a ledger of
1,000,000 entries streams through a raw connection in constant memory: the
server's resident set, sampled before, while and after the client reads,
stays within 64 MiB of where it started.

The million entries are written with SQL in one set-based statement per
table (500,000 balanced funding transactions of cash +1 / funding -1, each
entry with its balance and account version after it, and the two account
balances to match), with session_replication_role = replica to skip the
per-row commit trigger that re-sums each transaction. Calling ledger_post()
500,000 times in one statement is quadratic (every call updates the same two
account rows in one transaction: 50,000 calls took over five minutes), far
beyond this test's time limit."""

import collections
import contextlib
import csv
import http.client
import io
import json
import os
import signal
import time
import urllib.parse

import pytest

from harness import Api, Postgres, run_admin
from test_ledger import (account_id, adjusted, approve_new, enroll, funded, reversed_tx,
                         statement, transactions)
from test_programs import assert_invalid, assert_slug, make_program, open_program

HEADER = ["entry_id", "transaction_id", "created_at", "program_id", "transaction_kind", "memo",
          "account_id", "account_kind", "owner_id", "amount_minor", "balance_after_minor",
          "currency"]
BULK_TRANSACTIONS = 500000
MIB = 1024 * 1024
MEMO = 'line "two", three; caf\u00e9'
NEWLINE_MEMO = 'line one\r\nline "two"'


def export(api, token, **params):
    return api.request("GET", "/v1/exports/ledger?" + urllib.parse.urlencode(params),
                       token=token, timeout=120)


def is_chunked(r):
    return (r.header("Transfer-Encoding") or "").lower() == "chunked"


def expected_rows(txs):
    """The rows an export of these transactions holds, without entry_id, as text."""
    rows = []
    for t in txs:
        for e in t["entries"]:
            rows.append([t["id"], t["created_at"], t["program_id"], t["kind"], t["memo"],
                         e["account_id"], e["account_kind"], e["owner_id"] or "",
                         str(e["amount_minor"]), str(e["balance_after_minor"]), t["currency"]])
    return sorted(rows)


@pytest.fixture(scope="module")
def people(api, admin):
    return {role: api.create_user(admin["token"], role)
            for role in ("staff", "finance", "artist")}


@pytest.fixture(scope="module")
def fin(people):
    return people["finance"][1]


@pytest.fixture(scope="module")
def small(api, pg, people, fin):
    """A program with funding (an awkward memo), an accrual, an adjustment, its
    reversal and an adjustment whose memo has a line break in it."""
    staff, (artist, artist_token) = people["staff"][1], people["artist"]
    p = open_program(api, staff)
    pid = p["id"]
    enroll(api, staff, pid, [artist_token])
    funded(api, fin, pid, 50000, MEMO)
    approve_new(api, staff, artist_token, pid)
    adj = adjusted(api, fin, pid, [(account_id(pg, pid, "expense"), 120),
                                   (account_id(pg, pid, "cash"), -120)], "fee, \"bank\"")
    reversed_tx(api, fin, adj["id"], "undo")
    # a memo over two lines (the API takes one-line memos; the database does not mind)
    pg.psql("SELECT ledger_post(gen_random_uuid(), '%s', 'adjustment', E'%s', ARRAY[%s, %s],"
            " ARRAY[7, -7]::bigint[], NULL, 'export-test')"
            % (pid, NEWLINE_MEMO.replace("\r", "\\r").replace("\n", "\\n"),
               "'%s'::uuid" % account_id(pg, pid, "expense"),
               "'%s'::uuid" % account_id(pg, pid, "cash")))
    return {"program": p, "txs": transactions(api, fin, pid), "artist": artist,
            "artist_token": artist_token}


def test_csv_export_holds_every_entry(api, small, fin):
    pid = small["program"]["id"]
    r = export(api, fin, program_id=pid, format="csv")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/csv; charset=utf-8", r.headers
    assert is_chunked(r), r.headers
    text = r.body.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == HEADER
    assert len(rows) == 1 + 10                      # 5 transactions of 2 entries
    assert sorted(row[1:] for row in rows[1:]) == expected_rows(small["txs"])
    assert len({row[0] for row in rows[1:]}) == 10
    # RFC 4180: CRLF after every record, quotes doubled, line breaks inside quotes
    assert text.endswith("\r\n")
    assert text.count("\r\n") == len(rows) + 2     # two records hold a line break
    assert '"line ""two"", three; caf\u00e9"' in text
    assert '"line one\r\nline ""two"""' in text
    assert '"fee, ""bank"""' in text
    # the artist's statement names the same entries
    lines = statement(api, small["artist_token"], program_id=pid)
    payable_rows = {row[0]: row for row in rows[1:] if row[7] == "payable"}
    assert {str(x["entry_id"]) for x in lines} == set(payable_rows)


def test_csv_is_the_default_format(api, small, fin):
    pid = small["program"]["id"]
    r = export(api, fin, program_id=pid)
    assert r.status == 200 and r.header("Content-Type") == "text/csv; charset=utf-8", r
    assert r.body == export(api, fin, program_id=pid, format="csv").body


def test_jsonl_export_has_the_same_rows(api, small, fin):
    pid = small["program"]["id"]
    r = export(api, fin, program_id=pid, format="jsonl")
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/x-ndjson", r.headers
    assert is_chunked(r), r.headers
    text = r.body.decode("utf-8")
    assert text.endswith("\n")
    objs = [json.loads(line) for line in text.split("\n")[:-1]]
    assert len(objs) == 10
    for o in objs:
        assert list(o) == HEADER or set(o) == set(HEADER), o
        assert isinstance(o["amount_minor"], int) and isinstance(o["balance_after_minor"], int)
        assert (o["owner_id"] is None) == (o["account_kind"] != "payable"), o
    as_rows = sorted([o["transaction_id"], o["created_at"], o["program_id"],
                      o["transaction_kind"], o["memo"], o["account_id"], o["account_kind"],
                      o["owner_id"] or "", str(o["amount_minor"]), str(o["balance_after_minor"]),
                      o["currency"]] for o in objs)
    assert as_rows == expected_rows(small["txs"])
    csv_ids = {row[0] for row in csv.reader(io.StringIO(
        export(api, fin, program_id=pid).body.decode(), newline=""))}
    assert {str(o["entry_id"]) for o in objs} <= csv_ids


def test_export_filters_by_time(api, small, fin):
    pid = small["program"]["id"]
    txs = small["txs"]                                 # newest first
    r = export(api, fin, program_id=pid, **{"from": "2999-01-01T00:00:00Z"})
    assert r.status == 200 and r.body.decode() == ",".join(HEADER) + "\r\n", r
    r = export(api, fin, program_id=pid, format="jsonl", to="2000-01-01T00:00:00Z")
    assert r.status == 200 and r.body == b"", r
    r = export(api, fin, program_id=pid, **{"from": txs[0]["created_at"]})
    rows = list(csv.reader(io.StringIO(r.body.decode(), newline="")))[1:]
    assert {row[1] for row in rows} == {txs[0]["id"]}
    r = export(api, fin, program_id=pid, to=txs[0]["created_at"])
    rows = list(csv.reader(io.StringIO(r.body.decode(), newline="")))[1:]
    assert {row[1] for row in rows} == {t["id"] for t in txs[1:]}


def test_export_of_a_program_without_entries_is_the_header(api, people, fin):
    p = make_program(api, people["staff"][1])
    r = export(api, fin, program_id=p["id"])
    assert r.status == 200, r
    assert r.body.decode() == ",".join(HEADER) + "\r\n"


@pytest.mark.parametrize("query,field", [
    ({}, "program_id"), ({"program_id": "nope"}, "program_id"),
    ({"format": "xml"}, "format"), ({"from": "yesterday"}, "from"),
    ({"to": "2026-02-30T00:00:00Z"}, "to"), ({"limit": "10"}, "limit"),
])
def test_export_query_problems_are_422(api, small, fin, query, field):
    params = dict({"program_id": small["program"]["id"]}, **query)
    if query == {}:
        params = {}
    assert_invalid(export(api, fin, **params), field)


def test_export_is_for_finance_only(api, admin, people, small):
    pid = small["program"]["id"]
    for token in (admin["token"], people["staff"][1], people["artist"][1]):
        assert_slug(export(api, token, program_id=pid), 403, "forbidden")
    assert_slug(export(api, None, program_id=pid), 401, "unauthorized")


# ---- a million entries ----

@contextlib.contextmanager
def time_limit(seconds):
    def expired(signum, frame):
        raise TimeoutError("the test ran longer than %d s" % seconds)

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


@pytest.fixture(scope="module")
def bulk():
    """A cluster of its own: a million entries must not slow every other suite."""
    db = Postgres()
    server = None
    try:
        db.start()
        assert run_admin(db.url, "migrate").returncode == 0
        email = "bulk-admin@example.com"
        out = run_admin(db.url, "admin", "create-user", "--email", email, "--role", "admin",
                        "--display-name", "Bulk Admin", stdin="a long enough password\n")
        assert out.returncode == 0, out.stderr
        server = Api(db.url).start()
        token = server.login(email, "a long enough password")
        yield {"pg": db, "api": server, "staff": server.create_user(token, "staff")[1],
               "fin": server.create_user(token, "finance")[1]}
    finally:
        if server is not None:
            server.stop()
        db.destroy()


def test_a_million_entries_stream_in_constant_memory(bulk):
    pg, api, fin = bulk["pg"], bulk["api"], bulk["fin"]
    with time_limit(600):    # a guard against a hang, not a speed target
        t0 = time.monotonic()
        pid = make_program(api, bulk["staff"], name="Bulk ledger")["id"]
        cash, funding = pg.bulk_ledger(pid, BULK_TRANSACTIONS)
        loaded = time.monotonic() - t0
        server = Api(pg.url)
        try:
            server.start()
            # warm up: the code paths of an export, then the baseline
            small = make_program(api, bulk["staff"])["id"]
            assert export(server, fin, program_id=small).status == 200
            time.sleep(0.2)
            baseline = rss_bytes(server.proc.pid)
            samples = []

            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            conn.request("GET", "/v1/exports/ledger?format=csv&program_id=%s" % pid,
                         headers={"Authorization": "Bearer " + fin})
            resp = conn.getresponse()
            assert resp.status == 200, resp.read(2000)
            assert (resp.getheader("Transfer-Encoding") or "").lower() == "chunked", \
                resp.getheaders()
            assert resp.getheader("Content-Type") == "text/csv; charset=utf-8"
            # a slow reader first: a server that does not wait for the client
            # would now pile the export up in memory
            first = resp.read(65536)
            for _ in range(6):
                time.sleep(0.25)
                samples.append(rss_bytes(server.proc.pid))

            stream = io.TextIOWrapper(io.BufferedReader(_Prefixed(first, resp), 65536),
                                      encoding="utf-8", newline="")
            bad_ends = [0]

            def lines():
                for n, line in enumerate(stream):
                    if not line.endswith("\r\n"):
                        bad_ends[0] += 1
                    if n % 100000 == 0:
                        samples.append(rss_bytes(server.proc.pid))
                    yield line

            reader = csv.reader(lines())
            assert next(reader) == HEADER
            rows = 0
            kinds = collections.Counter()
            sums = collections.Counter()
            other = 0
            for row in reader:
                rows += 1
                kinds[row[7]] += 1
                sums[row[7]] += int(row[10])
                sums["amount"] += int(row[9])
                if (row[3], row[4], row[5], row[8], row[11]) != (pid, "funding", "bulk", "",
                                                                  "EUR") \
                        or row[6] not in (cash, funding) or abs(int(row[9])) != 1:
                    other += 1
            samples.append(rss_bytes(server.proc.pid))
            conn.close()
            streamed = time.monotonic() - t0 - loaded
            time.sleep(0.3)
            after = rss_bytes(server.proc.pid)
        finally:
            server.stop()
    print("export of %d rows: loaded in %.1f s, streamed in %.1f s, RSS %.1f MiB before,"
          " peak %.1f MiB, %.1f MiB after (%d samples)"
          % (rows, loaded, streamed, baseline / MIB, max(samples) / MIB, after / MIB,
             len(samples)))
    assert rows == 2 * BULK_TRANSACTIONS, rows
    assert bad_ends[0] == 0, bad_ends
    assert other == 0
    assert kinds == {"cash": BULK_TRANSACTIONS, "funding": BULK_TRANSACTIONS}, kinds
    expected_sum = BULK_TRANSACTIONS * (BULK_TRANSACTIONS + 1) // 2
    assert sums.pop("amount") == 0, sums
    assert sums == {"cash": expected_sum, "funding": expected_sum}, sums
    assert len(samples) >= 15, samples
    # Under AddressSanitizer (make sanitize) freed chunks sit in its quarantine
    # (256 MiB by default) instead of going back to the allocator, so resident
    # memory says nothing about the server's own; the 64 MiB bound is checked
    # in the ordinary build that make test runs.
    bound = (1024 if "ASAN_OPTIONS" in os.environ else 64) * MIB
    peak = max(samples)
    assert peak - baseline <= bound, \
        "RSS rose from %.1f MiB to %.1f MiB while streaming (loaded in %.1f s, streamed in" \
        " %.1f s)" % (baseline / MIB, peak / MIB, loaded, streamed)
    assert after - baseline <= bound, (baseline, after)


class _Prefixed(io.RawIOBase):
    """A readable stream: `first` bytes, then the rest of the response."""

    def __init__(self, first, resp):
        self.first = first
        self.resp = resp

    def readable(self):
        return True

    def readinto(self, buf):
        if self.first:
            n = min(len(buf), len(self.first))
            buf[:n] = self.first[:n]
            self.first = self.first[n:]
            return n
        data = self.resp.read1(len(buf)) if hasattr(self.resp, "read1") else \
            self.resp.read(len(buf))
        buf[:len(data)] = data
        return len(data)


def test_head_of_an_export_runs_no_query(api, pg, small, fin):
    """HEAD gets the headers of an export; no query is left holding a connection."""
    pid = small["program"]["id"]
    r = api.request("HEAD", "/v1/exports/ledger?format=csv&program_id=%s" % pid, token=fin)
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/csv; charset=utf-8"
    assert not r.body
    assert pg.psql("SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle'"
                   " AND pid <> pg_backend_pid() AND query LIKE '%FROM ledger_entries e%'") == "0"
    full = export(api, fin, program_id=pid)
    assert full.status == 200 and full.body.startswith(b"entry_id,"), full
