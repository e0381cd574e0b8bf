"""The prepaid ledger: every balance change is one entry with a unique key, so each happens once.

Daily charges are per meter and local day (the utility's zone) under the account's tiered tariff.
The litres come from a `Consumption` callable the caller wires in: in production the validated
series (vee.service.VeeConsumption, docs/billing.md "One bill"); billing never reads readings.
The tier position is the account's volume already charged in the billing period (earlier days,
then earlier meters of the same day, by meter id). Charges are rounded so they telescope: the
period's charges add up to the rounded cost of the period's volume, never drifting by a fen.
Recomputing a day whose volume changed posts a correction of the difference; recomputing an
unchanged day posts nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.db import Account, Database, LedgerEntry, Meter, utcnow
from billing.errors import Conflict, Invalid, NotFound
from core.money import parse_amount
from core.tariffs import Tariff, tariff_for
from core.units import to_litres

Consumption = Callable[[str, date], float | int | Decimal]  # (meter_id, local day) -> litres
KINDS = ("charge", "topup", "correction")


def account_tariff(account: Account) -> Tariff:
    """The tariff of the account's utility (its prices, periods and time zone)."""
    return tariff_for(account.utility)


def utility_zone(db: Database, meter_id: str) -> str | None:
    """The IANA zone the ledger counts a meter's days in (its account's utility's), or None if unbound."""
    with db.session() as s:
        meter = s.get(Meter, meter_id)
        return None if meter is None else account_tariff(meter.account).zone_name


def lock_account(session: Session, account_id: int) -> Account:
    """The account row, locked for update (PostgreSQL) — SQLite's BEGIN IMMEDIATE already serialises."""
    account = session.scalar(select(Account).where(Account.id == account_id).with_for_update())
    if account is None:
        raise NotFound(f"no account {account_id}")
    return account


def existing(session: Session, key: str) -> LedgerEntry | None:
    return session.scalar(select(LedgerEntry).where(LedgerEntry.key == key))


def post(
    session: Session,
    account: Account,
    kind: str,
    amount: Decimal,
    key: str,
    *,
    meter_id: str | None = None,
    day: date | None = None,
    volume_l: Decimal | None = None,
    payment_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> tuple[LedgerEntry, bool]:
    """Apply `amount` to the balance as one entry; (entry, False) if `key` was already posted."""
    if kind not in KINDS:
        raise ValueError(f"ledger kind must be one of {KINDS}")
    if not isinstance(amount, Decimal):
        raise TypeError("ledger amounts are Decimal")
    found = existing(session, key)
    if found is not None:
        return found, False
    now = now or utcnow()
    entry = LedgerEntry(
        account_id=account.id,
        kind=kind,
        amount=amount,
        balance_after=account.balance + amount,
        key=key,
        meter_id=meter_id,
        day=day,
        volume_l=volume_l,
        payment_id=payment_id,
        note=note,
        created_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent writer of the same key loses here, not later
            session.add(entry)
            session.flush()
    except IntegrityError:
        found = existing(session, key)
        if found is None:
            raise
        return found, False
    account.balance = entry.balance_after
    account.last_activity_at = max(account.last_activity_at, now)
    return entry, True


def _period_volume_before(
    session: Session, account_id: int, start: date, day: date, meter_id: str
) -> Decimal:
    earlier_days = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.volume_l), 0)).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.volume_l.is_not(None),
            LedgerEntry.day >= start,
            LedgerEntry.day < day,
        )
    )
    same_day = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.volume_l), 0)).where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.volume_l.is_not(None),
            LedgerEntry.day == day,
            LedgerEntry.meter_id < meter_id,
        )
    )
    return Decimal(earlier_days or 0) + Decimal(same_day or 0)


def _charge_key(meter_id: str, day: date) -> str:
    """The key of a meter-day's charge: each is posted once."""
    return f"charge:{meter_id}:{day.isoformat()}"


def _charge_note(tariff: Tariff, before_l: Decimal, volume_l: Decimal) -> str:
    return f"{volume_l} L at {tariff.price_at(before_l)} yuan/m3"


def charge_day(
    session: Session, account_id: int, day: date, consumption: Consumption, now: datetime | None = None
) -> list[LedgerEntry]:
    """Charge every meter of the account for one local day; idempotent. Returns entries posted."""
    account = lock_account(session, account_id)
    tariff = account_tariff(account)
    start = tariff.period_start(day)
    posted = []
    meters = session.scalars(select(Meter).where(Meter.account_id == account_id).order_by(Meter.meter_id))
    for meter in list(meters):
        volume = to_litres(consumption(meter.meter_id, day))
        before = _period_volume_before(session, account_id, start, day, meter.meter_id)
        amount = -tariff.charge(before, volume)
        prior = list(
            session.scalars(
                select(LedgerEntry)
                .where(
                    LedgerEntry.account_id == account_id,
                    LedgerEntry.meter_id == meter.meter_id,
                    LedgerEntry.day == day,
                    LedgerEntry.volume_l.is_not(None),
                )
                .order_by(LedgerEntry.id)
            )
        )
        if not prior:
            entry, new = post(
                session,
                account,
                "charge",
                amount,
                _charge_key(meter.meter_id, day),
                meter_id=meter.meter_id,
                day=day,
                volume_l=volume,
                note=_charge_note(tariff, before, volume),
                now=now,
            )
        else:
            had_vol = sum((e.volume_l or Decimal(0) for e in prior), Decimal(0))
            had_amount = sum((e.amount for e in prior), Decimal(0))
            if had_vol == volume and had_amount == amount:
                continue
            entry, new = post(
                session,
                account,
                "correction",
                amount - had_amount,
                f"charge:{meter.meter_id}:{day.isoformat()}:r{len(prior)}",
                meter_id=meter.meter_id,
                day=day,
                volume_l=volume - had_vol,
                note=f"recomputed {day}: {had_vol} L -> {volume} L",
                now=now,
            )
        if new:
            posted.append(entry)
    return posted


def last_charged_day(session: Session, account_id: int) -> date | None:
    return session.scalar(
        select(func.max(LedgerEntry.day)).where(
            LedgerEntry.account_id == account_id, LedgerEntry.kind == "charge"
        )
    )


def charge_through(
    session: Session,
    account_id: int,
    through: date,
    consumption: Consumption,
    first_day: date | None = None,
    now: datetime | None = None,
) -> list[LedgerEntry]:
    """Charge, in order, every day after the last charged one up to `through` (inclusive).

    Days are local days in the account's utility zone (core.tariffs). `consumption` is called inside
    this transaction: give precomputed litres (ledger.precomputed) when it reads the same database.
    Posts exactly what `charge_day` would post day by day (tests/billing/test_ledger.py compares them),
    faster: the days after the last charged one hold no volume entries yet, so the tier position is
    summed from the ledger once and then carried along, and the entries are written in one flush
    (the account row is locked, so no other writer can post these keys meanwhile).
    """
    account = lock_account(session, account_id)
    days = days_to_charge(session, account_id, through, first_day)
    if not days:
        return []
    tariff = account_tariff(account)
    meters = meter_ids(session, account_id)
    start = tariff.period_start(days[0])
    before = _period_volume_before(session, account_id, start, days[0], "")
    taken = {e.key for e in session.scalars(select(LedgerEntry).where(LedgerEntry.day >= days[0],
                                                                       LedgerEntry.account_id == account_id))}
    now = now or utcnow()
    balance = account.balance
    posted: list[LedgerEntry] = []
    for day in days:
        if tariff.period_start(day) != start:
            start, before = tariff.period_start(day), Decimal(0)
        for meter_id in meters:
            volume = to_litres(consumption(meter_id, day))
            amount = -tariff.charge(before, volume)
            key = _charge_key(meter_id, day)
            if key in taken:  # a correction-only day cannot exist after the last charge; be safe anyway
                raise Conflict(f"ledger entry {key} exists after the last charged day")
            balance += amount
            posted.append(
                LedgerEntry(
                    account_id=account.id,
                    kind="charge",
                    amount=amount,
                    balance_after=balance,
                    key=key,
                    meter_id=meter_id,
                    day=day,
                    volume_l=volume,
                    note=_charge_note(tariff, before, volume),
                    created_at=now,
                )
            )
            before += volume
    session.add_all(posted)
    session.flush()
    account.balance = balance
    account.last_activity_at = max(account.last_activity_at, now)
    return posted


def days_to_charge(
    session: Session, account_id: int, through: date, first_day: date | None = None
) -> list[date]:
    """The local days after the last charged one up to `through`: from `first_day`, else from the
    first meter's installation (or the account's creation) when nothing was charged yet."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"no account {account_id}")
    last = last_charged_day(session, account_id)
    if last is not None:
        day = last + timedelta(days=1)
    elif first_day is not None:
        day = first_day
    else:
        installed = session.scalar(select(func.min(Meter.installed_at)).where(Meter.account_id == account_id))
        day = (installed or account.created_at).astimezone(account_tariff(account).zone).date()
    return [day + timedelta(days=k) for k in range((through - day).days + 1)]


def meter_ids(session: Session, account_id: int) -> list[str]:
    """The account's meters, in the order charge_day charges them."""
    return list(
        session.scalars(select(Meter.meter_id).where(Meter.account_id == account_id).order_by(Meter.meter_id))
    )


class MissingVolume(Conflict):
    """A meter-day whose litres were not computed before the charging transaction (retry the run)."""


def precomputed(volumes: dict[tuple[str, date], Decimal]) -> Consumption:
    """A Consumption over litres computed before the transaction (a meter added since: MissingVolume)."""

    def daily(meter_id: str, day: date) -> Decimal:
        try:
            return volumes[(meter_id, day)]
        except KeyError as err:
            raise MissingVolume(
                f"no litres computed for {meter_id} on {day}; the next run charges it"
            ) from err

    return daily


def correction(
    session: Session,
    account_id: int,
    amount: str | Decimal,
    reason: str,
    key: str,
    now: datetime | None = None,
) -> tuple[LedgerEntry, bool]:
    """A manual signed adjustment by the utility; `key` makes retries safe."""
    value = parse_amount(amount, positive=False)
    if value == 0:
        raise Invalid("a correction must change the balance (amount 0)")
    if not reason.strip():
        raise Invalid("a correction needs a reason")
    account = lock_account(session, account_id)
    return post(session, account, "correction", value, f"correction:{key}", note=reason.strip(), now=now)


def entries(
    session: Session, account_id: int, limit: int = 100, before_id: int | None = None
) -> list[LedgerEntry]:
    """Newest first, paged by id."""
    q = select(LedgerEntry).where(LedgerEntry.account_id == account_id)
    if before_id is not None:
        q = q.where(LedgerEntry.id < before_id)
    return list(session.scalars(q.order_by(LedgerEntry.id.desc()).limit(limit)))


def daily_volumes(session: Session, account_id: int, since: date | None = None) -> dict[date, Decimal]:
    """Charged litres per day for the account (all meters), from the ledger."""
    q = select(LedgerEntry.day, func.sum(LedgerEntry.volume_l)).where(
        LedgerEntry.account_id == account_id, LedgerEntry.volume_l.is_not(None)
    )
    if since is not None:
        q = q.where(LedgerEntry.day >= since)
    rows = session.execute(q.group_by(LedgerEntry.day).order_by(LedgerEntry.day))
    return {d: Decimal(v) for d, v in rows if d is not None and v is not None}
