"""Payout batches (API.md, "Ledger, payouts, exports"): a finance user drafts
a batch listing every artist owed at least the minimum; a different finance
user approves it (four eyes), which posts every item (payable -> cash) when
the program has the cash; items are then marked paid, or failed, which posts
a payout_failed transaction restoring the artist's payable; and the batch
exports as a bank-upload style CSV file."""

import collections
import concurrent.futures
import csv
import io
import time
import uuid

import pytest

from harness import UUID_RE, create_users
from test_ledger import (account_id, account_map, adjusted, approve_new, balances_of, enroll,
                         funded, get_tx, my_balance, post, statement, transactions,
                         tx_count)
from test_programs import (TS_RE, assert_invalid, assert_slug, audit_count, open_program,
                           outbox_rows, run_at_once)

BATCH_KEYS = {"id", "program_id", "status", "min_amount_minor", "total_minor", "currency",
              "created_by", "created_at", "approved_by", "approved_at", "items"}
ITEM_KEYS = {"id", "artist_id", "amount_minor", "status", "external_ref", "failure_reason",
             "transaction_id"}
CSV_HEADER = ["item_id", "artist_id", "artist_name", "artist_email", "amount_minor", "currency",
              "status", "external_ref"]
PASSWORD = "a long enough password"


def draft(api, token, pid, min_amount=None, key=True, body="default"):
    if body == "default":
        body = {} if min_amount is None else {"min_amount_minor": min_amount}
    return post(api, token, "/v1/programs/%s/payout-batches" % pid, body, key)


def drafted(api, token, pid, min_amount=None):
    r = draft(api, token, pid, min_amount)
    assert r.status == 201, r
    return r.json


def approve(api, token, bid):
    return post(api, token, "/v1/payout-batches/%s/approve" % bid, None, None)


def approved(api, token, bid):
    r = approve(api, token, bid)
    assert r.status == 200, r
    return r.json


def mark_paid(api, token, bid, item, ref="SEPA-0001", body="default"):
    return post(api, token, "/v1/payout-batches/%s/items/%s/paid" % (bid, item),
                {"external_ref": ref} if body == "default" else body, None)


def mark_failed(api, token, bid, item, reason="account closed", body="default"):
    return post(api, token, "/v1/payout-batches/%s/items/%s/failed" % (bid, item),
                {"reason": reason} if body == "default" else body, None)


def get_batch(api, token, bid):
    return api.request("GET", "/v1/payout-batches/%s" % bid, token=token)


def items_by_artist(batch):
    for item in batch["items"]:
        assert set(item) == ITEM_KEYS, item
    return {i["artist_id"]: i for i in batch["items"]}


def batch_count(pg, pid):
    return int(pg.psql("SELECT count(*) FROM payout_batches WHERE program_id = '%s'" % pid))


def export_batch(api, token, bid, query="?format=csv"):
    return api.request("GET", "/v1/exports/payout-batches/%s%s" % (bid, query), token=token)


def parse_csv(body):
    text = body.decode("utf-8")
    assert text.endswith("\r\n"), text[-20:]
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture(scope="module")
def people(api, admin):
    return create_users(api, admin["token"],
                        staff="staff", f1="finance", f2="finance", a="artist", b="artist", c="artist")


@pytest.fixture
def owed(api, staff, people):
    """An open program where a is owed 5000 (work), b 2000 (bug report), c nothing."""
    p = open_program(api, staff)
    enroll(api, staff, p["id"], [people[n][1] for n in "abc"])
    approve_new(api, staff, people["a"][1], p["id"])
    approve_new(api, staff, people["b"][1], p["id"], kind="bug_report", media=None,
                generation=None)
    return p


@pytest.fixture
def batch(api, owed, f1):
    """A draft batch of owed (a 5000, b 2000) by f1, the program funded with 10000."""
    funded(api, f1, owed["id"], 10000)
    return drafted(api, f1, owed["id"])


# ---- drafting ----

def test_draft_lists_every_artist_owed(api, pg, people, owed, f1, f2, admin):
    pid = owed["id"]
    before = balances_of(api, f1, pid)
    r = draft(api, f1, pid)
    assert r.status == 201, r
    b = r.json
    assert set(b) == BATCH_KEYS, b
    assert UUID_RE.match(b["id"]) and TS_RE.match(b["created_at"]), b
    assert (b["program_id"], b["status"], b["min_amount_minor"], b["total_minor"],
            b["currency"]) == (pid, "draft", 1, 7000, "EUR")
    assert b["created_by"] == people["f1"][0]["id"]
    assert b["approved_by"] is None and b["approved_at"] is None
    items = items_by_artist(b)
    assert set(items) == {people["a"][0]["id"], people["b"][0]["id"]}
    for who, amount in (("a", 5000), ("b", 2000)):
        item = items[people[who][0]["id"]]
        assert UUID_RE.match(item["id"]), item
        assert (item["amount_minor"], item["status"], item["external_ref"],
                item["failure_reason"], item["transaction_id"]) == (amount, "pending", None,
                                                                    None, None)
    for token in (f1, f2, admin["token"]):
        got = get_batch(api, token, b["id"])
        assert got.status == 200, got
        assert got.json == b
    assert balances_of(api, f1, pid) == before           # a draft moves no money
    assert tx_count(pg, pid, "payout") == 0
    assert audit_count(pg, "payout.draft", b["id"]) >= 1
    assert pg.psql("SELECT count(*) FROM audit_log WHERE action = 'payout.draft'"
                   " AND (entity_id = '%s' OR after::text LIKE '%%%s%%')"
                   % (b["id"], b["id"])) == "1"


@pytest.mark.parametrize("minimum,owed_to", [(2000, "ab"), (2001, "a"), (5000, "a")])
def test_draft_minimum_is_inclusive(api, people, owed, f1, minimum, owed_to):
    b = drafted(api, f1, owed["id"], minimum)
    assert b["min_amount_minor"] == minimum
    assert set(items_by_artist(b)) == {people[n][0]["id"] for n in owed_to}
    assert b["total_minor"] == sum({"a": 5000, "b": 2000}[n] for n in owed_to)


def test_draft_with_nobody_owed_the_minimum_is_409(api, pg, owed, f1):
    assert_slug(draft(api, f1, owed["id"], 5001), 409, "nothing-to-pay")
    assert batch_count(pg, owed["id"]) == 0


def test_draft_in_a_program_owing_nothing_is_409(api, pg, staff, f1):
    p = open_program(api, staff)
    assert_slug(draft(api, f1, p["id"]), 409, "nothing-to-pay")
    assert batch_count(pg, p["id"]) == 0


@pytest.mark.parametrize("body,field", [
    ({"min_amount_minor": 0}, "min_amount_minor"),
    ({"min_amount_minor": -1}, "min_amount_minor"),
    ({"min_amount_minor": "5"}, "min_amount_minor"),
    ({"min_amount_minor": 1.5}, "min_amount_minor"),
    ({"min_amount_minor": None}, "min_amount_minor"),
    ({"currency": "EUR"}, "currency"),
])
def test_draft_problems_are_422(api, pg, owed, f1, body, field):
    assert_invalid(draft(api, f1, owed["id"], body=body), field)
    assert batch_count(pg, owed["id"]) == 0


def test_draft_without_a_body(api, owed, f1):
    r = post(api, f1, "/v1/programs/%s/payout-batches" % owed["id"], None)
    assert r.status == 201, r
    assert r.json["min_amount_minor"] == 1 and r.json["total_minor"] == 7000


@pytest.mark.parametrize("pid", [str(uuid.uuid4()), "nope"])
def test_draft_in_an_unknown_program_is_404(api, f1, pid):
    assert_slug(draft(api, f1, pid), 404, "not-found")


@pytest.mark.parametrize("who", ["staff", "a", "admin"])
def test_only_finance_drafts(api, pg, admin, people, owed, who):
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(draft(api, token, owed["id"]), 403, "forbidden")
    assert_slug(draft(api, None, owed["id"]), 401, "unauthorized")
    assert batch_count(pg, owed["id"]) == 0


# ---- approving ----

def test_approval_by_the_creator_is_403_four_eyes(api, pg, batch, f1):
    assert_slug(approve(api, f1, batch["id"]), 403, "four-eyes")
    assert get_batch(api, f1, batch["id"]).json == batch
    assert tx_count(pg, batch["program_id"], "payout") == 0


def test_approval_posts_every_item(api, pg, people, batch, f1, f2):
    pid = batch["program_id"]
    r = approve(api, f2, batch["id"])
    assert r.status == 200, r
    b = r.json
    assert set(b) == BATCH_KEYS
    assert b["status"] == "approved" and b["approved_by"] == people["f2"][0]["id"]
    assert TS_RE.match(b["approved_at"] or ""), b
    assert {k: b[k] for k in ("id", "created_by", "total_minor", "min_amount_minor")} == \
        {k: batch[k] for k in ("id", "created_by", "total_minor", "min_amount_minor")}
    items = items_by_artist(b)
    for who, amount in (("a", 5000), ("b", 2000)):
        artist = people[who][0]
        item = items[artist["id"]]
        assert item["status"] == "posted" and item["amount_minor"] == amount, item
        assert UUID_RE.match(item["transaction_id"] or ""), item
        tx = get_tx(api, f1, item["transaction_id"])
        assert tx["kind"] == "payout" and tx["program_id"] == pid, tx
        assert {e["account_kind"] for e in tx["entries"]} == {"payable", "cash"}, tx
        mine = [e for e in tx["entries"] if e["account_kind"] == "payable"
                and e["owner_id"] == artist["id"]]
        assert [(e["account_id"], e["amount_minor"], e["balance_after_minor"]) for e in mine] \
            == [(account_id(pg, pid, "payable", artist["id"]), amount, 0)], tx
        assert sum(e["amount_minor"] for e in tx["entries"]) == 0
        assert my_balance(api, people[who][1], pid) == {
            "program_id": pid, "currency": "EUR", "earned_minor": amount,
            "paid_minor": amount, "payable_minor": 0}
    assert get_batch(api, f1, batch["id"]).json == b
    accts = account_map(api, f1, pid)
    assert accts[("cash", None)]["balance_minor"] == 3000
    pay = accts[("payable", people["a"][0]["id"])]
    assert (pay["balance_minor"], pay["earned_minor"], pay["paid_minor"]) == (0, 5000, 5000)
    line = statement(api, people["a"][1], program_id=pid)[0]
    assert (line["kind"], line["amount_minor"], line["balance_minor"]) == ("payout", -5000, 0)
    assert tx_count(pg, pid, "payout") in (1, 2)
    [event] = outbox_rows(pg, "payout.approved", pid)
    assert event.get("batch_id", batch["id"]) == batch["id"], event
    assert pg.psql("SELECT count(*) FROM audit_log WHERE action = 'payout.approve'"
                   " AND (entity_id = '%s' OR after::text LIKE '%%%s%%')"
                   % (batch["id"], batch["id"])) == "1"


def total_paid(api, token, pid):
    """The sum of paid_minor over the program's payable accounts."""
    return sum(a["paid_minor"] for (kind, _), a in account_map(api, token, pid).items()
               if kind == "payable")


def test_second_approval_is_409(api, pg, batch, f1, f2):
    approved(api, f2, batch["id"])
    assert_slug(approve(api, f2, batch["id"]), 409, "conflict")
    assert tx_count(pg, batch["program_id"], "payout") in (1, 2)
    assert total_paid(api, f1, batch["program_id"]) == 7000


def test_simultaneous_approvals_post_once(api, pg, batch, f1, f2, admin):
    f3 = api.create_user(admin["token"], "finance")[1]
    results = run_at_once(6, lambda i: approve(api, (f2, f3)[i % 2], batch["id"]))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {200: 1, 409: 5}, results
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "conflict")
    assert total_paid(api, f1, batch["program_id"]) == 7000
    assert balances_of(api, f1, batch["program_id"])[("cash", None)] == 3000


def test_approval_without_the_cash_is_409_insufficient_cash(api, pg, owed, f1, f2):
    pid = owed["id"]
    funded(api, f1, pid, 6999)
    b = drafted(api, f1, pid)
    assert_slug(approve(api, f2, b["id"]), 409, "insufficient-cash")
    assert get_batch(api, f1, b["id"]).json == b
    assert tx_count(pg, pid, "payout") == 0
    funded(api, f1, pid, 1)                                   # cash == total now
    assert approved(api, f2, b["id"])["status"] == "approved"
    assert balances_of(api, f1, pid)[("cash", None)] == 0


def test_approval_after_a_payable_shrank_is_409_insufficient_balance(api, pg, people, batch,
                                                                     f1, f2):
    pid = batch["program_id"]
    payable = account_id(pg, pid, "payable", people["a"][0]["id"])
    adjusted(api, f1, pid, [(payable, 1), (account_id(pg, pid, "expense"), -1)])
    assert_slug(approve(api, f2, batch["id"]), 409, "insufficient-balance")
    assert get_batch(api, f1, batch["id"]).json["status"] == "draft"
    assert tx_count(pg, pid, "payout") == 0
    assert my_balance(api, people["b"][1], pid)["payable_minor"] == 2000


@pytest.mark.parametrize("who", ["staff", "a", "admin"])
def test_only_another_finance_user_approves(api, pg, admin, people, batch, who):
    token = admin["token"] if who == "admin" else people[who][1]
    assert_slug(approve(api, token, batch["id"]), 403, "forbidden")
    assert_slug(approve(api, None, batch["id"]), 401, "unauthorized")
    assert tx_count(pg, batch["program_id"], "payout") == 0


@pytest.mark.parametrize("bid", [str(uuid.uuid4()), "nope"])
def test_unknown_batch_is_404(api, f1, f2, bid):
    assert_slug(approve(api, f2, bid), 404, "not-found")
    assert_slug(get_batch(api, f1, bid), 404, "not-found")
    assert_slug(mark_paid(api, f1, bid, str(uuid.uuid4())), 404, "not-found")
    assert_slug(mark_failed(api, f1, bid, str(uuid.uuid4())), 404, "not-found")
    assert_slug(export_batch(api, f1, bid), 404, "not-found")


@pytest.mark.parametrize("who", ["staff", "a"])
def test_batches_are_read_by_finance_and_admin(api, people, batch, who):
    assert_slug(get_batch(api, people[who][1], batch["id"]), 403, "forbidden")
    assert_slug(get_batch(api, None, batch["id"]), 401, "unauthorized")


# ---- paid / failed ----

@pytest.fixture
def posted(api, batch, f2):
    return approved(api, f2, batch["id"])


def item_of(batch, people, who):
    return items_by_artist(batch)[people[who][0]["id"]]


def test_marking_an_item_paid(api, pg, people, posted, f1):
    item = item_of(posted, people, "a")
    before = tx_count(pg, posted["program_id"])
    r = mark_paid(api, f1, posted["id"], item["id"], "SEPA-2026-11-0001")
    assert r.status == 200, r
    assert r.json == dict(item, status="paid", external_ref="SEPA-2026-11-0001")
    got = items_by_artist(get_batch(api, f1, posted["id"]).json)
    assert got[people["a"][0]["id"]] == r.json
    assert got[people["b"][0]["id"]]["status"] == "posted"
    assert tx_count(pg, posted["program_id"]) == before          # no money moves
    events = outbox_rows(pg, "payout.paid", posted["program_id"])
    assert len(events) == 1, events
    assert_slug(mark_paid(api, f1, posted["id"], item["id"], "again"), 409, "conflict")
    assert my_balance(api, people["a"][1], posted["program_id"])["paid_minor"] == 5000


def test_external_ref_of_200_characters_is_accepted(api, people, posted, f1):
    item = item_of(posted, people, "b")
    r = mark_paid(api, f1, posted["id"], item["id"], "R" * 200)
    assert r.status == 200 and r.json["external_ref"] == "R" * 200, r


@pytest.mark.parametrize("body,field", [({"external_ref": ""}, "external_ref"),
                                        ({"external_ref": "R" * 201}, "external_ref"),
                                        ({"external_ref": 5}, "external_ref"),
                                        ({}, "external_ref"),
                                        ({"external_ref": "x", "note": "y"}, "note")])
def test_paid_problems_are_422(api, people, posted, f1, body, field):
    item = item_of(posted, people, "a")
    assert_invalid(mark_paid(api, f1, posted["id"], item["id"], body=body), field)
    assert item_of(get_batch(api, f1, posted["id"]).json, people, "a")["status"] == "posted"


def test_items_of_a_draft_cannot_be_paid_or_failed(api, pg, people, batch, f1):
    item = item_of(batch, people, "a")
    assert_slug(mark_paid(api, f1, batch["id"], item["id"]), 409, "conflict")
    assert_slug(mark_failed(api, f1, batch["id"], item["id"]), 409, "conflict")
    assert get_batch(api, f1, batch["id"]).json == batch
    assert tx_count(pg, batch["program_id"], "payout_failed") == 0


def test_failed_item_restores_the_payable(api, pg, people, posted, f1):
    pid = posted["program_id"]
    artist, token = people["a"]
    item = item_of(posted, people, "a")
    r = mark_failed(api, f1, posted["id"], item["id"], "IBAN closed")
    assert r.status == 200, r
    assert r.json == dict(item, status="failed", failure_reason="IBAN closed")
    [tx] = transactions(api, f1, pid)[:1]
    assert tx["kind"] == "payout_failed", tx
    assert sorted((e["account_kind"], e["amount_minor"]) for e in tx["entries"]) == \
        [("cash", 5000), ("payable", -5000)]
    assert my_balance(api, token, pid) == {"program_id": pid, "currency": "EUR",
                                           "earned_minor": 5000, "paid_minor": 0,
                                           "payable_minor": 5000}
    assert balances_of(api, f1, pid)[("cash", None)] == 8000
    line = statement(api, token, program_id=pid)[0]
    assert (line["kind"], line["amount_minor"], line["balance_minor"]) == \
        ("payout_failed", 5000, 5000)
    assert len(outbox_rows(pg, "payout.failed", pid)) == 1
    assert_slug(mark_failed(api, f1, posted["id"], item["id"]), 409, "conflict")
    assert_slug(mark_paid(api, f1, posted["id"], item["id"]), 409, "conflict")
    assert tx_count(pg, pid, "payout_failed") == 1


def test_a_paid_item_may_still_fail(api, pg, people, posted, f1, f2):
    item = item_of(posted, people, "b")
    assert mark_paid(api, f1, posted["id"], item["id"], "SEPA-9").status == 200
    r = mark_failed(api, f2, posted["id"], item["id"], "returned by the bank")
    assert r.status == 200, r
    assert (r.json["status"], r.json["external_ref"], r.json["failure_reason"]) == \
        ("failed", "SEPA-9", "returned by the bank")
    assert my_balance(api, people["b"][1], posted["program_id"])["payable_minor"] == 2000


def test_failed_payable_goes_into_the_next_batch(api, pg, people, posted, f1, f2):
    pid = posted["program_id"]
    assert mark_failed(api, f1, posted["id"], item_of(posted, people, "a")["id"]).status == 200
    nxt = drafted(api, f2, pid)
    assert {i["artist_id"]: i["amount_minor"] for i in nxt["items"]} == \
        {people["a"][0]["id"]: 5000}
    approved(api, f1, nxt["id"])
    assert my_balance(api, people["a"][1], pid)["paid_minor"] == 5000
    assert_slug(draft(api, f1, pid), 409, "nothing-to-pay")


def test_simultaneous_failures_post_once(api, pg, people, posted, f1, f2):
    item = item_of(posted, people, "a")
    results = run_at_once(6, lambda i: mark_failed(api, (f1, f2)[i % 2], posted["id"],
                                                   item["id"], "race %d" % i))
    assert collections.Counter(r.status for r in results) == {200: 1, 409: 5}, results
    assert tx_count(pg, posted["program_id"], "payout_failed") == 1
    assert my_balance(api, people["a"][1], posted["program_id"])["payable_minor"] == 5000


@pytest.mark.parametrize("body,field", [({"reason": ""}, "reason"),
                                        ({"reason": "r" * 1001}, "reason"),
                                        ({}, "reason"),
                                        ({"reason": ["x"]}, "reason")])
def test_failed_problems_are_422(api, pg, people, posted, f1, body, field):
    item = item_of(posted, people, "a")
    assert_invalid(mark_failed(api, f1, posted["id"], item["id"], body=body), field)
    assert tx_count(pg, posted["program_id"], "payout_failed") == 0


def test_reason_of_1000_characters_is_accepted(api, people, posted, f1):
    item = item_of(posted, people, "a")
    r = mark_failed(api, f1, posted["id"], item["id"], "r" * 1000)
    assert r.status == 200 and r.json["failure_reason"] == "r" * 1000, r


def test_unknown_or_foreign_item_is_404(api, pg, people, owed, posted, f1, f2):
    other_pid = open_program(api, people["staff"][1])["id"]
    enroll(api, people["staff"][1], other_pid, [people["c"][1]])
    approve_new(api, people["staff"][1], people["c"][1], other_pid)
    other = drafted(api, f1, other_pid)
    foreign = other["items"][0]["id"]
    for item in (str(uuid.uuid4()), "nope", foreign):
        assert_slug(mark_paid(api, f1, posted["id"], item), 404, "not-found")
        assert_slug(mark_failed(api, f1, posted["id"], item), 404, "not-found")


@pytest.mark.parametrize("who", ["staff", "a", "admin"])
def test_only_finance_marks_items(api, pg, admin, people, posted, who):
    token = admin["token"] if who == "admin" else people[who][1]
    item = item_of(posted, people, "a")
    for fn in (mark_paid, mark_failed):
        assert_slug(fn(api, token, posted["id"], item["id"]), 403, "forbidden")
        assert_slug(fn(api, None, posted["id"], item["id"]), 401, "unauthorized")
    assert item_of(get_batch(api, people["f1"][1], posted["id"]).json, people, "a")["status"] \
        == "posted"


# ---- export ----

def test_payout_batch_exports_as_csv(api, pg, admin, staff, f1, f2):
    p = open_program(api, staff)
    awkward = 'Ann "The Brush" Smith, Jr.'
    email = "ann-%s@example.com" % uuid.uuid4().hex[:8]
    r = api.request("POST", "/v1/users", {"email": email, "password": PASSWORD,
                                          "display_name": awkward, "role": "artist"},
                    token=admin["token"])
    assert r.status == 201, r
    ann = r.json
    ann_token = api.login(email, PASSWORD)
    plain, plain_token = api.create_user(admin["token"], "artist")
    enroll(api, staff, p["id"], [ann_token, plain_token])
    approve_new(api, staff, ann_token, p["id"])
    approve_new(api, staff, plain_token, p["id"], kind="feedback", media=None, generation=None)
    funded(api, f1, p["id"], 10000)
    b = approved(api, f2, drafted(api, f1, p["id"])["id"])
    items = {i["artist_id"]: i for i in b["items"]}
    assert mark_paid(api, f1, b["id"], items[ann["id"]]["id"], "REF,1").status == 200
    r = export_batch(api, f1, b["id"])
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/csv; charset=utf-8", r.headers
    rows = parse_csv(r.body)
    assert rows[0] == CSV_HEADER
    got = sorted(rows[1:])
    want = sorted([
        [items[ann["id"]]["id"], ann["id"], awkward, email, "5000", "EUR", "paid", "REF,1"],
        [items[plain["id"]]["id"], plain["id"], plain["display_name"], plain["email"], "1000",
         "EUR", "posted", ""]])
    assert got == want
    assert b'"Ann ""The Brush"" Smith, Jr."' in r.body
    assert r.body.count(b"\r\n") == 3 and b"\n" not in r.body.replace(b"\r\n", b"")
    assert export_batch(api, f2, b["id"]).body == r.body


def test_draft_batch_exports_its_pending_items(api, people, batch, f1):
    r = export_batch(api, f1, batch["id"])
    assert r.status == 200, r
    rows = parse_csv(r.body)
    assert rows[0] == CSV_HEADER
    assert sorted((row[1], row[4], row[6], row[7]) for row in rows[1:]) == sorted(
        [(people["a"][0]["id"], "5000", "pending", ""),
         (people["b"][0]["id"], "2000", "pending", "")])


def test_payout_export_problems(api, admin, people, batch, f1):
    assert_invalid(export_batch(api, f1, batch["id"], "?format=xml"), "format")
    assert_invalid(export_batch(api, f1, batch["id"], "?format=csv&colour=red"), "colour")
    for token in (admin["token"], people["staff"][1], people["a"][1]):
        assert_slug(export_batch(api, token, batch["id"]), 403, "forbidden")
    assert_slug(export_batch(api, None, batch["id"]), 401, "unauthorized")


def test_two_batches_approved_at_once_cannot_spend_the_same_cash(api, pg, staff, people,
                                                                 owed, f1, f2):
    """Two batches for different artists, each within the cash but not both:
    approved at the same moment, the cash is locked while it is checked, so
    one is refused and the cash never goes below zero."""
    pid = owed["id"]
    funded(api, f1, pid, 5000)
    approved(api, f2, drafted(api, f1, pid, min_amount=3000)["id"])   # pays a; cash 0
    only_b = drafted(api, f1, pid)                                   # b: 2000
    approve_new(api, staff, people["c"][1], pid)                     # c is owed 5000
    only_c = drafted(api, f1, pid, min_amount=3000)                  # c: 5000
    assert [i["amount_minor"] for i in only_b["items"]] == [2000]
    assert [i["amount_minor"] for i in only_c["items"]] == [5000]
    funded(api, f1, pid, 6000)                       # either batch fits, not both
    # hold the cash row for a moment so that both approvals are under way
    # together: a check that read the cash without locking it would pass twice
    holder = concurrent.futures.ThreadPoolExecutor(1).submit(pg.psql, (
        "BEGIN; SELECT 1 FROM ledger_accounts WHERE program_id = '%s' AND kind = 'cash'"
        " FOR UPDATE; SELECT pg_sleep(1.5); COMMIT;") % pid)
    time.sleep(0.4)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        results = list(ex.map(lambda b: approve(api, f2, b["id"]), [only_b, only_c]))
    holder.result()
    assert sorted(r.status for r in results) == [200, 409], results
    refused = next(r for r in results if r.status == 409)
    assert_slug(refused, 409, "insufficient-cash")
    assert balances_of(api, f1, pid)[("cash", None)] in (4000, 1000)
