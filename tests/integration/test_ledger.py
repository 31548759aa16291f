"""The compensation ledger (API.md, "Ledger, payouts, exports"): accruals posted
by approvals, deemed approvals and exhibitions at the rate card the submission
recorded (sessions: rate x hours rounded half up on hundredths of an hour; a
zero rate posts nothing), funding, manual adjustments, reversals, the
artist's balance and statement, the account and transaction lists, who may
do what, and the transparency figures built on the ledger.

Signs: an entry's amount is positive for a debit, negative for a credit; an
account's balance is on its normal side (cash and expense: the sum; funding
and payable: minus the sum).

The helpers at the top (fund, adjust, reverse, account_id, ...) are shared
with test_idempotency.py, test_payouts.py, test_ledger_model.py and
test_exports.py."""

import collections
import time
import uuid

import pytest

from harness import UUID_RE, Worker, create_users, run_admin
from test_enrollments import enrolled, invite
from test_programs import (FULL_RATES, TS_RE, assert_invalid, assert_slug, list_all,
                           open_program, outbox_rows, parse_ts, put_rates, run_at_once)
from test_submissions import (appeal, claimed, decide, decided, exhibit, reviewed, submitted,
                              withdraw)

TX_KEYS = {"id", "program_id", "kind", "memo", "currency", "reverses", "reversed_by",
           "submission_id", "created_by", "created_at", "entries"}
ENTRY_KEYS = {"account_id", "account_kind", "owner_id", "amount_minor", "balance_after_minor"}
ACCOUNT_KEYS = {"id", "program_id", "kind", "owner_id", "currency", "balance_minor", "version",
                "earned_minor", "paid_minor", "created_at"}
BALANCE_KEYS = {"program_id", "currency", "earned_minor", "paid_minor", "payable_minor"}
LINE_KEYS = {"entry_id", "transaction_id", "program_id", "kind", "memo", "amount_minor",
             "balance_minor", "currency", "at"}
TRANSPARENCY_KEYS = {"program_id", "currency", "enrolled_testers", "submissions",
                     "deemed_approvals", "hours_to_decision", "decided_within_sla_share",
                     "paid_minor", "payable_minor", "cash_minor",
                     "median_earnings_per_active_artist_minor", "effective_hourly_pay_minor",
                     "license_requests", "license_fees_minor"}
MAX_AMOUNT = 10 ** 15
RATE = {r["kind"]: r["amount_minor"] for r in FULL_RATES}   # work 5000 ... exhibition 10000
TITLE = "Paper boats"                                        # work_body()'s title


# ---- helpers (also used by the other ledger suites) ----

def new_key(tag="k"):
    return "%s-%s" % (tag, uuid.uuid4())


def post(api, token, path, body=None, key=True, headers=None, **kw):
    """POST with an Idempotency-Key: a fresh one (True), a given one, or none (None)."""
    hdrs = dict(headers or {})
    if key is True:
        key = new_key()
    if key is not None:
        hdrs["Idempotency-Key"] = key
    return api.request("POST", path, body, token=token, headers=hdrs, **kw)


def fund(api, token, pid, amount, memo=None, key=True, **kw):
    body = {"amount_minor": amount}
    if memo is not None:
        body["memo"] = memo
    return post(api, token, "/v1/programs/%s/funding" % pid, body, key, **kw)


def funded(api, token, pid, amount, memo=None):
    r = fund(api, token, pid, amount, memo)
    assert r.status == 201, r
    return r.json


def tx_body(pid, entries, memo=None):
    body = {"program_id": pid,
            "entries": [e if isinstance(e, dict) else {"account_id": e[0], "amount_minor": e[1]}
                        for e in entries]}
    if memo is not None:
        body["memo"] = memo
    return body


def adjust(api, token, pid, entries, memo=None, key=True, **kw):
    """POST /v1/ledger/transactions with entries [(account_id, amount_minor)]."""
    return post(api, token, "/v1/ledger/transactions", tx_body(pid, entries, memo), key, **kw)


def adjusted(api, token, pid, entries, memo=None):
    r = adjust(api, token, pid, entries, memo)
    assert r.status == 201, r
    return r.json


def reverse(api, token, txid, memo=None, key=None, body="default", **kw):
    if body == "default":
        body = {} if memo is None else {"memo": memo}
    return post(api, token, "/v1/ledger/transactions/%s/reverse" % txid, body, key, **kw)


def reversed_tx(api, token, txid, memo=None):
    r = reverse(api, token, txid, memo)
    assert r.status == 201, r
    return r.json


def get_tx(api, token, txid):
    r = api.request("GET", "/v1/ledger/transactions/%s" % txid, token=token)
    assert r.status == 200, r
    return r.json


def account_id(pg, pid, kind, owner=None):
    """The id of the program's account of this kind (made on first use, as the
    server does)."""
    return pg.psql("SELECT ledger_account('%s', '%s', %s)"
                   % (pid, kind, "NULL" if owner is None else "'%s'" % owner))


def accounts(api, token, pid):
    return list_all(api, token, "/v1/ledger/accounts", program_id=pid)


def account_map(api, token, pid):
    """{(kind, owner_id): account} of a program, read through the API."""
    return {(a["kind"], a["owner_id"]): a for a in accounts(api, token, pid)}


def balances_of(api, token, pid):
    """{(kind, owner_id): balance_minor}."""
    return {k: a["balance_minor"] for k, a in account_map(api, token, pid).items()}


def transactions(api, token, pid, **params):
    return list_all(api, token, "/v1/ledger/transactions", program_id=pid, **params)


def my_balance(api, token, pid=None):
    """GET /v1/me/balance: the whole document, or the item of one program (None if absent)."""
    r = api.request("GET", "/v1/me/balance", token=token)
    assert r.status == 200, r
    if pid is None:
        return r.json
    items = [i for i in r.json["items"] if i["program_id"] == pid]
    assert len(items) <= 1, r.json
    return items[0] if items else None


def statement(api, token, **params):
    return list_all(api, token, "/v1/me/statement", **params)


def tx_count(pg, pid, kind=None):
    sql = "SELECT count(*) FROM ledger_transactions WHERE program_id = '%s'" % pid
    if kind:
        sql += " AND kind = '%s'" % kind
    return int(pg.psql(sql))


def audit_rows(pg, action, entity_id):
    """Audit rows of this action naming this entity (as entity_id or in `after`)."""
    return int(pg.psql("SELECT count(*) FROM audit_log WHERE action = '%s' AND"
                       " (entity_id = '%s' OR after::text LIKE '%%%s%%')"
                       % (action, entity_id, entity_id)))


def entries_by_kind(tx):
    out = {}
    for e in tx["entries"]:
        assert set(e) == ENTRY_KEYS, e
        out[(e["account_kind"], e["owner_id"])] = e
    return out


def assert_tx(tx, pid, kind, memo=None, created_by="any"):
    assert set(tx) == TX_KEYS, tx
    assert UUID_RE.match(tx["id"]), tx
    assert tx["program_id"] == pid and tx["kind"] == kind, tx
    assert tx["currency"] == "EUR", tx
    assert TS_RE.match(tx["created_at"]), tx
    if memo is not None:
        assert tx["memo"] == memo, tx
    if created_by != "any":
        assert tx["created_by"] == created_by, tx
    assert sum(e["amount_minor"] for e in tx["entries"]) == 0, tx
    for e in tx["entries"]:
        assert set(e) == ENTRY_KEYS, e
        assert e["amount_minor"] != 0
    return tx


def approve_new(api, staff, artist, pid, **over):
    """A new submission in an otherwise empty queue, claimed and approved."""
    return reviewed(api, staff, artist, pid, "approved", **over)


def accruals_of(pg, sid):
    return int(pg.psql("SELECT count(*) FROM ledger_transactions WHERE kind = 'accrual'"
                       " AND submission_id = '%s'" % sid))


def rates(**over):
    r = dict(RATE, **over)
    return [{"kind": k, "amount_minor": v} for k, v in r.items()]


# ---- fixtures ----

@pytest.fixture(scope="module")
def people(api, admin):
    """{name: (user_json, token)}: two staff, two finance users and three artists."""
    return create_users(api, admin["token"],
                        staff="staff", staff2="staff", f1="finance", f2="finance", a="artist", b="artist", c="artist")


def enroll(api, staff, pid, tokens):
    inv = invite(api, staff, pid, max_uses=1000)
    for t in tokens:
        enrolled(api, t, inv["code"])


@pytest.fixture
def prog(api, staff, people):
    """An open program (full rate card) in which artists a and b are enrolled."""
    p = open_program(api, staff)
    enroll(api, staff, p["id"], [people["a"][1], people["b"][1]])
    return p


def program_with_rates(api, staff, people, **over):
    """An open program whose rate card is FULL_RATES with these overrides (v2)."""
    p = open_program(api, staff)
    put_rates(api, staff, p["id"], rates(**over))
    enroll(api, staff, p["id"], [people["a"][1], people["b"][1]])
    return p


# ---- accruals ----

def test_approval_accrues_the_work_rate_to_the_artist(api, pg, staff, people, prog, f1):
    pid = prog["id"]
    artist, token = people["a"]
    s = approve_new(api, staff, token, pid)
    [tx] = transactions(api, f1, pid)
    assert_tx(tx, pid, "accrual", memo="work: %s" % TITLE, created_by=None)
    assert tx["submission_id"] == s["id"]
    assert tx["reverses"] is None and tx["reversed_by"] is None
    expense = account_id(pg, pid, "expense")
    payable = account_id(pg, pid, "payable", artist["id"])
    assert tx["entries"] == [
        {"account_id": expense, "account_kind": "expense", "owner_id": None,
         "amount_minor": 5000, "balance_after_minor": 5000},
        {"account_id": payable, "account_kind": "payable", "owner_id": artist["id"],
         "amount_minor": -5000, "balance_after_minor": 5000}]
    assert my_balance(api, token, pid) == {"program_id": pid, "currency": "EUR",
                                           "earned_minor": 5000, "paid_minor": 0,
                                           "payable_minor": 5000}
    assert my_balance(api, people["b"][1], pid) is None
    accts = account_map(api, f1, pid)
    assert accts[("expense", None)]["balance_minor"] == 5000
    pay = accts[("payable", artist["id"])]
    assert (pay["balance_minor"], pay["earned_minor"], pay["paid_minor"], pay["version"]) == \
        (5000, 5000, 0, 1)
    assert accruals_of(pg, s["id"]) == 1
    assert audit_rows(pg, "ledger.accrue", tx["id"]) == 1
    [event] = [e for e in outbox_rows(pg, "accrual.posted", pid)]
    assert event["transaction_id"] == tx["id"] and event["amount_minor"] == 5000, event
    assert event["artist_id"] == artist["id"] and event["currency"] == "EUR", event


@pytest.mark.parametrize("over,amount", [({"kind": "work"}, 5000),
                                         ({"kind": "bug_report"}, 2000),
                                         ({"kind": "feedback"}, 1000),
                                         ({"kind": "session", "hours": 2}, 6000)])
def test_each_kind_accrues_its_rate(api, pg, staff, people, prog, over, amount):
    token = people["a"][1]
    body = dict(over)
    if body["kind"] != "work":
        body.update(media=None, generation=None)
    s = approve_new(api, staff, token, prog["id"], **body)
    assert accruals_of(pg, s["id"]) == 1
    assert pg.psql("SELECT amount_minor FROM ledger_entries e JOIN ledger_transactions t"
                   " ON t.id = e.transaction_id WHERE t.submission_id = '%s'"
                   " AND amount_minor > 0" % s["id"]) == str(amount)
    assert my_balance(api, token, prog["id"])["payable_minor"] == amount


@pytest.mark.parametrize("rate,hours,expected", [
    (1001, 0.5, 501),          # 500.5 rounds half up
    (1001, 0.49, 490),         # 490.49 rounds down
    (333, 0.03, 10),           # 9.99 rounds up
    (50, 0.01, 1),             # 0.5 rounds up
    (3000, 1.25, 3750),
    (100, 1.15, 115),          # 1.15 is not exact in binary floating point
    (7, 24, 168),
    (MAX_AMOUNT, 24, 24 * MAX_AMOUNT),
])
def test_session_pays_rate_times_hours_rounded_half_up(api, pg, staff, people, rate, hours,
                                                       expected):
    p = program_with_rates(api, staff, people, session_hour=rate)
    token = people["a"][1]
    s = approve_new(api, staff, token, p["id"], kind="session", hours=hours, media=None,
                    generation=None)
    assert s["hours"] == hours
    [tx] = transactions(api, people["f1"][1], p["id"])
    assert tx["kind"] == "accrual" and tx["submission_id"] == s["id"]
    assert [e["amount_minor"] for e in tx["entries"]] == [expected, -expected]
    assert my_balance(api, token, p["id"])["earned_minor"] == expected


def test_session_that_rounds_to_zero_posts_nothing(api, pg, staff, people):
    p = program_with_rates(api, staff, people, session_hour=49)   # 0.49 for 0.01 h
    token = people["a"][1]
    s = approve_new(api, staff, token, p["id"], kind="session", hours=0.01, media=None,
                    generation=None)
    assert s["status"] == "approved"
    assert tx_count(pg, p["id"]) == 0
    assert my_balance(api, token, p["id"]) is None
    assert transactions(api, people["f1"][1], p["id"]) == []


def test_accrual_uses_the_rate_card_recorded_in_the_submission(api, pg, staff, people, prog):
    pid = prog["id"]
    token = people["a"][1]
    old = submitted(api, token, pid)
    assert old["rate_card_version"] == 1
    put_rates(api, staff, pid, rates(work=7000))
    new = submitted(api, token, pid)
    assert new["rate_card_version"] == 2
    for s in (old, new):
        assert claimed(api, staff, pid)["id"] == s["id"]
        decided(api, staff, s["id"])
    paid = {tx["submission_id"]: tx["entries"][0]["amount_minor"]
            for tx in transactions(api, people["f1"][1], pid)}
    assert paid == {old["id"]: 5000, new["id"]: 7000}
    assert my_balance(api, token, pid)["payable_minor"] == 12000


@pytest.mark.parametrize("outcome", ["rejected", "changes_requested"])
def test_refusals_accrue_nothing(api, pg, staff, people, prog, outcome):
    s = reviewed(api, staff, people["a"][1], prog["id"], outcome)
    assert s["status"] == outcome
    assert tx_count(pg, prog["id"]) == 0
    assert my_balance(api, people["a"][1], prog["id"]) is None


def test_withdrawn_submission_accrues_nothing(api, pg, people, prog):
    s = submitted(api, people["a"][1], prog["id"])
    assert withdraw(api, people["a"][1], s["id"]).status == 200
    assert tx_count(pg, prog["id"]) == 0


def test_approval_on_appeal_accrues_once(api, pg, staff, people, prog):
    token = people["a"][1]
    s = reviewed(api, staff, token, prog["id"], "rejected")
    assert appeal(api, token, s["id"]).status == 200
    assert claimed(api, people["staff2"][1], prog["id"])["id"] == s["id"]
    decided(api, people["staff2"][1], s["id"])
    assert accruals_of(pg, s["id"]) == 1
    assert my_balance(api, token, prog["id"])["payable_minor"] == 5000


def test_a_decided_submission_never_accrues_twice(api, pg, staff, people, prog):
    token = people["a"][1]
    s = approve_new(api, staff, token, prog["id"])
    assert_slug(decide(api, staff, s["id"]), 409, "not-claim-holder")
    results = run_at_once(5, lambda i: decide(api, staff, s["id"]))
    assert {r.status for r in results} == {409}, results
    assert accruals_of(pg, s["id"]) == 1
    assert my_balance(api, token, prog["id"])["payable_minor"] == 5000


def test_deemed_approval_accrues(api, pg, people, prog, f1):
    token = people["a"][1]
    s = submitted(api, token, prog["id"])
    worker = Worker(pg.url, FAIRBETA_WORKER_TICK_MS="200").start()
    try:
        pg.psql("UPDATE submissions SET review_due_at = now() WHERE id = '%s'" % s["id"])
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and pg.psql(
                "SELECT status FROM submissions WHERE id = '%s'" % s["id"]) != "deemed_approved":
            time.sleep(0.1)
    finally:
        assert worker.stop() == 0
    assert pg.psql("SELECT status FROM submissions WHERE id = '%s'" % s["id"]) == \
        "deemed_approved", worker.logtext()
    [tx] = transactions(api, f1, prog["id"])
    assert_tx(tx, prog["id"], "accrual", memo="work: %s" % TITLE, created_by=None)
    assert tx["submission_id"] == s["id"]
    assert [e["amount_minor"] for e in tx["entries"]] == [5000, -5000]
    assert my_balance(api, token, prog["id"]) == {
        "program_id": prog["id"], "currency": "EUR", "earned_minor": 5000, "paid_minor": 0,
        "payable_minor": 5000}


def test_exhibition_accrues_the_exhibition_rate_once_per_exhibition(api, pg, staff, people,
                                                                    prog, f1):
    pid = prog["id"]
    artist, token = people["a"]
    s = approve_new(api, staff, token, pid)
    assert exhibit(api, staff, s["id"], "Gallery One").status == 201
    assert exhibit(api, staff, s["id"], "Kunsthalle").status == 201
    assert_slug(exhibit(api, staff, s["id"], "GALLERY ONE"), 409, "conflict")
    txs = transactions(api, f1, pid)
    assert [t["kind"] for t in txs] == ["accrual"] * 3
    assert all(t["submission_id"] == s["id"] for t in txs), txs
    assert [t["memo"] for t in txs] == ["exhibition at Kunsthalle: %s" % TITLE,
                                        "exhibition at Gallery One: %s" % TITLE,
                                        "work: %s" % TITLE]
    assert [t["entries"][0]["amount_minor"] for t in txs] == [10000, 10000, 5000]
    payable = [e for e in txs[0]["entries"] if e["account_kind"] == "payable"]
    assert payable == [{"account_id": account_id(pg, pid, "payable", artist["id"]),
                        "account_kind": "payable", "owner_id": artist["id"],
                        "amount_minor": -10000, "balance_after_minor": 25000}]
    assert my_balance(api, token, pid)["earned_minor"] == 25000


def test_zero_exhibition_rate_posts_nothing(api, pg, staff, people):
    p = program_with_rates(api, staff, people, exhibition=0)
    token = people["a"][1]
    s = approve_new(api, staff, token, p["id"])
    assert exhibit(api, staff, s["id"], "Gallery One").status == 201
    assert tx_count(pg, p["id"]) == 1
    assert my_balance(api, token, p["id"])["payable_minor"] == 5000


# ---- funding ----

def test_funding_debits_cash_and_credits_funding(api, pg, people, prog, f1):
    pid = prog["id"]
    r = fund(api, f1, pid, 250000, "Q1 budget")
    assert r.status == 201, r
    assert (r.header("Content-Type") or "").startswith("application/json")
    tx = assert_tx(r.json, pid, "funding", memo="Q1 budget", created_by=people["f1"][0]["id"])
    assert tx["reverses"] is None and tx["reversed_by"] is None and tx["submission_id"] is None
    assert len(tx["entries"]) == 2
    e = entries_by_kind(tx)
    assert e[("cash", None)] == {"account_id": account_id(pg, pid, "cash"), "account_kind": "cash",
                                 "owner_id": None, "amount_minor": 250000,
                                 "balance_after_minor": 250000}
    assert e[("funding", None)] == {"account_id": account_id(pg, pid, "funding"),
                                    "account_kind": "funding", "owner_id": None,
                                    "amount_minor": -250000, "balance_after_minor": 250000}
    assert get_tx(api, f1, tx["id"]) == tx
    assert balances_of(api, f1, pid) == {("cash", None): 250000, ("funding", None): 250000}
    assert audit_rows(pg, "ledger.fund", tx["id"]) == 1


def test_second_funding_adds_up_and_memo_defaults_to_empty(api, pg, prog, f1, f2):
    pid = prog["id"]
    funded(api, f1, pid, 1000)
    tx = funded(api, f2, pid, 234)
    assert tx["memo"] == ""
    e = entries_by_kind(tx)
    assert e[("cash", None)]["balance_after_minor"] == 1234
    assert e[("funding", None)]["balance_after_minor"] == 1234
    accts = account_map(api, f1, pid)
    assert accts[("cash", None)]["version"] == 2 and accts[("funding", None)]["version"] == 2


def test_funding_limits_are_inclusive(api, pg, prog, f1):
    assert fund(api, f1, prog["id"], 1).status == 201
    r = fund(api, f1, prog["id"], MAX_AMOUNT, "m" * 1000)
    assert r.status == 201, r
    assert balances_of(api, f1, prog["id"])[("cash", None)] == MAX_AMOUNT + 1


@pytest.mark.parametrize("body,field", [
    ({"amount_minor": 0}, "amount_minor"),
    ({"amount_minor": -5}, "amount_minor"),
    ({"amount_minor": MAX_AMOUNT + 1}, "amount_minor"),
    ({"amount_minor": "100"}, "amount_minor"),
    ({"amount_minor": 1.5}, "amount_minor"),
    ({"amount_minor": None}, "amount_minor"),
    ({}, "amount_minor"),
    ({"amount_minor": 100, "memo": "m" * 1001}, "memo"),
    ({"amount_minor": 100, "memo": 5}, "memo"),
    ({"amount_minor": 100, "currency": "EUR"}, "currency"),
])
def test_funding_problems_are_422_naming_the_field(api, pg, prog, f1, body, field):
    r = post(api, f1, "/v1/programs/%s/funding" % prog["id"], body)
    assert_invalid(r, field)
    assert tx_count(pg, prog["id"]) == 0


def test_funding_malformed_json_and_content_type(api, pg, prog, f1):
    path = "/v1/programs/%s/funding" % prog["id"]
    assert_slug(post(api, f1, path, raw=b'{"amount_minor": 1'), 400, "malformed-json")
    assert_slug(post(api, f1, path, raw=b'{"amount_minor": 1}', content_type="text/plain"),
                415, "unsupported-media-type")
    assert tx_count(pg, prog["id"]) == 0


@pytest.mark.parametrize("pid", [str(uuid.uuid4()), "not-a-uuid"])
def test_funding_unknown_program_is_404(api, f1, pid):
    assert_slug(fund(api, f1, pid, 100), 404, "not-found")


def test_funding_without_idempotency_key_is_400(api, pg, prog, f1):
    assert_slug(fund(api, f1, prog["id"], 100, key=None), 400, "idempotency-key-required")
    assert tx_count(pg, prog["id"]) == 0


@pytest.mark.parametrize("who", ["staff", "a", "admin"])
def test_only_finance_funds(api, pg, admin, people, prog, who):
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(fund(api, token, prog["id"], 100), 403, "forbidden")
    assert_slug(fund(api, None, prog["id"], 100), 401, "unauthorized")
    assert tx_count(pg, prog["id"]) == 0


# ---- manual transactions ----

@pytest.fixture
def funded_prog(api, pg, prog, f1):
    """prog with 100000 of funding: cash 100000, funding 100000."""
    funded(api, f1, prog["id"], 100000, "seed")
    return prog


def test_adjustment_posts_entries_in_the_order_given(api, pg, people, funded_prog, f1):
    pid = funded_prog["id"]
    cash, expense = account_id(pg, pid, "cash"), account_id(pg, pid, "expense")
    r = adjust(api, f1, pid, [(expense, 300), (cash, -300)], "bank fee")
    assert r.status == 201, r
    tx = assert_tx(r.json, pid, "adjustment", memo="bank fee", created_by=people["f1"][0]["id"])
    assert tx["reverses"] is None and tx["submission_id"] is None
    assert tx["entries"] == [
        {"account_id": expense, "account_kind": "expense", "owner_id": None, "amount_minor": 300,
         "balance_after_minor": 300},
        {"account_id": cash, "account_kind": "cash", "owner_id": None, "amount_minor": -300,
         "balance_after_minor": 99700}]
    assert get_tx(api, f1, tx["id"]) == tx
    assert balances_of(api, f1, pid) == {("cash", None): 99700, ("funding", None): 100000,
                                         ("expense", None): 300}
    assert audit_rows(pg, "ledger.adjust", tx["id"]) == 1


def test_adjustment_with_three_entries_follows_each_normal_side(api, pg, funded_prog, f1):
    pid = funded_prog["id"]
    cash, funding, expense = (account_id(pg, pid, k) for k in ("cash", "funding", "expense"))
    tx = adjusted(api, f1, pid, [(expense, 700), (cash, -500), (funding, -200)])
    assert [e["balance_after_minor"] for e in tx["entries"]] == [700, 99500, 100200]
    assert tx["memo"] == ""
    assert balances_of(api, f1, pid) == {("cash", None): 99500, ("funding", None): 100200,
                                         ("expense", None): 700}


def test_adjustment_crediting_a_payable_raises_what_the_artist_earned(api, pg, people,
                                                                      funded_prog, f1):
    pid = funded_prog["id"]
    artist, token = people["a"]
    payable = account_id(pg, pid, "payable", artist["id"])
    tx = adjusted(api, f1, pid, [(account_id(pg, pid, "expense"), 1500), (payable, -1500)],
                  "bonus")
    assert tx["entries"][1] == {"account_id": payable, "account_kind": "payable",
                                "owner_id": artist["id"], "amount_minor": -1500,
                                "balance_after_minor": 1500}
    assert my_balance(api, token, pid) == {"program_id": pid, "currency": "EUR",
                                           "earned_minor": 1500, "paid_minor": 0,
                                           "payable_minor": 1500}


def test_adjustment_may_take_a_payable_to_exactly_zero(api, pg, staff, people, prog, f1):
    pid = prog["id"]
    artist, token = people["a"]
    approve_new(api, staff, token, pid)
    payable = account_id(pg, pid, "payable", artist["id"])
    tx = adjusted(api, f1, pid, [(payable, 5000), (account_id(pg, pid, "expense"), -5000)])
    assert tx["entries"][0]["balance_after_minor"] == 0
    assert my_balance(api, token, pid)["payable_minor"] == 0


def test_adjustment_taking_a_payable_below_zero_is_409(api, pg, staff, people, prog, f1):
    pid = prog["id"]
    artist, token = people["a"]
    approve_new(api, staff, token, pid)
    payable = account_id(pg, pid, "payable", artist["id"])
    r = adjust(api, f1, pid, [(payable, 5001), (account_id(pg, pid, "expense"), -5001)])
    assert_slug(r, 409, "insufficient-balance")
    assert tx_count(pg, pid) == 1
    assert my_balance(api, token, pid)["payable_minor"] == 5000


def test_adjustment_naming_an_account_twice_gives_each_entry_its_own_balance(api, pg,
                                                                            funded_prog, f1):
    # one posting, the cash account twice: each entry carries the balance and
    # the version after it, as though each were posted on its own
    pid = funded_prog["id"]
    cash, expense = account_id(pg, pid, "cash"), account_id(pg, pid, "expense")
    tx = adjusted(api, f1, pid, [(cash, -300), (expense, 500), (cash, -200)])
    assert [(e["account_id"], e["balance_after_minor"]) for e in tx["entries"]] == [
        (cash, 99700), (expense, 500), (cash, 99500)]
    assert pg.psql("SELECT string_agg(account_version || ':' || balance_after, ',' ORDER BY id)"
                   " FROM ledger_entries WHERE account_id = '%s'" % cash) == \
        "1:100000,2:99700,3:99500"
    assert pg.psql("SELECT balance || ',' || version FROM ledger_accounts WHERE id = '%s'"
                   % cash) == "99500,3"
    assert run_admin(pg.url, "admin", "check-ledger").returncode == 0


def test_payable_below_zero_between_two_of_its_entries_is_409(api, pg, staff, people, prog,
                                                              f1):
    # 5000 earned; -6000 then +1000 ends at zero, but passes through -1000
    pid = prog["id"]
    artist, token = people["a"]
    approve_new(api, staff, token, pid)
    payable, expense = account_id(pg, pid, "payable", artist["id"]), account_id(pg, pid,
                                                                                 "expense")
    r = adjust(api, f1, pid, [(payable, 6000), (payable, -1000), (expense, -5000)])
    assert_slug(r, 409, "insufficient-balance")
    assert tx_count(pg, pid) == 1
    tx = adjusted(api, f1, pid, [(payable, -1000), (payable, 6000), (expense, -5000)])
    assert [e["balance_after_minor"] for e in tx["entries"]] == [6000, 0, 0]
    assert my_balance(api, token, pid)["payable_minor"] == 0


def test_adjustment_limits_are_inclusive(api, pg, funded_prog, f1):
    pid = funded_prog["id"]
    cash, funding = account_id(pg, pid, "cash"), account_id(pg, pid, "funding")
    tx = adjusted(api, f1, pid, [(cash, MAX_AMOUNT), (funding, -MAX_AMOUNT)], "x" * 1000)
    assert tx["entries"][0]["balance_after_minor"] == MAX_AMOUNT + 100000
    tx = adjusted(api, f1, pid, [(cash, 1), (funding, -1)] * 25)
    assert len(tx["entries"]) == 50
    assert tx["entries"][-2]["balance_after_minor"] == MAX_AMOUNT + 100025
    assert balances_of(api, f1, pid)[("cash", None)] == MAX_AMOUNT + 100025


def test_adjustment_entry_problems_are_422(api, pg, staff, people, funded_prog, f1):
    pid = funded_prog["id"]
    cash, funding = account_id(pg, pid, "cash"), account_id(pg, pid, "funding")
    other = open_program(api, staff)
    foreign = account_id(pg, other["id"], "cash")
    for entries in ([(cash, 100), (funding, -99)],                 # does not sum to zero
                    [(cash, 100)],                                 # one entry
                    [(cash, 1), (funding, -1)] * 25 + [(cash, 0)],  # 51 entries
                    [(cash, 0), (funding, 0)],                     # zero amounts
                    [(cash, MAX_AMOUNT + 1), (funding, -MAX_AMOUNT - 1)],
                    [(cash, 100), (foreign, -100)],                # another program's account
                    [(cash, 100), (str(uuid.uuid4()), -100)],      # no such account
                    [(cash, 100), ("not-a-uuid", -100)],
                    [(cash, "100"), (funding, -100)],
                    [(cash, 1.5), (funding, -1.5)],
                    []):
        r = adjust(api, f1, pid, entries)
        assert_invalid(r, "entries")
    for body in ({"program_id": pid, "entries": [{"account_id": cash, "amount_minor": 1},
                                                 {"account_id": funding}]},
                 {"program_id": pid, "entries": [{"account_id": cash, "amount_minor": 1,
                                                  "side": "debit"},
                                                 {"account_id": funding, "amount_minor": -1}]},
                 {"program_id": pid, "entries": "cash"},
                 {"program_id": pid}):
        assert_invalid(post(api, f1, "/v1/ledger/transactions", body), "entries")
    assert tx_count(pg, pid) == 1
    assert tx_count(pg, other["id"]) == 0


@pytest.mark.parametrize("over,field", [
    ({"program_id": "not-a-uuid"}, "program_id"),
    ({"program_id": None}, "program_id"),
    ({"memo": "m" * 1001}, "memo"),
    ({"memo": 7}, "memo"),
    ({"kind": "funding"}, "kind"),
])
def test_adjustment_body_problems_are_422(api, pg, funded_prog, f1, over, field):
    pid = funded_prog["id"]
    body = tx_body(pid, [(account_id(pg, pid, "cash"), 5), (account_id(pg, pid, "funding"), -5)])
    body.update(over)
    assert_invalid(post(api, f1, "/v1/ledger/transactions", body), field)
    assert tx_count(pg, pid) == 1


def test_adjustment_without_program_id_is_422(api, pg, funded_prog, f1):
    pid = funded_prog["id"]
    body = tx_body(pid, [(account_id(pg, pid, "cash"), 5), (account_id(pg, pid, "funding"), -5)])
    del body["program_id"]
    assert_invalid(post(api, f1, "/v1/ledger/transactions", body), "program_id")


def test_adjustment_in_an_unknown_program_is_404(api, pg, funded_prog, f1):
    pid = funded_prog["id"]
    entries = [(account_id(pg, pid, "cash"), 5), (account_id(pg, pid, "funding"), -5)]
    assert_slug(adjust(api, f1, str(uuid.uuid4()), entries), 404, "not-found")
    assert tx_count(pg, pid) == 1


def test_adjustment_without_idempotency_key_is_400(api, pg, funded_prog, f1):
    pid = funded_prog["id"]
    entries = [(account_id(pg, pid, "cash"), 5), (account_id(pg, pid, "funding"), -5)]
    assert_slug(adjust(api, f1, pid, entries, key=None), 400, "idempotency-key-required")
    assert tx_count(pg, pid) == 1


def test_adjustment_malformed_json_and_content_type(api, pg, funded_prog, f1):
    assert_slug(post(api, f1, "/v1/ledger/transactions", raw=b'{"entries": ['), 400,
                "malformed-json")
    assert_slug(post(api, f1, "/v1/ledger/transactions", raw=b'{}', content_type="text/csv"),
                415, "unsupported-media-type")


@pytest.mark.parametrize("who", ["staff", "a", "admin"])
def test_only_finance_posts_adjustments(api, pg, admin, people, funded_prog, who):
    pid = funded_prog["id"]
    token = admin["token"] if who == "admin" else people[who][1]
    entries = [(account_id(pg, pid, "cash"), 5), (account_id(pg, pid, "funding"), -5)]
    assert_slug(adjust(api, token, pid, entries), 403, "forbidden")
    assert_slug(adjust(api, None, pid, entries), 401, "unauthorized")
    assert tx_count(pg, pid) == 1


# ---- reversals ----

def test_reversal_negates_the_original(api, pg, people, prog, f1, f2):
    pid = prog["id"]
    orig = funded(api, f1, pid, 10000, "entered twice")
    r = reverse(api, f2, orig["id"], "duplicate funding")
    assert r.status == 201, r
    rev = assert_tx(r.json, pid, "reversal", memo="duplicate funding",
                    created_by=people["f2"][0]["id"])
    assert rev["reverses"] == orig["id"] and rev["reversed_by"] is None
    assert sorted((e["account_id"], e["amount_minor"]) for e in rev["entries"]) == \
        sorted((e["account_id"], -e["amount_minor"]) for e in orig["entries"])
    assert {e["account_kind"]: e["balance_after_minor"] for e in rev["entries"]} == \
        {"cash": 0, "funding": 0}
    assert get_tx(api, f1, orig["id"])["reversed_by"] == rev["id"]
    assert get_tx(api, f1, rev["id"]) == rev
    assert balances_of(api, f1, pid) == {("cash", None): 0, ("funding", None): 0}
    assert audit_rows(pg, "ledger.reverse", rev["id"]) == 1


def test_reversal_keeps_the_original_unchanged(api, pg, prog, f1):
    orig = funded(api, f1, prog["id"], 700, "to undo")
    reversed_tx(api, f1, orig["id"])
    after = get_tx(api, f1, orig["id"])
    assert after["reversed_by"] is not None
    assert dict(after, reversed_by=None) == orig


def test_reversal_of_an_adjustment_with_an_empty_body(api, pg, funded_prog, f1):
    pid = funded_prog["id"]
    cash, expense = account_id(pg, pid, "cash"), account_id(pg, pid, "expense")
    orig = adjusted(api, f1, pid, [(expense, 250), (cash, -250)], "fee")
    for body in (None, {}):
        r = reverse(api, f1, orig["id"], body=body)
        if r.status == 201:
            break
    assert r.status == 201, r
    assert r.json["kind"] == "reversal" and r.json["reverses"] == orig["id"]
    assert balances_of(api, f1, pid) == {("cash", None): 100000, ("funding", None): 100000,
                                         ("expense", None): 0}


def test_reversing_an_accrual_lowers_what_the_artist_earned(api, pg, staff, people, prog, f1):
    pid = prog["id"]
    token = people["a"][1]
    approve_new(api, staff, token, pid)
    [accrual] = transactions(api, f1, pid)
    rev = reversed_tx(api, f1, accrual["id"], "approved by mistake")
    assert {e["account_kind"]: e["amount_minor"] for e in rev["entries"]} == \
        {"expense": -5000, "payable": 5000}
    assert my_balance(api, token, pid) == {"program_id": pid, "currency": "EUR",
                                           "earned_minor": 0, "paid_minor": 0,
                                           "payable_minor": 0}


def test_second_reversal_is_409_already_reversed(api, pg, prog, f1, f2):
    orig = funded(api, f1, prog["id"], 900)
    rev = reversed_tx(api, f1, orig["id"])
    assert_slug(reverse(api, f1, orig["id"]), 409, "already-reversed")
    assert_slug(reverse(api, f2, orig["id"], "again"), 409, "already-reversed")
    assert tx_count(pg, prog["id"]) == 2
    assert get_tx(api, f1, orig["id"])["reversed_by"] == rev["id"]


def test_simultaneous_reversals_reverse_once(api, pg, prog, f1, f2):
    orig = funded(api, f1, prog["id"], 900)
    results = run_at_once(10, lambda i: reverse(api, (f1, f2)[i % 2], orig["id"], "race %d" % i))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {201: 1, 409: 9}, results
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "already-reversed")
    assert tx_count(pg, prog["id"], "reversal") == 1
    assert balances_of(api, f1, prog["id"]) == {("cash", None): 0, ("funding", None): 0}


def test_reversal_that_would_take_a_payable_below_zero_is_409(api, pg, staff, people, prog,
                                                              f1):
    pid = prog["id"]
    artist, token = people["a"]
    approve_new(api, staff, token, pid)
    [accrual] = transactions(api, f1, pid)
    payable = account_id(pg, pid, "payable", artist["id"])
    adjusted(api, f1, pid, [(payable, 3000), (account_id(pg, pid, "expense"), -3000)])
    assert_slug(reverse(api, f1, accrual["id"]), 409, "insufficient-balance")
    assert get_tx(api, f1, accrual["id"])["reversed_by"] is None
    assert tx_count(pg, pid) == 2
    assert my_balance(api, token, pid)["payable_minor"] == 2000


@pytest.mark.parametrize("txid", [str(uuid.uuid4()), "not-a-uuid"])
def test_reversal_of_an_unknown_transaction_is_404(api, f1, txid):
    assert_slug(reverse(api, f1, txid), 404, "not-found")


def test_reversal_memo_problems_are_422(api, pg, prog, f1):
    orig = funded(api, f1, prog["id"], 900)
    assert_invalid(reverse(api, f1, orig["id"], "m" * 1001), "memo")
    assert_invalid(reverse(api, f1, orig["id"], body={"memo": 3}), "memo")
    assert_invalid(reverse(api, f1, orig["id"], body={"reason": "x"}), "reason")
    assert tx_count(pg, prog["id"]) == 1


@pytest.mark.parametrize("who", ["staff", "a", "admin"])
def test_only_finance_reverses(api, pg, admin, people, prog, f1, who):
    orig = funded(api, f1, prog["id"], 900)
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(reverse(api, token, orig["id"]), 403, "forbidden")
    assert_slug(reverse(api, None, orig["id"]), 401, "unauthorized")
    assert tx_count(pg, prog["id"]) == 1


# ---- GET /v1/me/balance ----

def test_balance_of_an_artist_who_earned_nothing_is_empty(api, people):
    assert my_balance(api, people["c"][1]) == {"items": []}


def test_balance_has_one_item_per_program(api, pg, staff, people, prog, f1):
    artist, token = people["a"]
    other = open_program(api, staff, currency="JPY")
    enroll(api, staff, other["id"], [token])
    approve_new(api, staff, token, prog["id"])
    approve_new(api, staff, token, other["id"], kind="feedback", media=None, generation=None)
    doc = my_balance(api, token)
    assert set(doc) == {"items"}
    mine = {i["program_id"]: i for i in doc["items"] if i["program_id"] in
            (prog["id"], other["id"])}
    for item in doc["items"]:
        assert set(item) == BALANCE_KEYS, item
        assert item["payable_minor"] == item["earned_minor"] - item["paid_minor"], item
    assert mine == {prog["id"]: {"program_id": prog["id"], "currency": "EUR",
                                 "earned_minor": 5000, "paid_minor": 0, "payable_minor": 5000},
                    other["id"]: {"program_id": other["id"], "currency": "JPY",
                                  "earned_minor": 1000, "paid_minor": 0, "payable_minor": 1000}}
    assert my_balance(api, people["b"][1], prog["id"]) is None


@pytest.mark.parametrize("who", ["staff", "f1", "admin"])
def test_balance_is_for_artists_only(api, admin, people, who):
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(api.request("GET", "/v1/me/balance", token=token), 403, "forbidden")
    assert_slug(api.request("GET", "/v1/me/balance"), 401, "unauthorized")


# ---- GET /v1/me/statement ----

@pytest.fixture
def history(api, pg, staff, people, prog, f1):
    """Artist a: accrual 5000 (work), accrual 2000 (bug_report), adjustment -500."""
    pid = prog["id"]
    artist, token = people["a"]
    approve_new(api, staff, token, pid)
    time.sleep(0.02)
    approve_new(api, staff, token, pid, kind="bug_report", title="Crash on upload",
                media=None, generation=None)
    time.sleep(0.02)
    payable = account_id(pg, pid, "payable", artist["id"])
    adjusted(api, f1, pid, [(payable, 500), (account_id(pg, pid, "expense"), -500)],
             "overpaid")
    return transactions(api, f1, pid)


def test_statement_lines_are_newest_first_from_the_artists_side(api, people, prog, history):
    lines = statement(api, people["a"][1], program_id=prog["id"])
    for line in lines:
        assert set(line) == LINE_KEYS, line
        assert TS_RE.match(line["at"]), line
        assert line["program_id"] == prog["id"] and line["currency"] == "EUR"
    assert [(x["kind"], x["memo"], x["amount_minor"], x["balance_minor"]) for x in lines] == [
        ("adjustment", "overpaid", -500, 6500),
        ("accrual", "bug_report: Crash on upload", 2000, 7000),
        ("accrual", "work: %s" % TITLE, 5000, 5000)]
    assert [x["transaction_id"] for x in lines] == [t["id"] for t in history]
    assert [x["at"] for x in lines] == [t["created_at"] for t in history]
    assert len({str(x["entry_id"]) for x in lines}) == 3


def test_statement_pages_without_duplicates(api, people, prog, history):
    one = statement(api, people["a"][1], program_id=prog["id"])
    paged = list_all(api, people["a"][1], "/v1/me/statement", limit=1, program_id=prog["id"])
    assert paged == one
    r = api.request("GET", "/v1/me/statement?limit=2&program_id=%s" % prog["id"],
                    token=people["a"][1])
    assert r.status == 200 and len(r.json["items"]) == 2 and r.json["next_cursor"], r


def test_statement_shows_only_the_artists_own_lines(api, staff, people, prog, history):
    assert statement(api, people["b"][1], program_id=prog["id"]) == []
    approve_new(api, staff, people["b"][1], prog["id"])
    [line] = statement(api, people["b"][1], program_id=prog["id"])
    assert line["amount_minor"] == 5000 and line["balance_minor"] == 5000
    assert len(statement(api, people["a"][1], program_id=prog["id"])) == 3


def test_statement_filters_by_program_and_time(api, staff, people, prog, history):
    token = people["a"][1]
    other = open_program(api, staff)
    enroll(api, staff, other["id"], [token])
    approve_new(api, staff, token, other["id"])
    everything = statement(api, token)
    assert {x["transaction_id"] for x in everything} >= {t["id"] for t in history}
    assert [x["program_id"] for x in statement(api, token, program_id=other["id"])] == \
        [other["id"]]
    ats = [parse_ts(x["at"]) for x in statement(api, token, program_id=prog["id"])]
    mid = ats[1] + (ats[0] - ats[1]) / 2
    stamp = mid.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert [x["kind"] for x in statement(api, token, program_id=prog["id"], **{"from": stamp})] \
        == ["adjustment"]
    assert [x["kind"] for x in statement(api, token, program_id=prog["id"], to=stamp)] == \
        ["accrual", "accrual"]
    assert statement(api, token, program_id=prog["id"], **{"from": "2999-01-01T00:00:00Z"}) == []
    assert statement(api, token, program_id=prog["id"], to="2000-01-01T00:00:00Z") == []


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=ten", "limit"),
    ("cursor=%%%%garbage", "cursor"), ("program_id=nope", "program_id"),
    ("from=yesterday", "from"), ("to=2026-13-45T00:00:00Z", "to"),
    ("from=2026-02-29T00:00:00Z", "from"), ("colour=blue", "colour"),
])
def test_statement_bad_query_is_422(api, people, query, field):
    r = api.request("GET", "/v1/me/statement?" + query, token=people["a"][1])
    assert_invalid(r, field)


@pytest.mark.parametrize("who", ["staff", "f1", "admin"])
def test_statement_is_for_artists_only(api, admin, people, who):
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(api.request("GET", "/v1/me/statement", token=token), 403, "forbidden")
    assert_slug(api.request("GET", "/v1/me/statement"), 401, "unauthorized")


# ---- GET /v1/ledger/accounts ----

def test_accounts_list_the_programs_balances(api, pg, staff, people, prog, f1, admin):
    pid = prog["id"]
    artist, token = people["a"]
    funded(api, f1, pid, 9000)
    approve_new(api, staff, token, pid)
    approve_new(api, staff, token, pid, kind="feedback", media=None, generation=None)
    items = accounts(api, f1, pid)
    for a in items:
        assert set(a) == ACCOUNT_KEYS, a
        assert UUID_RE.match(a["id"]) and TS_RE.match(a["created_at"]), a
        assert a["program_id"] == pid and a["currency"] == "EUR"
        if a["kind"] != "payable":
            assert a["earned_minor"] == 0 and a["paid_minor"] == 0, a
            assert a["owner_id"] is None
    got = {(a["kind"], a["owner_id"]): (a["id"], a["balance_minor"], a["version"],
                                        a["earned_minor"], a["paid_minor"]) for a in items}
    assert got == {
        ("cash", None): (account_id(pg, pid, "cash"), 9000, 1, 0, 0),
        ("funding", None): (account_id(pg, pid, "funding"), 9000, 1, 0, 0),
        ("expense", None): (account_id(pg, pid, "expense"), 6000, 2, 0, 0),
        ("payable", artist["id"]): (account_id(pg, pid, "payable", artist["id"]), 6000, 2,
                                    6000, 0)}
    stamps = [parse_ts(a["created_at"]) for a in items]
    assert stamps == sorted(stamps, reverse=True)
    assert accounts(api, admin["token"], pid) == items
    assert list_all(api, f1, "/v1/ledger/accounts", limit=1, program_id=pid) == items


def test_accounts_without_a_program_filter_list_every_program(api, pg, staff, prog, f1):
    other = open_program(api, staff)
    funded(api, f1, prog["id"], 10)
    funded(api, f1, other["id"], 20)
    ids = {a["id"] for a in list_all(api, f1, "/v1/ledger/accounts")}
    assert {account_id(pg, p, k) for p in (prog["id"], other["id"])
            for k in ("cash", "funding")} <= ids


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"),
    ("cursor=%%%%garbage", "cursor"), ("program_id=nope", "program_id"),
    ("from=2026-01-01T00:00:00Z", "from"), ("kind=cash", "kind"),
])
def test_accounts_bad_query_is_422(api, f1, query, field):
    assert_invalid(api.request("GET", "/v1/ledger/accounts?" + query, token=f1), field)


@pytest.mark.parametrize("who", ["staff", "a"])
def test_accounts_are_for_finance_and_admin(api, people, prog, who):
    path = "/v1/ledger/accounts?program_id=%s" % prog["id"]
    assert_slug(api.request("GET", path, token=people[who][1]), 403, "forbidden")
    assert_slug(api.request("GET", path), 401, "unauthorized")


# ---- GET /v1/ledger/transactions ----

@pytest.fixture
def three(api, pg, prog, f1):
    """funding 1000, adjustment (expense 100 / cash), reversal of the adjustment; oldest first."""
    pid = prog["id"]
    a = funded(api, f1, pid, 1000, "one")
    time.sleep(0.02)
    b = adjusted(api, f1, pid, [(account_id(pg, pid, "expense"), 100),
                                (account_id(pg, pid, "cash"), -100)], "two")
    time.sleep(0.02)
    c = reversed_tx(api, f1, b["id"], "three")
    return [a, get_tx(api, f1, b["id"]), c]


def test_transactions_are_listed_newest_first_with_entries(api, prog, f1, admin, three):
    txs = transactions(api, f1, prog["id"])
    assert txs == list(reversed(three))
    assert [t["kind"] for t in txs] == ["reversal", "adjustment", "funding"]
    assert txs[1]["reversed_by"] == txs[0]["id"] and txs[0]["reverses"] == txs[1]["id"]
    for t in txs:
        assert_tx(t, prog["id"], t["kind"])
    assert transactions(api, admin["token"], prog["id"]) == txs
    assert list_all(api, f1, "/v1/ledger/transactions", limit=1, program_id=prog["id"]) == txs
    r = api.request("GET", "/v1/ledger/transactions?limit=2&program_id=%s" % prog["id"],
                    token=f1)
    assert r.status == 200 and len(r.json["items"]) == 2 and r.json["next_cursor"], r


def test_transactions_filter_by_time(api, prog, f1, three):
    at = [parse_ts(t["created_at"]) for t in three]
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    mid1 = (at[0] + (at[1] - at[0]) / 2).strftime(fmt)
    mid2 = (at[1] + (at[2] - at[1]) / 2).strftime(fmt)
    ids = lambda **q: [t["id"] for t in transactions(api, f1, prog["id"], **q)]
    assert ids(**{"from": mid1}) == [three[2]["id"], three[1]["id"]]
    assert ids(to=mid2) == [three[1]["id"], three[0]["id"]]
    assert ids(**{"from": mid1, "to": mid2}) == [three[1]["id"]]
    assert ids(**{"from": "2999-01-01T00:00:00Z"}) == []


def test_transactions_without_a_program_filter_include_every_program(api, prog, f1, three):
    seen = {t["id"] for t in list_all(api, f1, "/v1/ledger/transactions")}
    assert {t["id"] for t in three} <= seen


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"),
    ("cursor=%%%%garbage", "cursor"), ("program_id=nope", "program_id"),
    ("from=yesterday", "from"), ("to=2026-02-30T00:00:00Z", "to"), ("kind=funding", "kind"),
    ("from=2026-01-01T00:00:00%2B16:00", "from"), ("to=2026-01-01T00:00:00-01:60", "to"),
])
def test_transactions_bad_query_is_422(api, f1, query, field):
    assert_invalid(api.request("GET", "/v1/ledger/transactions?" + query, token=f1), field)


@pytest.mark.parametrize("who", ["staff", "a"])
def test_transactions_are_for_finance_and_admin(api, people, prog, f1, who):
    tx = funded(api, f1, prog["id"], 5)
    token = people[who][1]
    for path in ("/v1/ledger/transactions?program_id=%s" % prog["id"],
                 "/v1/ledger/transactions/%s" % tx["id"]):
        assert_slug(api.request("GET", path, token=token), 403, "forbidden")
        assert_slug(api.request("GET", path), 401, "unauthorized")


def test_get_transaction_by_admin_and_unknown_ids(api, admin, prog, f1):
    tx = funded(api, f1, prog["id"], 5)
    assert get_tx(api, admin["token"], tx["id"]) == tx
    for txid in (str(uuid.uuid4()), "nope"):
        assert_slug(api.request("GET", "/v1/ledger/transactions/%s" % txid, token=f1), 404,
                    "not-found")


# ---- GET /v1/programs/{id}/transparency ----

def transparency(api, pid, token=None):
    return api.request("GET", "/v1/programs/%s/transparency" % pid, token=token)


def test_transparency_of_a_public_program_needs_no_token(api, pg, staff, people, prog, f1, f2):
    pid = prog["id"]
    funded(api, f1, pid, 20000)
    approve_new(api, staff, people["a"][1], pid)
    approve_new(api, staff, people["b"][1], pid, kind="bug_report", media=None,
                generation=None)
    batch = post(api, f1, "/v1/programs/%s/payout-batches" % pid, {"min_amount_minor": 3000})
    assert batch.status == 201, batch
    assert post(api, f2, "/v1/payout-batches/%s/approve" % batch.json["id"]).status == 200
    r = transparency(api, pid)
    assert r.status == 200, r
    t = r.json
    assert set(t) == TRANSPARENCY_KEYS, t
    assert t["program_id"] == pid and t["currency"] == "EUR"
    assert t["enrolled_testers"] == 2
    assert (t["paid_minor"], t["payable_minor"], t["cash_minor"]) == (5000, 2000, 15000), t
    assert t["deemed_approvals"] == 0
    assert set(t["hours_to_decision"]) == {"median", "p90"}
    for s in t["submissions"]:
        assert set(s) == {"kind", "outcome", "count"}, s
    assert sum(s["count"] for s in t["submissions"]) == 2
    assert t["effective_hourly_pay_minor"] is None          # no session hours logged
    assert isinstance(t["median_earnings_per_active_artist_minor"], int)
    for token in (people["a"][1], people["f1"][1], staff):
        assert transparency(api, pid, token).json == t


def test_private_transparency_is_for_admin_staff_and_finance(api, admin, staff, people):
    p = open_program(api, staff, public_transparency=False)
    enroll(api, staff, p["id"], [people["a"][1]])
    assert_slug(transparency(api, p["id"]), 404, "not-found")
    assert_slug(transparency(api, p["id"], people["a"][1]), 404, "not-found")
    for token in (admin["token"], staff, people["f1"][1]):
        r = transparency(api, p["id"], token)
        assert r.status == 200, r
        assert r.json["enrolled_testers"] == 1 and r.json["paid_minor"] == 0


@pytest.mark.parametrize("pid", [str(uuid.uuid4()), "nope"])
def test_transparency_of_an_unknown_program_is_404(api, admin, pid):
    assert_slug(transparency(api, pid), 404, "not-found")
    assert_slug(transparency(api, pid, admin["token"]), 404, "not-found")
