"""The generic Idempotency-Key (API.md, "Conventions"): on every POST by a
signed-in caller the same key with the same request replays the first
response (status and body) with `Idempotent-Replayed: true`; the same key with
a different request is 422; a duplicate arriving while the first is in flight
is 409 `idempotency-in-flight`; keys are scoped to the caller; the key is
required on funding, manual transactions and payout batches (400
`idempotency-key-required`). Twenty clients sending one funding request with
one key at once move money exactly once."""

import collections
import subprocess
import time

import pytest

from harness import Api, create_users
from test_ledger import (account_id, adjust, approve_new, balances_of, enroll, fund, funded,
                         new_key, post, reverse, tx_count)
from test_programs import (assert_invalid, assert_slug, audit_count, open_program,
                           program_body, run_at_once)


def replayed(r):
    return r.header("Idempotent-Replayed") == "true"


def assert_fresh(r, status=201):
    assert r.status == status, r
    assert r.header("Idempotent-Replayed") in (None, "false"), r.headers


def assert_replay_of(r, first):
    """r replays first: same status and body, marked as a replay."""
    assert r.status == first.status, (r, first)
    assert replayed(r), r.headers
    assert r.json == first.json
    assert (r.header("Content-Type") or "").split(";")[0] == \
        (first.header("Content-Type") or "").split(";")[0]


@pytest.fixture(scope="module")
def people(api, admin):
    return create_users(api, admin["token"], staff="staff", f1="finance", f2="finance", a="artist")


@pytest.fixture
def prog(api, staff, people):
    p = open_program(api, staff)
    enroll(api, staff, p["id"], [people["a"][1]])
    return p


# ---- replay ----

def test_same_key_and_body_replays_the_funding(api, pg, prog, f1):
    key = new_key("fund")
    first = fund(api, f1, prog["id"], 5000, "grant", key=key)
    assert_fresh(first)
    again = fund(api, f1, prog["id"], 5000, "grant", key=key)
    assert_replay_of(again, first)
    assert tx_count(pg, prog["id"]) == 1
    assert balances_of(api, f1, prog["id"]) == {("cash", None): 5000, ("funding", None): 5000}
    assert audit_count(pg, "ledger.fund", first.json["id"]) == 1
    assert pg.psql("SELECT state, status FROM idempotency_keys WHERE key = '%s'" % key) == \
        "done|201"


def test_replay_returns_the_first_body_after_the_state_changed(api, pg, prog, f1):
    key = new_key()
    first = fund(api, f1, prog["id"], 100, key=key)
    assert_fresh(first)
    funded(api, f1, prog["id"], 900)
    again = fund(api, f1, prog["id"], 100, key=key)
    assert_replay_of(again, first)
    assert {e["account_kind"]: e["balance_after_minor"] for e in again.json["entries"]} == \
        {"cash": 100, "funding": 100}
    assert balances_of(api, f1, prog["id"])[("cash", None)] == 1000


def test_same_key_with_a_different_body_is_422(api, pg, prog, f1):
    key = new_key()
    assert_fresh(fund(api, f1, prog["id"], 100, key=key))
    for amount, memo in ((101, None), (100, "other memo")):
        r = fund(api, f1, prog["id"], amount, memo, key=key)
        assert_invalid(r, "Idempotency-Key")
        assert not replayed(r)
    assert tx_count(pg, prog["id"]) == 1


def test_same_key_on_another_path_is_422(api, pg, staff, prog, f1):
    other = open_program(api, staff)
    key = new_key()
    assert_fresh(fund(api, f1, prog["id"], 100, key=key))
    assert_invalid(fund(api, f1, other["id"], 100, key=key), "Idempotency-Key")
    pid = prog["id"]
    entries = [(account_id(pg, pid, "cash"), 1), (account_id(pg, pid, "funding"), -1)]
    assert_invalid(adjust(api, f1, pid, entries, key=key), "Idempotency-Key")
    assert tx_count(pg, pid) == 1 and tx_count(pg, other["id"]) == 0


def test_keys_are_scoped_to_the_caller(api, pg, people, prog, f1, f2):
    key = new_key("shared")
    r1 = fund(api, f1, prog["id"], 100, key=key)
    r2 = fund(api, f2, prog["id"], 100, key=key)
    assert_fresh(r1)
    assert_fresh(r2)
    assert r1.json["id"] != r2.json["id"]
    assert r2.json["created_by"] == people["f2"][0]["id"]
    assert tx_count(pg, prog["id"]) == 2


def test_replayed_adjustment(api, pg, prog, f1):
    pid = prog["id"]
    funded(api, f1, pid, 1000)
    entries = [(account_id(pg, pid, "expense"), 40), (account_id(pg, pid, "cash"), -40)]
    key = new_key()
    first = adjust(api, f1, pid, entries, "fee", key=key)
    assert_fresh(first)
    assert_replay_of(adjust(api, f1, pid, entries, "fee", key=key), first)
    assert tx_count(pg, pid, "adjustment") == 1
    assert balances_of(api, f1, pid)[("cash", None)] == 960


def test_replayed_reversal_is_not_a_second_reversal(api, pg, prog, f1):
    orig = funded(api, f1, prog["id"], 300)
    key = new_key()
    first = reverse(api, f1, orig["id"], "undo", key=key)
    assert_fresh(first)
    assert_replay_of(reverse(api, f1, orig["id"], "undo", key=key), first)
    assert_slug(reverse(api, f1, orig["id"], "undo"), 409, "already-reversed")
    assert tx_count(pg, prog["id"], "reversal") == 1


def test_replayed_payout_batch(api, pg, staff, people, prog, f1):
    approve_new(api, staff, people["a"][1], prog["id"])
    key = new_key()
    path = "/v1/programs/%s/payout-batches" % prog["id"]
    first = post(api, f1, path, {"min_amount_minor": 10}, key)
    assert_fresh(first)
    assert_replay_of(post(api, f1, path, {"min_amount_minor": 10}, key), first)
    assert pg.psql("SELECT count(*) FROM payout_batches WHERE program_id = '%s'"
                   % prog["id"]) == "1"


def test_any_post_replays_for_example_creating_a_program(api, pg, staff):
    body = program_body()
    key = new_key()
    first = post(api, staff, "/v1/programs", body, key)
    assert_fresh(first)
    again = post(api, staff, "/v1/programs", body, key)
    assert_replay_of(again, first)                 # not 409 for the taken slug
    assert pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'" % body["slug"]) == "1"
    without = post(api, staff, "/v1/programs", body, None)
    assert_slug(without, 409, "conflict")


def test_a_refusal_is_replayed_too(api, pg, staff, people, prog, f1):
    """The first response is stored whatever its status (below 500): a request
    refused for want of balance stays refused under its key."""
    pid = prog["id"]
    artist, token = people["a"]
    payable = account_id(pg, pid, "payable", artist["id"])
    entries = [(payable, 5000), (account_id(pg, pid, "expense"), -5000)]
    key = new_key()
    first = adjust(api, f1, pid, entries, key=key)
    assert_slug(first, 409, "insufficient-balance")
    approve_new(api, staff, token, pid)            # now the payable holds 5000
    again = adjust(api, f1, pid, entries, key=key)
    assert_replay_of(again, first)
    assert tx_count(pg, pid, "adjustment") == 0
    assert adjust(api, f1, pid, entries).status == 201


# ---- the header itself ----

@pytest.mark.parametrize("path", ["funding", "transactions", "payout-batches"])
def test_key_is_required_where_marked(api, pg, prog, f1, path):
    pid = prog["id"]
    if path == "funding":
        r = fund(api, f1, pid, 100, key=None)
    elif path == "transactions":
        entries = [(account_id(pg, pid, "cash"), 1), (account_id(pg, pid, "funding"), -1)]
        r = adjust(api, f1, pid, entries, key=None)
    else:
        r = post(api, f1, "/v1/programs/%s/payout-batches" % pid, {}, None)
    p = assert_slug(r, 400, "idempotency-key-required")
    assert "Idempotency-Key" in p["detail"], p
    assert tx_count(pg, pid) == 0


def test_key_is_optional_elsewhere(api, pg, prog, f1, staff):
    orig = funded(api, f1, prog["id"], 100)
    assert_fresh(reverse(api, f1, orig["id"], key=None))
    assert_fresh(post(api, staff, "/v1/programs", program_body(), None))


@pytest.mark.parametrize("key", ["k" * 201, "has space", "caf\u00e9", "tab\there", "del\x7f"])
def test_bad_key_is_422(api, pg, prog, f1, key):
    assert_invalid(fund(api, f1, prog["id"], 100, key=key), "Idempotency-Key")
    assert tx_count(pg, prog["id"]) == 0


@pytest.mark.parametrize("key", ["x", "~!" + "K" * 198])
def test_key_limits_are_inclusive(api, pg, prog, f1, key):
    key = key if len(key) == 1 else key[:190] + new_key()[:10]
    first = fund(api, f1, prog["id"], 100, key=key)
    assert_fresh(first)
    assert_replay_of(fund(api, f1, prog["id"], 100, key=key), first)
    assert tx_count(pg, prog["id"]) == 1


# ---- at once ----

def test_twenty_clients_with_one_key_fund_once(api, pg, prog, f1):
    for round_ in range(3):
        key = new_key("race%d" % round_)
        results = run_at_once(20, lambda i: fund(api, f1, prog["id"], 777, "race", key=key))
        statuses = collections.Counter(r.status for r in results)
        assert set(statuses) <= {201, 409}, results
        fresh = [r for r in results if r.status == 201 and not replayed(r)]
        assert len(fresh) == 1, results
        for r in results:
            if r.status == 201:
                assert r.json == fresh[0].json
            else:
                assert_slug(r, 409, "idempotency-in-flight")
        assert_replay_of(fund(api, f1, prog["id"], 777, "race", key=key), fresh[0])
        assert tx_count(pg, prog["id"]) == round_ + 1
    assert balances_of(api, f1, prog["id"]) == {("cash", None): 3 * 777,
                                                ("funding", None): 3 * 777}


def test_twenty_clients_with_different_keys_each_fund(api, pg, prog, f1):
    results = run_at_once(20, lambda i: fund(api, f1, prog["id"], 10, key=new_key()))
    assert [r.status for r in results] == [201] * 20, results
    assert not any(replayed(r) for r in results)
    assert len({r.json["id"] for r in results}) == 20
    assert balances_of(api, f1, prog["id"])[("cash", None)] == 200


# ---- a failed first attempt frees the key ----

def test_a_5xx_response_is_not_stored_and_frees_the_key(api, pg, prog, f1):
    """The cash account is locked by another session for four seconds; a server
    whose statements time out after half a second answers the funding with a
    5xx. The same key then works once the lock is gone: a fresh 201, not a
    replay of the failure and not 409 in flight."""
    pid = prog["id"]
    cash = account_id(pg, pid, "cash")
    account_id(pg, pid, "funding")
    impatient = Api(pg.url, FAIRBETA_DB_STATEMENT_TIMEOUT_MS="500")
    holder = None
    try:
        impatient.start()
        holder = subprocess.Popen(
            ["psql", pg.url, "-XtAq", "-v", "ON_ERROR_STOP=1", "-c",
             "BEGIN; SELECT 1 FROM ledger_accounts WHERE id = '%s' FOR UPDATE;"
             " SELECT pg_sleep(4); COMMIT;" % cash],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and pg.psql(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE a.query LIKE '%%pg_sleep(4)%%' AND l.mode = 'RowShareLock'") == "0":
            time.sleep(0.05)
        key = new_key("timeout")
        first = fund(impatient, f1, pid, 4242, key=key)
        assert 500 <= first.status < 600, first
        assert not replayed(first)
        assert pg.psql("SELECT count(*) FROM idempotency_keys WHERE key = '%s'" % key) == "0"
        assert holder.wait(10) == 0, holder.stderr.read()
        again = fund(impatient, f1, pid, 4242, key=key)
        assert_fresh(again)
        assert_replay_of(fund(api, f1, pid, 4242, key=key), again)
        assert tx_count(pg, pid) == 1
        assert balances_of(api, f1, pid)[("cash", None)] == 4242
    finally:
        if holder is not None and holder.poll() is None:
            holder.terminate()
            holder.wait(5)
        impatient.stop()


def test_a_replayed_creation_carries_the_first_etag(api, pg, staff):
    key = new_key("program")
    body = program_body()
    first = api.request("POST", "/v1/programs", body, token=staff,
                        headers={"Idempotency-Key": key})
    assert first.status == 201, first
    assert first.header("ETag") == '"v1"'
    again = api.request("POST", "/v1/programs", body, token=staff,
                        headers={"Idempotency-Key": key})
    assert_replay_of(again, first)
    assert again.header("ETag") == first.header("ETag")
    assert pg.psql("SELECT count(*) FROM programs WHERE slug = '%s'" % body["slug"]) == "1"
