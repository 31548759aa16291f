"""Request bodies are checked against the route table's schema before any
handler runs (issue 10, items 3 and 5): an action that takes no body fields
refuses an unknown member with 422 naming it and does nothing, while no body
and `{}` still work; every optional-body route refuses unknown members the
same way; and one-line fields refuse C1 controls and Unicode line
separators, free-text fields every control but line feed and tab."""

import uuid

import pytest

from harness import create_users
from test_enrollments import enrolled, invite
from test_ledger import account_id, adjusted, approve_new, enroll, funded, post
from test_programs import assert_invalid, open_program
from test_submissions import claimed, submitted

ZZ = {"zz": 1}


@pytest.fixture(scope="module")
def people(api, admin):
    return create_users(api, admin["token"], staff="staff", f1="finance", f2="finance",
                        a="artist", b="artist")


@pytest.fixture
def prog(api, people):
    p = open_program(api, people["staff"][1])
    enroll(api, people["staff"][1], p["id"], [people["a"][1], people["b"][1]])
    return p


def action(api, token, path, body, **kw):
    return api.request("POST", path, body, token=token, **kw)


def only_zz(r):
    """A 422 whose errors name exactly the unknown member zz."""
    p = assert_invalid(r, "zz")
    assert [e["field"] for e in p["errors"]] == ["zz"], p
    return p


def one(pg, sql):
    return pg.psql(sql)


# ---- the no-field actions: {"zz":1} is 422 and changes nothing ----

def test_revoke_with_an_unknown_member_is_422_and_keeps_the_invitation(api, pg, people, prog):
    staff = people["staff"][1]
    inv = invite(api, staff, prog["id"])
    only_zz(action(api, staff, "/v1/invitations/%s/revoke" % inv["id"], ZZ))
    assert one(pg, "SELECT revoked_at IS NULL FROM invitations WHERE id = '%s'"
               % inv["id"]) == "t"
    r = action(api, staff, "/v1/invitations/%s/revoke" % inv["id"], None)
    assert r.status == 200 and r.json["revoked_at"], r


def test_revoke_with_an_empty_object_still_works(api, people, prog):
    staff = people["staff"][1]
    inv = invite(api, staff, prog["id"])
    r = action(api, staff, "/v1/invitations/%s/revoke" % inv["id"], {})
    assert r.status == 200 and r.json["revoked_at"], r


def test_submission_withdraw_with_an_unknown_member_is_422(api, pg, people, prog):
    a = people["a"][1]
    s = submitted(api, a, prog["id"])
    only_zz(action(api, a, "/v1/submissions/%s/withdraw" % s["id"], ZZ))
    assert one(pg, "SELECT status FROM submissions WHERE id = '%s'" % s["id"]) == "pending"
    for body in (None, {}):
        t = submitted(api, a, prog["id"])
        r = action(api, a, "/v1/submissions/%s/withdraw" % t["id"], body)
        assert r.status == 200 and r.json["status"] == "withdrawn", (body, r)


def test_release_with_an_unknown_member_is_422_and_keeps_the_claim(api, pg, people, prog):
    staff, a = people["staff"][1], people["a"][1]
    submitted(api, a, prog["id"])
    for body in (None, {}):
        s = claimed(api, staff, prog["id"])
        only_zz(action(api, staff, "/v1/submissions/%s/release" % s["id"], ZZ))
        assert one(pg, "SELECT status || ' ' || (claimed_by IS NOT NULL) FROM submissions"
                   " WHERE id = '%s'" % s["id"]) == "in_review true"
        r = action(api, staff, "/v1/submissions/%s/release" % s["id"], body)
        assert r.status == 200 and r.json["status"] == "pending", (body, r)


def drafted_batch(api, people, pid):
    r = post(api, people["f1"][1], "/v1/programs/%s/payout-batches" % pid, {})
    assert r.status == 201, r
    return r.json


def test_payout_approve_with_an_unknown_member_is_422_and_posts_nothing(api, pg, people, prog):
    staff, f1, f2 = people["staff"][1], people["f1"][1], people["f2"][1]
    approve_new(api, staff, people["a"][1], prog["id"])
    funded(api, f1, prog["id"], 10 ** 7)
    batch = drafted_batch(api, people, prog["id"])
    payouts = "SELECT count(*) FROM ledger_transactions WHERE program_id = '%s'" \
              " AND kind = 'payout'" % prog["id"]
    before = one(pg, payouts)
    only_zz(action(api, f2, "/v1/payout-batches/%s/approve" % batch["id"], ZZ))
    assert one(pg, "SELECT status FROM payout_batches WHERE id = '%s'" % batch["id"]) == "draft"
    assert one(pg, payouts) == before
    r = action(api, f2, "/v1/payout-batches/%s/approve" % batch["id"], {})
    assert r.status == 200 and r.json["status"] == "approved", r
    assert int(one(pg, payouts)) > int(before)


def test_payout_approve_without_a_body_still_works(api, people, prog):
    approve_new(api, people["staff"][1], people["a"][1], prog["id"])
    funded(api, people["f1"][1], prog["id"], 10 ** 7)
    batch = drafted_batch(api, people, prog["id"])
    r = action(api, people["f2"][1], "/v1/payout-batches/%s/approve" % batch["id"], None)
    assert r.status == 200 and r.json["status"] == "approved", r


def dead_delivery(pg, pid, staff_id):
    """A webhook of the program with one dead delivery, written directly."""
    hook, event, delivery = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    pg.psql("INSERT INTO webhooks (id, program_id, url, events, secret, created_by)"
            " VALUES ('%s', '%s', 'http://127.0.0.1:9/x', '{payout.paid}', 'whsec_x', '%s');"
            "INSERT INTO outbox (event_id, event_type, program_id, entity_type, entity_id,"
            " payload, request_id, dispatched_at) VALUES ('%s', 'payout.paid', '%s',"
            " 'payout', 'x', '{}', 'test', now());"
            "INSERT INTO deliveries (id, event_id, channel, webhook_id, status, attempts)"
            " VALUES ('%s', '%s', 'webhook', '%s', 'dead', 8)"
            % (hook, pid, staff_id, event, pid, delivery, event, hook))
    return str(hook), str(delivery)


def test_delivery_retry_with_an_unknown_member_is_422_and_stays_dead(api, pg, people, prog):
    staff = people["staff"][1]
    hook, d = dead_delivery(pg, prog["id"], people["staff"][0]["id"])
    path = "/v1/webhooks/%s/deliveries/%s/retry" % (hook, d)
    only_zz(action(api, staff, path, ZZ))
    assert one(pg, "SELECT status || ' ' || attempts FROM deliveries WHERE id = '%s'"
               % d) == "dead 8"
    r = action(api, staff, path, {})
    assert r.status == 200, r
    assert one(pg, "SELECT attempts FROM deliveries WHERE id = '%s'" % d) == "0"


# ---- the other optional-body routes refuse unknown members the same way ----

def test_enrollment_withdraw_with_an_unknown_member_is_422(api, pg, people):
    staff = people["staff"][1]
    p = open_program(api, staff)
    e = enrolled(api, people["a"][1], invite(api, staff, p["id"])["code"])
    only_zz(action(api, people["a"][1], "/v1/enrollments/%s/withdraw" % e["id"], ZZ))
    assert one(pg, "SELECT status FROM enrollments WHERE id = '%s'" % e["id"]) == "active"


def test_queue_claim_with_an_unknown_member_is_422_and_claims_nothing(api, pg, people, prog):
    submitted(api, people["a"][1], prog["id"])
    only_zz(action(api, people["staff"][1], "/v1/programs/%s/queue/claim" % prog["id"], ZZ))
    assert one(pg, "SELECT count(claimed_by) FROM submissions WHERE program_id = '%s'"
               % prog["id"]) == "0"


def test_reverse_with_an_unknown_member_is_422_and_reverses_nothing(api, pg, people, prog):
    f1 = people["f1"][1]
    tx = funded(api, f1, prog["id"], 1000)
    only_zz(action(api, f1, "/v1/ledger/transactions/%s/reverse" % tx["id"], ZZ))
    assert one(pg, "SELECT count(*) FROM ledger_transactions WHERE reverses = '%s'"
               % tx["id"]) == "0"


def test_payout_draft_with_an_unknown_member_is_422_and_drafts_nothing(api, pg, people, prog):
    approve_new(api, people["staff"][1], people["a"][1], prog["id"])
    only_zz(post(api, people["f1"][1], "/v1/programs/%s/payout-batches" % prog["id"], ZZ))
    assert one(pg, "SELECT count(*) FROM payout_batches WHERE program_id = '%s'"
               % prog["id"]) == "0"


def test_unknown_member_is_422_before_the_idempotency_key_is_claimed(api, pg, people, prog):
    """The schema is checked before the key is stored: fixing the body and
    sending it again under the same key goes through."""
    f1, key = people["f1"][1], "bodies-%s" % uuid.uuid4()
    path = "/v1/programs/%s/funding" % prog["id"]
    only_zz(post(api, f1, path, {"amount_minor": 5, "zz": 1}, key))
    r = post(api, f1, path, {"amount_minor": 5}, key)
    assert r.status == 201, r


# ---- every problem at once: the table's and the handler's together ----

def test_schema_and_handler_problems_come_together(api, people, prog):
    r = action(api, people["a"][1], "/v1/programs/%s/submissions" % prog["id"],
               {"kind": "session", "title": "t", "zz": 1})
    p = assert_invalid(r, "zz", "hours")
    assert {e["field"] for e in p["errors"]} == {"zz", "hours"}, p


# ---- characters: one line and free text ----

C1_AND_SEPARATORS = ["\u0080", "\u0085", "\u009f", "\u2028", "\u2029", "\x7f", "\r", "\n"]


@pytest.mark.parametrize("ch", C1_AND_SEPARATORS, ids=lambda c: "U+%04X" % ord(c))
def test_one_line_fields_refuse_c1_and_line_separators(api, pg, admin, people, prog, ch):
    email = "c1-%s@example.org" % uuid.uuid4().hex[:10]
    r = api.request("POST", "/v1/users", {"email": email, "password": "long enough password",
                                          "display_name": "Ada" + ch + "L", "role": "staff"},
                    token=admin["token"])
    assert_invalid(r, "display_name")
    assert one(pg, "SELECT count(*) FROM users WHERE email = '%s'" % email) == "0"
    r = action(api, people["a"][1], "/v1/programs/%s/submissions" % prog["id"],
               {"kind": "work", "title": "Harbour" + ch})
    assert_invalid(r, "title")
    r = post(api, people["f1"][1], "/v1/programs/%s/funding" % prog["id"],
             {"amount_minor": 5, "memo": "December" + ch + "budget"})
    assert_invalid(r, "memo")


def test_venue_refuses_c1(api, pg, people, prog):
    s = approve_new(api, people["staff"][1], people["a"][1], prog["id"])
    r = action(api, people["staff"][1], "/v1/submissions/%s/exhibit" % s["id"],
               {"venue": "Kunsthalle\u0085Basel", "starts_at": "2027-01-15T18:00:00Z"})
    assert_invalid(r, "venue")
    assert one(pg, "SELECT count(*) FROM exhibitions WHERE submission_id = '%s'"
               % s["id"]) == "0"


def test_one_line_fields_take_other_non_ascii_text(api, people, prog):
    title = "Hafen \u00a0bei D\u00e4mmerung \u2014 \u6e2f"
    s = submitted(api, people["a"][1], prog["id"], title=title)
    assert s["title"] == title


@pytest.mark.parametrize("text,ok", [("two\nlines\tand a tab", True), ("a\rb", False),
                                     ("a\u0085b", False), ("a\x7fb", False),
                                     ("para\u2029graph", True)])
def test_free_text_takes_line_feeds_and_tabs_only(api, people, prog, text, ok):
    r = action(api, people["a"][1], "/v1/programs/%s/submissions" % prog["id"],
               {"kind": "work", "title": "t", "description": text})
    if ok:
        assert r.status == 201 and r.json["description"] == text, r
    else:
        assert_invalid(r, "description")


def test_memo_is_one_line_in_adjustments_and_reversals(api, pg, people, prog):
    f1 = people["f1"][1]
    funded(api, f1, prog["id"], 1000)
    cash, funding = account_id(pg, prog["id"], "cash"), account_id(pg, prog["id"], "funding")
    entries = [{"account_id": cash, "amount_minor": 1}, {"account_id": funding, "amount_minor": -1}]
    r = post(api, f1, "/v1/ledger/transactions",
             {"program_id": prog["id"], "memo": "a\nb", "entries": entries})
    assert_invalid(r, "memo")
    tx = adjusted(api, f1, prog["id"], entries, "one line")
    r = action(api, f1, "/v1/ledger/transactions/%s/reverse" % tx["id"], {"memo": "x\u2028y"})
    assert_invalid(r, "memo")
