"""The ledger against a model (API.md, "Ledger, payouts, exports"): a seeded
random sequence of about 2000 operations — accruals through approvals,
fundings, adjustments between the accounts of a program, reversals, payout
batches drafted and approved by two finance users, items paid or failed —
runs against the server and against a small model of every account's
balance, earned, paid and version. After each step the accounts the step may
have touched (GET /v1/ledger/accounts) and the balances of the artists
involved (GET /v1/me/balance) must equal the model; at the end
`fairbeta admin check-ledger` must find nothing wrong.

Then postings in opposite directions between the same two accounts from
twenty clients at once, and twenty clients racing to take one payable below
zero. The seed is FAIRBETA_MODEL_SEED (printed on failure)."""

import collections
import concurrent.futures
import os
import random
import re

import pytest

from harness import run_admin
from test_ledger import (RATE, account_id, account_map, adjust, enroll, fund, funded,
                         my_balance, post, reverse, statement, transactions)
from test_programs import assert_slug, open_program, run_at_once
from test_submissions import claimed, decide, submit, work_body

SEED = int(os.environ.get("FAIRBETA_MODEL_SEED", "20261125"))
STEPS = int(os.environ.get("FAIRBETA_MODEL_STEPS", "2000"))
RATE_OF = {"work": RATE["work"], "bug_report": RATE["bug_report"],
           "feedback": RATE["feedback"], "session": RATE["session_hour"]}
CHECK_RE = re.compile(r"^ledger ok: (\d+) transactions, (\d+) entries, (\d+) accounts$")


class Account:
    __slots__ = ("kind", "balance", "earned", "paid", "version")

    def __init__(self, kind):
        self.kind = kind
        self.balance = self.earned = self.paid = self.version = 0

    def view(self):
        return (self.balance, self.earned, self.paid, self.version)


class Model:
    """Accounts keyed (program_id, kind, owner_id); the sign rules of 0004."""

    def __init__(self):
        self.accounts = {}

    def account(self, pid, kind, owner=None):
        key = (pid, kind, owner)
        if key not in self.accounts:
            self.accounts[key] = Account(kind)
        return self.accounts[key]

    def allows(self, entries):
        """Whether posting these [(key, amount)] keeps every payable >= 0."""
        after = collections.Counter()
        for key, amount in entries:
            a = self.accounts[key]
            if a.kind == "payable":
                after[key] += -amount
        return all(self.accounts[k].balance + d >= 0 for k, d in after.items())

    def post(self, tx_kind, entries):
        for key, amount in entries:
            a = self.accounts[key]
            a.balance += amount if a.kind in ("cash", "expense") else -amount
            if a.kind == "payable":
                if tx_kind in ("payout", "payout_failed"):
                    a.paid += amount
                else:
                    a.earned += -amount
            a.version += 1

    def program_view(self, pid):
        return {(k[1], k[2]): a.view() for k, a in self.accounts.items() if k[0] == pid}

    def balance_items(self, owner):
        return {k[0]: {"program_id": k[0], "currency": "EUR", "earned_minor": a.earned,
                       "paid_minor": a.paid, "payable_minor": a.balance}
                for k, a in self.accounts.items() if k[1] == "payable" and k[2] == owner}


def session_pay(rate, hours):
    return (rate * round(hours * 100) + 50) // 100


@pytest.fixture(scope="module")
def people(api, admin):
    names = ["staff", "f1", "f2", "a1", "a2", "a3", "a4"]
    roles = ["staff", "finance", "finance", "artist", "artist", "artist", "artist"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=7) as ex:
        made = list(ex.map(lambda role: api.create_user(admin["token"], role), roles))
    return dict(zip(names, made))


class Run:
    """The state of one model run: the server's ids next to the model."""

    def __init__(self, api, pg, people, rng):
        self.api, self.pg, self.rng = api, pg, rng
        self.staff = people["staff"][1]
        self.fin = {"f1": people["f1"][1], "f2": people["f2"][1]}
        self.artists = {people[n][0]["id"]: people[n][1] for n in ("a1", "a2", "a3", "a4")}
        self.model = Model()
        self.ids = {}                   # model key -> account id
        self.keys = {}                  # account id -> model key
        self.programs = []
        self.txs = {}                   # tx id -> (program, kind, entries as model keys)
        self.reversible = []            # tx ids that may be reversed
        self.reversed = []
        self.drafts = {}                # batch id -> (program, creator, {artist: (item, amount)})
        self.items = {}                 # item id -> [batch, program, artist, amount, status]
        self.payout_txs = collections.Counter()   # program -> payout transactions
        self.log = []
        self.outcomes = collections.Counter()     # (operation, status)

    # -- setup --

    def add_program(self):
        p = open_program(self.api, self.staff)
        pid = p["id"]
        enroll(self.api, self.staff, pid, list(self.artists.values()))
        for kind in ("cash", "funding", "expense"):
            self.learn(pid, kind, None, account_id(self.pg, pid, kind))
        self.programs.append(pid)
        return pid

    def learn(self, pid, kind, owner, acct):
        key = (pid, kind, owner)
        self.model.account(pid, kind, owner)
        self.ids[key] = acct
        self.keys[acct] = key

    # -- checks --

    def where(self):
        return "seed %d, step %d: %s" % (SEED, len(self.log), self.log[-3:])

    def check_program(self, pid, fin="f1"):
        got = {k: (a["balance_minor"], a["earned_minor"], a["paid_minor"], a["version"])
               for k, a in account_map(self.api, self.fin[fin], pid).items()}
        assert got == self.model.program_view(pid), self.where()

    def check_artist(self, owner):
        r = self.api.request("GET", "/v1/me/balance", token=self.artists[owner])
        assert r.status == 200, (r, self.where())
        got = {i["program_id"]: i for i in r.json["items"] if i["program_id"] in self.programs}
        assert got == self.model.balance_items(owner), self.where()

    def entries_to_keys(self, tx):
        out = []
        for e in tx["entries"]:
            if e["account_id"] not in self.keys:
                self.learn(tx["program_id"], e["account_kind"], e["owner_id"], e["account_id"])
            out.append((self.keys[e["account_id"]], e["amount_minor"]))
        return out

    def record(self, tx, reversible=True):
        keys = self.entries_to_keys(tx)
        self.txs[tx["id"]] = (tx["program_id"], tx["kind"], keys)
        if reversible:
            self.reversible.append(tx["id"])
        return keys

    # -- operations --

    def op_fund(self, pid):
        amount = self.rng.choice([1, 7, 100, 2500, 10000, 50000, self.rng.randint(1, 100000)])
        fin = self.rng.choice(["f1", "f2"])
        self.log.append(("fund", pid, amount))
        r = fund(self.api, self.fin[fin], pid, amount, "model")
        assert r.status == 201, (r, self.where())
        expect = [(self.ids[(pid, "cash", None)], amount),
                  (self.ids[(pid, "funding", None)], -amount)]
        assert sorted((e["account_id"], e["amount_minor"]) for e in r.json["entries"]) == \
            sorted(expect), self.where()
        self.model.post("funding", self.record(r.json))
        self.check_program(pid, fin)

    def op_adjust(self, pid):
        keys = [k for k in self.ids if k[0] == pid]
        debit, credit = self.rng.sample(keys, 2)
        a = self.model.accounts[debit]
        if a.kind == "payable" and a.balance > 0 and self.rng.random() < 0.5:
            amount = a.balance + self.rng.choice([-1, 0, 0, 1]) or 1   # at the edge
        else:
            amount = self.rng.randint(1, 20000)
        entries = [(debit, amount), (credit, -amount)]
        self.log.append(("adjust", debit, credit, amount))
        r = adjust(self.api, self.fin["f1"], pid,
                   [(self.ids[k], x) for k, x in entries], "model")
        self.outcomes[("adjust", r.status)] += 1
        if self.model.allows(entries):
            assert r.status == 201, (r, self.where())
            assert [(e["account_id"], e["amount_minor"]) for e in r.json["entries"]] == \
                [(self.ids[k], x) for k, x in entries], self.where()
            self.model.post("adjustment", self.record(r.json))
        else:
            assert_slug(r, 409, "insufficient-balance")
        self.check_program(pid)
        for k in (debit, credit):
            if k[1] == "payable":
                self.check_artist(k[2])

    def op_reverse(self):
        if not self.reversible:
            return
        if self.reversed and self.rng.random() < 0.1:
            txid = self.rng.choice(self.reversed)
            self.log.append(("reverse again", txid))
            assert_slug(reverse(self.api, self.fin["f2"], txid), 409, "already-reversed")
            return
        txid = self.rng.choice(self.reversible)
        pid, kind, keys = self.txs[txid]
        entries = [(k, -x) for k, x in keys]
        self.log.append(("reverse", txid, kind))
        r = reverse(self.api, self.fin["f2"], txid, "model reversal")
        self.outcomes[("reverse", r.status)] += 1
        if self.model.allows(entries):
            assert r.status == 201, (r, self.where())
            assert r.json["reverses"] == txid and r.json["kind"] == "reversal", self.where()
            got = self.record(r.json, reversible=False)
            assert sorted(got) == sorted(entries), self.where()
            self.model.post("reversal", got)
            self.reversible.remove(txid)
            self.reversed.append(txid)
        else:
            assert_slug(r, 409, "insufficient-balance")
        self.check_program(pid)
        for k, _ in keys:
            if k[1] == "payable":
                self.check_artist(k[2])

    def op_accrue(self, pid):
        owner = self.rng.choice(list(self.artists))
        kind = self.rng.choice(["work", "bug_report", "feedback", "session"])
        body = work_body(kind=kind, title="model %s" % kind)
        amount = RATE_OF[kind]
        if kind == "session":
            hours = self.rng.choice([0.01, 0.25, 1.5, 2.33, 7.99])
            body["hours"] = hours
            amount = session_pay(amount, hours)
        approve = self.rng.random() < 0.85
        self.log.append(("accrue", owner, kind, amount, approve))
        r = submit(self.api, self.artists[owner], pid, body)
        assert r.status == 201, (r, self.where())
        sid = r.json["id"]
        assert claimed(self.api, self.staff, pid)["id"] == sid, self.where()
        if approve:
            d = decide(self.api, self.staff, sid)
        else:
            d = decide(self.api, self.staff, sid, "rejected", "Not within the brief.", ["pay"])
        assert d.status == 200, (d, self.where())
        if approve:
            key = (pid, "payable", owner)
            if key not in self.ids:
                self.learn(pid, "payable", owner, account_id(self.pg, pid, "payable", owner))
            entries = [((pid, "expense", None), amount), (key, -amount)]
            self.model.post("accrual", entries)
            recent = self.api.request("GET", "/v1/ledger/transactions?limit=5&program_id=%s"
                                      % pid, token=self.fin["f1"])
            assert recent.status == 200, recent
            [tx] = [t for t in recent.json["items"] if t["submission_id"] == sid]
            assert tx["kind"] == "accrual", self.where()
            self.record(tx)
        self.check_program(pid)
        self.check_artist(owner)

    def op_draft(self, pid):
        creator = self.rng.choice(["f1", "f2"])
        minimum = self.rng.choice([1, 1000, 5000, 20000])
        owed = {k[2]: a.balance for k, a in self.model.accounts.items()
                if k[0] == pid and k[1] == "payable" and a.balance >= minimum}
        self.log.append(("draft", pid, minimum, owed))
        r = post(self.api, self.fin[creator], "/v1/programs/%s/payout-batches" % pid,
                 {"min_amount_minor": minimum})
        self.outcomes[("draft", r.status)] += 1
        if not owed:
            assert_slug(r, 409, "nothing-to-pay")
            return
        assert r.status == 201, (r, self.where())
        b = r.json
        items = {i["artist_id"]: (i["id"], i["amount_minor"]) for i in b["items"]}
        assert {k: v[1] for k, v in items.items()} == owed, self.where()
        assert b["total_minor"] == sum(owed.values()) and b["status"] == "draft"
        self.drafts[b["id"]] = (pid, creator, items)
        self.check_program(pid)
        if self.rng.random() < 0.5:
            self.op_approve(b["id"])

    def op_approve(self, bid=None):
        if not self.drafts:
            return
        bid = bid or self.rng.choice(list(self.drafts))
        pid, creator, items = self.drafts[bid]
        other = "f2" if creator == "f1" else "f1"
        if self.rng.random() < 0.1:
            self.log.append(("approve by creator", bid))
            assert_slug(post(self.api, self.fin[creator], "/v1/payout-batches/%s/approve" % bid,
                             None, None), 403, "four-eyes")
            return
        total = sum(amount for _, amount in items.values())
        cash = self.model.accounts[(pid, "cash", None)].balance
        entries = [(k, amount) for owner, (_, amount) in items.items()
                   for k in [(pid, "payable", owner)]]
        self.log.append(("approve", bid, total, cash))
        r = post(self.api, self.fin[other], "/v1/payout-batches/%s/approve" % bid, None, None)
        self.outcomes[("approve", r.status, r.json.get("type", "")[30:])] += 1
        if cash < total:
            assert_slug(r, 409, "insufficient-cash")
        elif not self.model.allows(entries):
            assert_slug(r, 409, "insufficient-balance")
            if self.rng.random() < 0.7:
                del self.drafts[bid]          # abandoned; a draft moves no money
        else:
            assert r.status == 200, (r, self.where())
            assert r.json["status"] == "approved", self.where()
            tx_ids = set()
            order = list(self.artists)
            for item in sorted(r.json["items"], key=lambda i: order.index(i["artist_id"])):
                assert item["status"] == "posted", self.where()
                tx_ids.add(item["transaction_id"])
                owner, amount = item["artist_id"], item["amount_minor"]
                assert items[owner] == (item["id"], amount), self.where()
                self.model.post("payout", [((pid, "payable", owner), amount)])
                self.items[item["id"]] = [bid, pid, owner, amount, "posted"]
            cash_acct = self.model.accounts[(pid, "cash", None)]
            cash_acct.balance -= total
            cash_acct.version += len(tx_ids)
            self.payout_txs[pid] += len(tx_ids)
            del self.drafts[bid]
            if self.rng.random() < 0.2:
                self.log.append(("approve again", bid))
                assert_slug(post(self.api, self.fin[other],
                                 "/v1/payout-batches/%s/approve" % bid, None, None),
                            409, "conflict")
        self.check_program(pid)
        for owner in items:
            self.check_artist(owner)

    def op_item(self):
        if not self.items:
            return
        item = self.rng.choice(list(self.items))
        bid, pid, owner, amount, status = self.items[item]
        fail = self.rng.random() < 0.45
        path = "/v1/payout-batches/%s/items/%s/%s" % (bid, item, "failed" if fail else "paid")
        body = {"reason": "bounced"} if fail else {"external_ref": "ref-%s" % item[:8]}
        self.log.append(("failed" if fail else "paid", item, status))
        r = post(self.api, self.fin[self.rng.choice(["f1", "f2"])], path, body, None)
        if fail and status in ("posted", "paid"):
            assert r.status == 200 and r.json["status"] == "failed", (r, self.where())
            self.model.post("payout_failed", [((pid, "payable", owner), -amount),
                                              ((pid, "cash", None), amount)])
            self.items[item][4] = "failed"
        elif not fail and status == "posted":
            assert r.status == 200 and r.json["status"] == "paid", (r, self.where())
            self.items[item][4] = "paid"
        else:
            assert_slug(r, 409, "conflict")
        self.check_program(pid)
        self.check_artist(owner)


def test_random_operations_match_the_model(api, pg, people):
    rng = random.Random(SEED)
    run = Run(api, pg, people, rng)
    for _ in range(2):
        run.add_program()
    ops = [("fund", 22), ("adjust", 32), ("reverse", 16), ("accrue", 6), ("draft", 8),
           ("approve", 8), ("item", 8)]
    names = [n for n, _ in ops]
    weights = [w for _, w in ops]
    for step in range(STEPS):
        op = rng.choices(names, weights)[0]
        pid = rng.choice(run.programs)
        if op in ("fund", "adjust", "accrue", "draft"):
            getattr(run, "op_" + op)(pid)
        else:
            getattr(run, "op_" + op)()
    counts = collections.Counter(entry[0] for entry in run.log)
    print("model run: seed %d, %s, %d payout items %s" % (
        SEED, sorted(run.outcomes.items()), len(run.items),
        dict(collections.Counter(i[4] for i in run.items.values()))))
    # the sequence did exercise every path
    for name in ("fund", "adjust", "reverse", "accrue", "draft", "approve", "paid", "failed"):
        assert counts[name] >= 5, counts
    for pid in run.programs:
        run.check_program(pid, "f2")
        listed = transactions(api, people["f1"][1], pid)
        assert len(listed) == len([t for t in run.txs.values() if t[0] == pid]) + \
            run.payout_txs[pid] + \
            sum(1 for i in run.items.values() if i[1] == pid and i[4] == "failed"), counts
    for owner, token in run.artists.items():
        run.check_artist(owner)
        for pid in run.programs:
            key = (pid, "payable", owner)
            if key not in run.model.accounts:
                continue
            lines = statement(api, token, program_id=pid)
            assert sum(x["amount_minor"] for x in lines) == run.model.accounts[key].balance
            assert lines[0]["balance_minor"] == run.model.accounts[key].balance
    out = run_admin(pg.url, "admin", "check-ledger")
    assert out.returncode == 0, (out.stdout, out.stderr)
    m = CHECK_RE.match(out.stdout.strip())
    assert m, out.stdout
    assert [int(x) for x in m.groups()] == [
        int(pg.psql("SELECT count(*) FROM ledger_transactions")),
        int(pg.psql("SELECT count(*) FROM ledger_entries")),
        int(pg.psql("SELECT count(*) FROM ledger_accounts"))], out.stdout


# ---- at once ----

def test_opposite_postings_from_twenty_clients(api, pg, people):
    f1, f2 = people["f1"][1], people["f2"][1]
    pid = open_program(api, people["staff"][1])["id"]
    funded(api, f1, pid, 1000000)
    cash, expense = account_id(pg, pid, "cash"), account_id(pg, pid, "expense")
    per_thread = 10

    def worker(i):
        out = []
        for j in range(per_thread):
            x = 1 + (i * 7 + j * 3) % 50
            if (i + j) % 2 == 0:
                entries = [(cash, x), (expense, -x)]
            else:
                entries = [(expense, x), (cash, -x)]
            if j % 3 == 0:
                entries.reverse()
            out.append(adjust(api, (f1, f2)[i % 2], pid, entries, "thread %d" % i))
        return out

    results = [r for rs in run_at_once(20, worker) for r in rs]
    assert [r.status for r in results] == [201] * (20 * per_thread), \
        [r for r in results if r.status != 201][:3]
    net = 0
    for i in range(20):
        for j in range(per_thread):
            x = 1 + (i * 7 + j * 3) % 50
            net += x if (i + j) % 2 == 0 else -x
    accts = account_map(api, f1, pid)
    assert accts[("cash", None)]["balance_minor"] == 1000000 + net
    assert accts[("expense", None)]["balance_minor"] == -net
    assert accts[("cash", None)]["version"] == 1 + 20 * per_thread
    assert accts[("expense", None)]["version"] == 20 * per_thread
    # each entry's balance_after follows from the one before it
    for acct in (cash, expense):
        assert pg.psql(
            "SELECT count(*) FROM (SELECT account_version, amount_minor, balance_after,"
            " lag(balance_after) OVER (ORDER BY account_version) AS prev,"
            " lag(account_version) OVER (ORDER BY account_version) AS prev_v"
            " FROM ledger_entries WHERE account_id = '%s') x"
            " WHERE prev IS NOT NULL AND (prev_v <> account_version - 1"
            "                             OR balance_after <> prev + amount_minor)" % acct) == "0"


def test_twenty_clients_racing_to_empty_a_payable(api, pg, people):
    staff = people["staff"][1]
    owner, token = people["a1"]
    pid = open_program(api, staff)["id"]
    enroll(api, staff, pid, [token])
    s = submit(api, token, pid, work_body())
    assert s.status == 201
    assert claimed(api, staff, pid)["id"] == s.json["id"]
    assert decide(api, staff, s.json["id"]).status == 200        # payable 5000
    payable, expense = account_id(pg, pid, "payable", owner["id"]), account_id(pg, pid, "expense")
    results = run_at_once(20, lambda i: adjust(api, people[("f1", "f2")[i % 2]][1], pid,
                                                [(payable, 1000), (expense, -1000)], "race"))
    statuses = collections.Counter(r.status for r in results)
    assert statuses == {201: 5, 409: 15}, results
    for r in results:
        if r.status == 409:
            assert_slug(r, 409, "insufficient-balance")
    assert my_balance(api, token, pid) == {"program_id": pid, "currency": "EUR",
                                           "earned_minor": 0, "paid_minor": 0,
                                           "payable_minor": 0}
