"""`fairbeta admin check-ledger` (API.md, "fairbeta admin check-ledger"): a
consistent ledger exits 0 with its counts; each kind of corruption is named on
its own line and exits 1; no database or bad usage exits 2.

The corruption happens in a private cluster, never in the session database
the other suites share: a seeded, migrated database there is the template,
and each test corrupts its own copy of it."""

import re
import subprocess
import uuid

import pytest

from harness import Postgres, run_admin

FINANCE = "00000000-0000-4000-8000-000000000001"
ARTIST = "00000000-0000-4000-8000-000000000002"
PROGRAM = "00000000-0000-4000-8000-000000000010"

# Three transactions through ledger_post / ledger_accrue, the way the API
# moves money: funding (cash 1000 / funding), an accrual of 300 (expense /
# payable) and a payout of 100 (payable / cash). Four accounts, six entries.
SEED = """
INSERT INTO users (id, email, password_hash, display_name, role) VALUES
  ('{finance}', 'finance@example.com', 'x', 'Finance', 'finance'),
  ('{artist}', 'artist@example.com', 'x', 'Artist', 'artist');
INSERT INTO programs (id, slug, name, currency, capacity, review_sla_hours, sharing,
                      public_transparency, submission_kinds, created_by)
VALUES ('{program}', 'ledger-check', 'Ledger check', 'EUR', 10, 48, 'open', true,
        '{{work}}', '{finance}');
SELECT ledger_post(gen_random_uuid(), '{program}', 'funding', 'seed',
                   ARRAY[ledger_account('{program}', 'cash', NULL),
                         ledger_account('{program}', 'funding', NULL)],
                   ARRAY[1000, -1000]::bigint[], '{finance}', 'test-seed');
SELECT ledger_accrue('{program}', '{artist}', 300, 'work: seed', 'accrual:test:1', NULL,
                     'test-seed');
SELECT ledger_post(gen_random_uuid(), '{program}', 'payout', 'seed payout',
                   ARRAY[ledger_account('{program}', 'payable', '{artist}'),
                         ledger_account('{program}', 'cash', NULL)],
                   ARRAY[100, -100]::bigint[], '{finance}', 'test-seed');
""".format(finance=FINANCE, artist=ARTIST, program=PROGRAM)

CHECK_RE = re.compile(r"^([a-z-]+): ")


def psql(url, sql):
    out = subprocess.run(["psql", url, "-XtAq", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def db_url(url, name):
    return url.replace("/fairbeta?", "/%s?" % name, 1)


@pytest.fixture(scope="module")
def cluster():
    """A private cluster whose `fairbeta` database is migrated and seeded."""
    db = Postgres()
    try:
        db.start()
        out = run_admin(db.url, "migrate")
        assert out.returncode == 0, out.stderr
        db.psql(SEED)
        yield db
    finally:
        db.destroy()


@pytest.fixture()
def ledger(cluster):
    """A copy of the seeded database for one test to corrupt; its URL."""
    name = "ledger_" + uuid.uuid4().hex[:12]
    cluster.psql("CREATE DATABASE %s TEMPLATE fairbeta" % name)
    return db_url(cluster.url, name)


def check(url):
    return run_admin(url, "admin", "check-ledger")


def violations(out):
    """The set of checks named in a failed run's output."""
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    assert "ledger ok" not in out.stdout
    lines = out.stdout.splitlines()
    assert re.match(r"^ledger check failed: \d+ violations?$", lines[-1]), out.stdout
    return {CHECK_RE.match(line).group(1) for line in lines[:-1]}


def account(url, kind):
    return psql(url, "SELECT id FROM ledger_accounts WHERE kind = '%s'" % kind)


def test_session_database_is_consistent(pg, api, admin):
    out = check(pg.url)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert re.match(r"^ledger ok: \d+ transactions, \d+ entries, \d+ accounts$",
                    out.stdout.strip()), out.stdout


def test_seeded_ledger_is_ok_with_its_counts(ledger):
    out = check(ledger)
    assert out.returncode == 0, (out.stdout, out.stderr)
    assert out.stdout == "ledger ok: 3 transactions, 6 entries, 4 accounts\n"


def test_unbalanced_transaction_is_named(ledger):
    # The database refuses an unbalanced transaction at commit, so switch its
    # triggers off for the one insert; the account is kept in step, so only
    # the balance checks fire.
    cash = account(ledger, "cash")
    tx = psql(ledger, "SELECT id FROM ledger_transactions WHERE kind = 'funding'")
    psql(ledger, """
        BEGIN;
        ALTER TABLE ledger_entries DISABLE TRIGGER USER;
        UPDATE ledger_accounts SET balance = balance + 5, version = version + 1
         WHERE id = '{cash}';
        INSERT INTO ledger_entries (transaction_id, account_id, amount_minor, balance_after,
                                    account_version)
        SELECT '{tx}', id, 5, balance, version FROM ledger_accounts WHERE id = '{cash}';
        ALTER TABLE ledger_entries ENABLE TRIGGER USER;
        COMMIT;""".format(cash=cash, tx=tx))
    out = check(ledger)
    assert violations(out) == {"unbalanced-transaction", "unbalanced-ledger"}, out.stdout
    assert "transaction=%s sum_minor=5" % tx in out.stdout
    assert "unbalanced-ledger: sum_minor=5" in out.stdout


def test_transaction_without_entries_is_named(ledger):
    tx = str(uuid.uuid4())
    psql(ledger, "INSERT INTO ledger_transactions (id, program_id, kind, memo, currency,"
                 " request_id) VALUES ('%s', '%s', 'adjustment', '', 'EUR', 'test')"
                 % (tx, PROGRAM))
    out = check(ledger)
    assert violations(out) == {"too-few-entries"}, out.stdout
    assert "too-few-entries: transaction=%s entries=0" % tx in out.stdout


def test_stored_balance_off_by_one_is_named(ledger):
    cash = account(ledger, "cash")
    psql(ledger, "UPDATE ledger_accounts SET balance = balance + 1 WHERE id = '%s'" % cash)
    out = check(ledger)
    assert violations(out) == {"account-balance-vs-entries",
                               "account-balance-vs-latest-entry"}, out.stdout
    assert "account-balance-vs-entries: account=%s kind=cash balance=901 entries_sum=900" \
        % cash in out.stdout
    assert "latest_balance_after=900" in out.stdout


def test_version_not_matching_entry_count_is_named(ledger):
    expense = account(ledger, "expense")
    psql(ledger, "UPDATE ledger_accounts SET version = version + 1 WHERE id = '%s'" % expense)
    out = check(ledger)
    assert violations(out) == {"account-version"}, out.stdout
    assert "account-version: account=%s kind=expense version=2 entries=1" % expense \
        in out.stdout


def test_negative_payable_is_named(ledger):
    # Without its constraint the database lets a payout overdraw the artist;
    # the posting is otherwise sound, so only the payable check fires.
    psql(ledger, "ALTER TABLE ledger_accounts DROP CONSTRAINT payable_not_negative")
    psql(ledger, """SELECT ledger_post(gen_random_uuid(), '{program}', 'payout', 'over',
                       ARRAY[ledger_account('{program}', 'payable', '{artist}'),
                             ledger_account('{program}', 'cash', NULL)],
                       ARRAY[500, -500]::bigint[], NULL, 'test')"""
         .format(program=PROGRAM, artist=ARTIST))
    out = check(ledger)
    assert violations(out) == {"negative-payable"}, out.stdout
    assert "artist=%s balance=-300" % ARTIST in out.stdout


def test_earned_minus_paid_not_balance_is_named(ledger):
    payable = account(ledger, "payable")
    psql(ledger, "UPDATE ledger_accounts SET earned = earned + 1 WHERE id = '%s'" % payable)
    out = check(ledger)
    assert violations(out) == {"payable-earned-paid"}, out.stdout
    assert "payable-earned-paid: account=%s artist=%s earned=301 paid=100 balance=200" \
        % (payable, ARTIST) in out.stdout


def test_many_violations_print_a_bounded_report_with_the_total(ledger):
    psql(ledger, "INSERT INTO ledger_transactions (id, program_id, kind, memo, currency,"
                 " request_id) SELECT gen_random_uuid(), '%s', 'adjustment', '', 'EUR', 'test'"
                 " FROM generate_series(1, 150)" % PROGRAM)
    out = check(ledger)
    assert violations(out) == {"too-few-entries"}, out.stdout
    lines = out.stdout.splitlines()
    assert len(lines) == 102, out.stdout
    assert lines[-2] == "too-few-entries: 50 more not shown"
    assert lines[-1] == "ledger check failed: 150 violations"


def test_no_database_or_bad_usage_exits_2(cluster, tmp_path):
    out = run_admin("postgresql:///fairbeta?host=%s&port=5432" % tmp_path,
                    "admin", "check-ledger")
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "cannot connect" in out.stderr
    out = run_admin("", "admin", "check-ledger")
    assert out.returncode == 2
    out = run_admin(cluster.url, "admin", "check-ledger", "--bogus")
    assert out.returncode == 2
    assert "usage" in out.stderr
