"""Verified binding in the domain (billing.verification), on SQLite and PostgreSQL: methods per utility,
single-use short-lived codes, tries and lock-outs, no enumeration, hashed secrets, the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from billing import audit
from billing.db import AuditEvent, BindingRequest, HolderContact, ResidentAccount
from billing.errors import Invalid, RateLimited, VerificationFailed
from billing.verification import FAILED, Policy, request_binding, verify_binding
from tests.billing.conftest import BEIJING, GUANGZHOU, HOLDERS, SHANGHAI, VERIFY_KEY
from tests.conftest import code_in

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
UNKNOWN = {"beijing": "9999999999", "shanghai": "99999999", "guangzhou": "999999999999"}
NUMBER = {"beijing": BEIJING, "shanghai": SHANGHAI, "guangzhou": GUANGZHOU}


def code_of(challenge) -> str:
    return code_in(challenge.sms.text)


def proofs(utility: str, challenge, wrong: bool = False) -> dict[str, str]:
    """What the holder would type for each method the utility asks for (or wrong values)."""
    out = {}
    if "sms" in challenge.methods:
        out["sms_code"] = "000000" if wrong or challenge.sms is None else code_of(challenge)
        if wrong and challenge.sms is not None and code_of(challenge) == "000000":
            out["sms_code"] = "000001"
    if "id_last4" in challenge.methods:
        out["id_last4"] = "0000" if wrong else HOLDERS[utility][1]
    return out


def bound(db, resident: str) -> list[int]:
    with db.session() as s:
        return list(
            s.scalars(select(ResidentAccount.account_id).where(ResidentAccount.resident_id == resident))
        )


@pytest.mark.parametrize(
    ("utility", "methods"),
    [("beijing", ("sms",)), ("shanghai", ("id_last4",)), ("guangzhou", ("sms", "id_last4"))],
)
def test_each_utility_verifies_its_own_way(db, accounts, utility, methods):
    ch = request_binding(db, VERIFY_KEY, "alice", utility, NUMBER[utility], T0)
    assert ch.methods == methods
    assert (ch.sms is not None) == ("sms" in methods)
    if ch.sms is not None:
        assert ch.sms.to == HOLDERS[utility][0] and NUMBER[utility][-4:] in ch.sms.text
    assert (
        verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0, **proofs(utility, ch)) == accounts[utility]
    )
    assert bound(db, "alice") == [accounts[utility]]


def test_guangzhou_needs_both_proofs(db, accounts):
    ch = request_binding(db, VERIFY_KEY, "alice", "guangzhou", GUANGZHOU, T0)
    with pytest.raises(Invalid, match="id_last4"):
        verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0, sms_code=code_of(ch))
    with pytest.raises(VerificationFailed):  # the right code with wrong ID digits
        verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0, sms_code=code_of(ch), id_last4="0000")
    with pytest.raises(VerificationFailed):  # right ID digits, wrong code
        verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0, sms_code="123450", id_last4="3333")
    assert bound(db, "alice") == []


def test_a_code_works_once_and_for_five_minutes(db, accounts):
    ch = request_binding(db, VERIFY_KEY, "alice", "beijing", BEIJING, T0)
    late = T0 + timedelta(seconds=301)
    with pytest.raises(VerificationFailed):
        verify_binding(db, VERIFY_KEY, "alice", ch.request_id, late, sms_code=code_of(ch))
    ch = request_binding(db, VERIFY_KEY, "alice", "beijing", BEIJING, T0)
    verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0 + timedelta(seconds=299), sms_code=code_of(ch))
    with db.session() as s:  # unbind, then replay the same code
        s.delete(s.scalar(select(ResidentAccount)))
    with pytest.raises(VerificationFailed):
        verify_binding(
            db, VERIFY_KEY, "alice", ch.request_id, T0 + timedelta(seconds=10), sms_code=code_of(ch)
        )


def test_a_new_request_retires_the_old_code(db, accounts):
    first = request_binding(db, VERIFY_KEY, "alice", "beijing", BEIJING, T0)
    second = request_binding(db, VERIFY_KEY, "alice", "beijing", BEIJING, T0 + timedelta(seconds=5))
    with pytest.raises(VerificationFailed):
        verify_binding(
            db, VERIFY_KEY, "alice", first.request_id, T0 + timedelta(seconds=6), sms_code=code_of(first)
        )
    verify_binding(
        db, VERIFY_KEY, "alice", second.request_id, T0 + timedelta(seconds=7), sms_code=code_of(second)
    )


def test_another_residents_request_cannot_be_used(db, accounts):
    ch = request_binding(db, VERIFY_KEY, "alice", "beijing", BEIJING, T0)
    with pytest.raises(VerificationFailed) as err:
        verify_binding(db, VERIFY_KEY, "mallory", ch.request_id, T0, sms_code=code_of(ch))
    assert str(err.value) == FAILED
    assert bound(db, "mallory") == []


def test_five_tries_per_request_then_even_the_right_code_fails(db, accounts):
    policy = Policy(account_failures=100, resident_failures=100)
    ch = request_binding(db, VERIFY_KEY, "mallory", "beijing", BEIJING, T0, policy)
    for i in range(5):
        with pytest.raises(VerificationFailed):
            verify_binding(db, VERIFY_KEY, "mallory", ch.request_id, T0, sms_code=f"{i:06d}", policy=policy)
    with pytest.raises(VerificationFailed):
        verify_binding(db, VERIFY_KEY, "mallory", ch.request_id, T0, sms_code=code_of(ch), policy=policy)
    assert bound(db, "mallory") == []


def test_failures_lock_the_account_number_for_everyone(db, accounts):
    """5 failures on one number in 15 minutes lock it 15 minutes, whoever tries next (the holder too)."""
    for i in range(5):
        ch = request_binding(db, VERIFY_KEY, f"m{i}", "shanghai", SHANGHAI, T0 + timedelta(seconds=i))
        with pytest.raises(VerificationFailed):
            verify_binding(db, VERIFY_KEY, f"m{i}", ch.request_id, T0 + timedelta(seconds=i), id_last4="0000")
    with pytest.raises(RateLimited) as err:
        request_binding(db, VERIFY_KEY, "alice", "shanghai", SHANGHAI, T0 + timedelta(seconds=10))
    assert 880 <= err.value.retry_after_s <= 901
    later = T0 + timedelta(seconds=910)
    ch = request_binding(db, VERIFY_KEY, "alice", "shanghai", SHANGHAI, later)
    verify_binding(db, VERIFY_KEY, "alice", ch.request_id, later, id_last4=HOLDERS["shanghai"][1])
    with db.session() as s:
        events = [(e.event, e.resident_id) for e in audit.events(s, subject_key=f"shanghai:{SHANGHAI}")][::-1]
    assert ("locked", "m4") in events and events[-1] == ("bound", "alice")


def test_failures_lock_the_resident_across_numbers(db, accounts):
    """10 failures by one resident in an hour, on any numbers (known or not), lock them for an hour."""
    policy = Policy(account_failures=100)
    numbers = [f"{n:08d}" for n in range(10)]  # unknown Shanghai numbers: they count the same
    for n in numbers:
        ch = request_binding(db, VERIFY_KEY, "mallory", "shanghai", n, T0, policy)
        with pytest.raises(VerificationFailed):
            verify_binding(db, VERIFY_KEY, "mallory", ch.request_id, T0, id_last4="0000", policy=policy)
    with pytest.raises(RateLimited) as err:
        request_binding(db, VERIFY_KEY, "mallory", "shanghai", SHANGHAI, T0 + timedelta(seconds=1), policy)
    assert 3590 <= err.value.retry_after_s <= 3601
    # Another resident is not affected.
    request_binding(db, VERIFY_KEY, "alice", "shanghai", SHANGHAI, T0 + timedelta(seconds=1), policy)


def test_unknown_accounts_answer_like_real_ones(db, accounts):
    """Same methods, same kind of answer, nothing sent; verification fails with the same message."""
    for utility, number in NUMBER.items():
        real = request_binding(db, VERIFY_KEY, "eve", utility, number, T0)
        fake = request_binding(db, VERIFY_KEY, "eve", utility, UNKNOWN[utility], T0)
        assert fake.methods == real.methods
        assert fake.expires_at == real.expires_at and len(fake.request_id) == len(real.request_id)
        assert fake.sms is None
        errors = []
        for ch in (real, fake):
            with pytest.raises(VerificationFailed) as err:
                verify_binding(db, VERIFY_KEY, "eve", ch.request_id, T0, **proofs(utility, ch, wrong=True))
            errors.append(str(err.value))
        assert errors[0] == errors[1] == FAILED
    # Even the right ID-card digits for an unknown number fail the same way.
    fake = request_binding(db, VERIFY_KEY, "eve2", "shanghai", UNKNOWN["shanghai"], T0)
    with pytest.raises(VerificationFailed, match="verification failed"):
        verify_binding(db, VERIFY_KEY, "eve2", fake.request_id, T0, id_last4=HOLDERS["shanghai"][1])


def test_codes_per_number_and_requests_per_resident_are_limited(db, accounts):
    """SMS bombing: at most 5 codes an hour to one holder, whoever asks; 20 requests per resident."""
    for i in range(5):
        request_binding(db, VERIFY_KEY, f"r{i}", "beijing", BEIJING, T0 + timedelta(seconds=i))
    with pytest.raises(RateLimited):
        request_binding(db, VERIFY_KEY, "r9", "beijing", BEIJING, T0 + timedelta(seconds=9))
    request_binding(db, VERIFY_KEY, "r9", "beijing", BEIJING, T0 + timedelta(hours=1, seconds=10))
    for i in range(20):
        request_binding(db, VERIFY_KEY, "spammer", "shanghai", f"{i:08d}", T0)
    with pytest.raises(RateLimited):
        request_binding(db, VERIFY_KEY, "spammer", "shanghai", "55555555", T0)


def test_secrets_are_stored_only_as_keyed_hashes(db, accounts):
    """A copy of the database holds neither the codes nor the ID-card digits, in any table."""
    ch = request_binding(db, VERIFY_KEY, "alice", "guangzhou", GUANGZHOU, T0)
    code = code_of(ch)
    with db.session() as s:
        tables = ["binding_requests", "holder_contacts", "binding_audit", "accounts", "resident_accounts"]
        dump = " ".join(str(row) for t in tables for row in s.execute(text(f"SELECT * FROM {t}")))
        contact = s.get(HolderContact, accounts["guangzhou"])
        req = s.get(BindingRequest, ch.request_id)
    # What is random by design cannot hold a secret but may, by chance, contain its digits: the keyed
    # hashes (64 hex), the request id and the clocks' microseconds. Read everything else.
    plain = dump.replace(ch.request_id, "<id>")
    plain = re.sub(r"\b[0-9a-f]{64}\b", "<hash>", plain)
    plain = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?", "<time>", plain)
    assert code not in plain and HOLDERS["guangzhou"][1] not in plain
    assert HOLDERS["guangzhou"][0] in dump  # the phone on file is kept: the gateway needs it
    assert len(contact.id_last4_hmac) == 64 and len(req.code_hmac) == 64


def test_the_audit_log_says_who_when_and_from_where(db, accounts):
    ch = request_binding(db, VERIFY_KEY, "alice", "beijing", BEIJING, T0, origin="203.0.113.7")
    with pytest.raises(VerificationFailed):
        verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0, sms_code="000000", origin="203.0.113.7")
    with pytest.raises(VerificationFailed):
        verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0, sms_code="000001", origin="203.0.113.7")
    verify_binding(db, VERIFY_KEY, "alice", ch.request_id, T0, sms_code=code_of(ch), origin="203.0.113.8")
    with db.session() as s:
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [(r.event, r.resident_id, r.origin, r.account_id) for r in rows] == [
        ("requested", "alice", "203.0.113.7", accounts["beijing"]),
        ("failed", "alice", "203.0.113.7", accounts["beijing"]),
        ("failed", "alice", "203.0.113.7", accounts["beijing"]),
        ("bound", "alice", "203.0.113.8", accounts["beijing"]),
    ]
    assert all(r.at == T0 for r in rows) and rows[1].detail == "wrong code or ID-card digits"


def _fail_five(db, number: str, at: datetime) -> None:
    for i in range(5):
        ch = request_binding(db, VERIFY_KEY, f"g{at.timestamp()}-{i}", "shanghai", number, at)
        with pytest.raises(VerificationFailed):
            verify_binding(db, VERIFY_KEY, f"g{at.timestamp()}-{i}", ch.request_id, at, id_last4="0000")


def test_locks_double_within_a_day(db, accounts):
    """Guessing 11,000 ID-card endings at 5 per 15 minutes would take days; doubling makes it months."""
    _fail_five(db, SHANGHAI, T0)
    with pytest.raises(RateLimited) as first:
        request_binding(db, VERIFY_KEY, "x", "shanghai", SHANGHAI, T0)
    at = T0 + timedelta(seconds=901)
    _fail_five(db, SHANGHAI, at)
    with pytest.raises(RateLimited) as second:
        request_binding(db, VERIFY_KEY, "x", "shanghai", SHANGHAI, at)
    assert first.value.retry_after_s == 901 and second.value.retry_after_s == 1801
    later = at + timedelta(days=1, seconds=1)  # a day without locks: back to 15 minutes
    _fail_five(db, SHANGHAI, later)
    with pytest.raises(RateLimited) as third:
        request_binding(db, VERIFY_KEY, "x", "shanghai", SHANGHAI, later)
    assert third.value.retry_after_s == 901


def test_parallel_guesses_stop_at_the_lock(db, accounts):
    """Twelve guesses at once on one number: five are judged, the rest meet the lock."""
    from concurrent.futures import ThreadPoolExecutor

    policy = Policy(resident_failures=100)
    requests = [
        (f"p{i}", request_binding(db, VERIFY_KEY, f"p{i}", "shanghai", SHANGHAI, T0, policy).request_id)
        for i in range(12)
    ]

    def guess(req):
        try:
            verify_binding(db, VERIFY_KEY, req[0], req[1], T0, id_last4="0000", policy=policy)
        except (VerificationFailed, RateLimited) as err:
            return type(err).__name__
        return "bound"

    with ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(guess, requests))
    assert sorted(outcomes) == ["RateLimited"] * 7 + ["VerificationFailed"] * 5
    with db.session() as s:
        assert audit.count(s, "failed", T0 - timedelta(seconds=1), subject_key=f"shanghai:{SHANGHAI}") == 5


def test_requests_dead_for_a_day_are_dropped(db, accounts):
    old = request_binding(db, VERIFY_KEY, "alice", "beijing", BEIJING, T0)
    request_binding(db, VERIFY_KEY, "bob", "shanghai", SHANGHAI, T0 + timedelta(days=1, minutes=6))
    with db.session() as s:
        assert s.get(BindingRequest, old.request_id) is None
        assert audit.count(s, "requested", T0 - timedelta(seconds=1)) == 2  # the log keeps both
