"""Verified binding: a resident proves an account is theirs the way its utility requires, then binds it.

Two steps. `request_binding` opens a request for (utility, account number) and, when the utility
verifies by SMS, makes a 6-digit code for the holder's phone on file. `verify_binding` checks the
proofs the utility's record lists (core.tariffs `verification`: `sms`, `id_last4`, or both) and binds.

No enumeration: a request for an account that does not exist (or has no phone on file) is opened,
stored, counted and answered exactly like a real one — it just sends nothing and can never pass; every
failure (wrong code, wrong ID digits, unknown account, expired, used or foreign request) is the one
`VerificationFailed` with the same message, after the same checks.

Limits (Policy): a code lives 5 minutes, is used once and allows 5 tries; 5 failures on one account
number in 15 minutes lock that number for 15 minutes, 10 failures by one resident in an hour lock the
resident for an hour (both RateLimited, with Retry-After); a lock within a day of the last one lasts
twice as long, up to a day (guessing 11,000 ID-card endings then takes months, not days); a resident
may open 20 requests an hour and an account number gets at most 5 codes an hour (SMS bombing).
Failures are counted from the audit log (billing.audit), which also records who bound, failed or was
locked out, when and from where; one verification runs at a time per resident and per number.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from billing import audit
from billing.accounts import bind, validate_number
from billing.db import Account, BindingRequest, Database, ResidentAccount
from billing.errors import Invalid, RateLimited, VerificationFailed
from billing.hashing import VerifyKey
from billing.holders import ID_LAST4_PURPOSE, contact_of, normalize_id_last4
from billing.sms import SmsMessage
from core.tariffs import tariff_for

SMS_PURPOSE = "sms_code"
CODE_DIGITS = 6
FAILED = (
    "verification failed: the code or ID-card digits are wrong, the request expired, "
    "or there is no such account"
)


@dataclass(frozen=True)
class Policy:
    """How long codes live and how many tries, requests and failures are allowed."""

    code_ttl_s: int = 300
    tries_per_request: int = 5
    account_failures: int = 5  # per account number, within failure_window_s
    failure_window_s: int = 900
    account_lockout_s: int = 900
    resident_failures: int = 10  # per resident, within resident_window_s
    resident_window_s: int = 3600
    resident_lockout_s: int = 3600
    max_lockout_s: int = 86_400  # a lock within a day of the last lasts twice as long, up to this
    requests_per_resident_per_h: int = 20
    codes_per_account_per_h: int = 5


@dataclass(frozen=True)
class Challenge:
    """An opened request: its id, what the utility asks for, until when; the SMS to send, if any."""

    request_id: str
    methods: tuple[str, ...]
    expires_at: datetime
    sms: SmsMessage | None  # None for unknown accounts too: the caller cannot tell


def subject_key(utility: str, account_number: str) -> str:
    """The account number as the audit log and the limits count it (known or not)."""
    return f"{utility}:{account_number}"


def _lock_left_s(
    session: Session,
    now: datetime,
    base_s: int,
    cap_s: int,
    *,
    resident: str | None = None,
    key: str | None = None,
) -> int:
    """Seconds until the last lock ends; each lock within a day of the last one lasts twice as long."""
    last = audit.latest(session, "locked", resident=resident, subject_key=key)
    if last is None:
        return 0
    day_before = last.at - timedelta(hours=24)
    if key is not None:
        locks = audit.count(session, "locked", day_before, subject_key=key)
    else:
        locks = audit.count(session, "locked", day_before, resident=resident, resident_scope=True)
    lockout_s = min(base_s * 2 ** max(locks - 1, 0), cap_s)
    left = (last.at + timedelta(seconds=lockout_s) - now).total_seconds()
    return max(0, int(left) + 1) if left > 0 else 0


def _check_locks(session: Session, policy: Policy, resident: str, key: str | None, now: datetime) -> None:
    cap = policy.max_lockout_s
    wait = _lock_left_s(session, now, policy.resident_lockout_s, cap, resident=resident)
    if wait:
        raise RateLimited("too many failed verifications; try again later", wait)
    if key is not None:
        wait = _lock_left_s(session, now, policy.account_lockout_s, cap, key=key)
        if wait:
            raise RateLimited("too many failed verifications for this account number; try again later", wait)


def _serialize(session: Session, resident: str, key: str | None) -> None:
    """One verification at a time per resident and per account number, so parallel guesses cannot all
    slip in before a lock is recorded. PostgreSQL: transaction advisory locks (resident first, then the
    number: always the same order). SQLite: every write transaction is already one at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in (f"resident:{resident}", None if key is None else f"number:{key}"):
        if name is not None:
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def _since(now: datetime, window_s: int, session: Session, **who: str | None) -> datetime:
    """The start of a failure window: not before the end of the last lock (failures then are spent)."""
    start = now - timedelta(seconds=window_s)
    last = audit.latest(session, "locked", resident=who.get("resident"), subject_key=who.get("key"))
    return max(start, last.at) if last is not None else start


def request_binding(
    db: Database,
    key: VerifyKey,
    resident: str,
    utility: str,
    account_number: str,
    now: datetime,
    policy: Policy = Policy(),
    origin: str = "",
) -> Challenge:
    """Open a binding request; the SMS to send comes back in the Challenge (None when nothing is sent).

    Invalid for a malformed utility or number (public formats); RateLimited when locked out or over the
    request limits. Otherwise the same answer whether the account exists or not.
    """
    validate_number(utility, account_number)
    methods = tariff_for(utility).verification
    skey = subject_key(utility, account_number)
    with db.session() as s:
        _serialize(s, resident, skey)
        _check_locks(s, policy, resident, skey, now)
        hour_ago = now - timedelta(hours=1)
        if audit.count(s, "requested", hour_ago, resident=resident) >= policy.requests_per_resident_per_h:
            raise RateLimited("too many binding requests; try again later", 3600)
        if "sms" in methods and audit.count(s, "requested", hour_ago, subject_key=skey) >= (
            policy.codes_per_account_per_h
        ):
            raise RateLimited("too many codes sent for this account number; try again later", 3600)
        account = s.scalar(
            select(Account).where(Account.utility == utility, Account.account_number == account_number)
        )
        contact = contact_of(s, account.id) if account is not None else None
        phone = contact.phone if contact is not None else None
        # Requests dead for a day are kept by no rule (their outcome is in the audit log): drop them.
        s.execute(delete(BindingRequest).where(BindingRequest.expires_at < now - timedelta(days=1)))
        # Earlier open requests of this resident for this number stop working: one live code at a time.
        s.execute(
            update(BindingRequest)
            .where(
                BindingRequest.resident_id == resident,
                BindingRequest.subject_key == skey,
                BindingRequest.closed_at.is_(None),
            )
            .values(closed_at=now)
        )
        request_id = secrets.token_urlsafe(18)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        expires = now + timedelta(seconds=policy.code_ttl_s)
        s.add(
            BindingRequest(
                id=request_id,
                resident_id=resident,
                subject_key=skey,
                account_id=account.id if account is not None else None,
                methods=",".join(methods),
                code_hmac=key.digest(SMS_PURPOSE, request_id, code),
                created_at=now,
                expires_at=expires,
                attempts=0,
            )
        )
        sends = "sms" in methods and phone is not None
        audit.record(
            s,
            "requested",
            now,
            resident=resident,
            subject_key=skey,
            account_id=account.id if account is not None else None,
            origin=origin,
            detail=f"methods={','.join(methods)}"
            + ("" if account is not None else "; no such account")
            + ("; code sent" if sends else ("; no phone on file" if "sms" in methods and account else "")),
        )
    sms = None
    if sends and phone is not None:
        masked = f"****{account_number[-4:]}"
        sms = SmsMessage(
            to=phone,
            text=f"Your code to link water account {masked} is {code}. It expires in "
            f"{policy.code_ttl_s // 60} minutes. If you did not ask for it, ignore this message.",
            at_s=int(now.timestamp()),
        )
    return Challenge(request_id, methods, expires, sms)


def _proofs_pass(
    s: Session, key: VerifyKey, req: BindingRequest, sms_code: str | None, id_last4: str | None
) -> bool:
    """Every method of the request checked, each at full cost, whether the account exists or not."""
    ok = True
    methods = req.methods.split(",")
    if "sms" in methods:
        ok &= key.matches(req.code_hmac, SMS_PURPOSE, req.id, sms_code or "")
    if "id_last4" in methods:
        contact = contact_of(s, req.account_id) if req.account_id is not None else None
        stored = contact.id_last4_hmac if contact is not None else None
        ok &= key.matches(stored, ID_LAST4_PURPOSE, str(req.account_id or 0), id_last4 or "")
    return ok


def _missing(methods: list[str], sms_code: str | None, id_last4: str | None) -> list[str]:
    """Fields the request's methods need that were not sent (the methods are public, per utility)."""
    given = {"sms": sms_code, "id_last4": id_last4}
    field = {"sms": "sms_code", "id_last4": "id_last4"}
    return [field[m] for m in methods if given[m] is None]


def _fail(
    s: Session,
    policy: Policy,
    resident: str,
    req: BindingRequest | None,
    reason: str,
    now: datetime,
    origin: str,
) -> None:
    """Count a failure in the audit log; lock the account number or the resident when over the limit."""
    skey = req.subject_key if req is not None else None
    if req is not None:
        req.attempts += 1
    audit.record(
        s,
        "failed",
        now,
        resident=resident,
        subject_key=skey,
        account_id=req.account_id if req is not None else None,
        origin=origin,
        detail=reason,
    )
    if skey is not None:
        since = _since(now, policy.failure_window_s, s, key=skey)
        if audit.count(s, "failed", since, subject_key=skey) >= policy.account_failures:
            audit.record(
                s,
                "locked",
                now,
                resident=resident,
                subject_key=skey,
                origin=origin,
                detail=f"account number locked for {policy.account_lockout_s} s",
            )
    since = _since(now, policy.resident_window_s, s, resident=resident)
    if audit.count(s, "failed", since, resident=resident) >= policy.resident_failures:
        audit.record(
            s,
            "locked",
            now,
            resident=resident,
            origin=origin,
            detail=f"resident locked for {policy.resident_lockout_s} s",
        )


def verify_binding(
    db: Database,
    key: VerifyKey,
    resident: str,
    request_id: str,
    now: datetime,
    sms_code: str | None = None,
    id_last4: str | None = None,
    name: str = "",
    group: str | None = None,
    policy: Policy = Policy(),
    origin: str = "",
) -> int:
    """Check the proofs and bind; the bound account's id.

    VerificationFailed (one message for every reason; the failure is counted and audited), RateLimited
    when locked out, Conflict when verified but over the limit of accounts or already bound.
    """
    if sms_code is not None and not (sms_code.isascii() and sms_code.isdigit() and len(sms_code) == 6):
        raise Invalid(f"sms_code must be the {CODE_DIGITS} digits of the text message")
    if id_last4 is not None:
        id_last4 = normalize_id_last4(id_last4)
    failed = False
    with db.session() as s:
        req = s.get(BindingRequest, request_id)
        if req is not None and req.resident_id != resident:
            req = None  # someone else's request: as if it did not exist
        # The advisory locks first, then the row (request_binding takes them in that order too).
        _serialize(s, resident, req.subject_key if req else None)
        if req is not None:
            req = s.get(BindingRequest, request_id, with_for_update=True, populate_existing=True)
        _check_locks(s, policy, resident, req.subject_key if req else None, now)
        if req is None:
            _fail(s, policy, resident, None, "no such request", now, origin)
            failed = True
        else:
            missing = _missing(req.methods.split(","), sms_code, id_last4)
            if missing:
                raise Invalid(f"this utility verifies with {' and '.join(missing)}: send it")
            proofs = _proofs_pass(s, key, req, sms_code, id_last4)
            reason = (
                "request closed"
                if req.closed_at is not None
                else "request expired"
                if req.expires_at <= now
                else "too many tries on this request"
                if req.attempts >= policy.tries_per_request
                else "no such account"
                if req.account_id is None
                else "wrong code or ID-card digits"
                if not proofs
                else None
            )
            if reason is not None:
                _fail(s, policy, resident, req, reason, now, origin)
                failed = True
            else:
                account = s.get(Account, req.account_id)
                assert account is not None  # the request's foreign key cascades
                row: ResidentAccount = bind(s, resident, account.utility, account.account_number, name, group)
                req.closed_at = now
                audit.record(
                    s,
                    "bound",
                    now,
                    resident=resident,
                    subject_key=req.subject_key,
                    account_id=account.id,
                    origin=origin,
                    detail=f"verified by {req.methods}",
                )
                return row.account_id
    assert failed
    raise VerificationFailed(FAILED)
