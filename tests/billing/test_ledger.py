"""The ledger: tiered daily charges, idempotent recharging, corrections, exact decimal money."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.db import Account, LedgerEntry
from billing.ledger import charge_day, charge_through, correction, daily_volumes
from billing.payments import notify
from tests.billing.conftest import BEIJING, GUANGZHOU

D = Decimal


def _balance(db, account_id) -> Decimal:
    with db.session() as s:
        return s.get(Account, account_id).balance


def _sum_entries(db, account_id) -> Decimal:
    with db.session() as s:
        return s.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account_id == account_id))


def test_daily_charges_cross_tiers_and_charging_is_idempotent(db, accounts):
    bj = accounts["beijing"]
    with db.session() as s:
        notify(s, "alipay", "t1", "beijing", BEIJING, "2000.00")
    use = {"bj-1": 1_000.0}  # 1 m³/day after a big first day: day 2 crosses 180 m³
    day0 = date(2024, 1, 1)

    def consumption(meter, day):
        return 178_500.4 if day == day0 else use[meter]

    with db.session() as s:
        posted = charge_through(s, bj, day0 + timedelta(days=2), consumption)
    # 178.5004 m³, then 1 m³ at 5.00, then 0.4996 m³ at 5.00 + 0.5004 m³ at 7.00.
    amounts = [e.amount for e in posted]
    assert amounts[0] == D("-892.50")
    assert amounts[2] == -(D("0.4996") * 5 + D("0.5004") * 7).quantize(D("0.01"))
    assert sum(amounts) == -(D("180") * 5 + D("0.5004") * 7).quantize(D("0.01"))
    assert _balance(db, bj) == D("2000.00") + sum(amounts) == _sum_entries(db, bj)
    # Recharging the same days posts nothing; the balance is unchanged.
    with db.session() as s:
        for d in range(3):
            assert charge_day(s, bj, day0 + timedelta(days=d), consumption) == []
        assert charge_through(s, bj, day0 + timedelta(days=2), consumption) == []
    assert _balance(db, bj) == D("2000.00") + sum(amounts)


def test_recomputed_day_posts_only_the_difference(db, accounts):
    gz = accounts["guangzhou"]
    day = date(2024, 5, 3)
    with db.session() as s:
        charge_day(s, gz, day, lambda m, d: 10_000)
    assert _balance(db, gz) == D("-25.50")
    with db.session() as s:  # late readings: the day was 12 m³
        fix = charge_day(s, gz, day, lambda m, d: 12_000)
    assert [(e.kind, e.amount, e.volume_l) for e in fix] == [("correction", D("-5.10"), D("2000.000"))]
    assert _balance(db, gz) == D("-30.60")
    with db.session() as s:
        assert charge_day(s, gz, day, lambda m, d: 12_000) == []
        assert daily_volumes(s, gz)[day] == D("12000.000")


def test_monthly_tiers_reset_each_month(db, accounts):
    gz = accounts["guangzhou"]
    with db.session() as s:
        charge_day(s, gz, date(2024, 1, 31), lambda m, d: 30_000)
        feb = charge_day(s, gz, date(2024, 2, 1), lambda m, d: 1_000)
    assert feb[0].amount == D("-2.55")  # back in the first tier


def test_several_meters_share_the_account_tier_position(db):
    from billing.accounts import create_account

    with db.session() as s:
        a = create_account(
            s, "guangzhou", GUANGZHOU[:-1] + "9", meters=[{"meter_id": "m-a"}, {"meter_id": "m-b"}]
        )
        e = charge_day(s, a.id, date(2024, 6, 1), lambda m, d: 20_000)
        # m-a: 20 m³ at 2.55 = 51.00; m-b starts at 20 m³: 1 at 2.55 + 6 at 3.82 + 13 at 7.65.
        assert [(x.meter_id, x.amount) for x in e] == [("m-a", D("-51.00")), ("m-b", D("-124.92"))]


def test_bad_volumes_are_refused_without_charging(db, accounts):
    bj = accounts["beijing"]
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            with db.session() as s:
                charge_day(s, bj, date(2024, 1, 1), lambda m, d, bad=bad: bad)
    assert _sum_entries(db, bj) is None


def test_correction_and_money_are_decimal(db, accounts):
    bj = accounts["beijing"]
    with db.session() as s:
        correction(s, bj, "0.10", "rounding refund", "k1")
        correction(s, bj, "0.20", "rounding refund", "k2")
        correction(s, bj, "0.20", "retry of k2", "k2")
    bal = _balance(db, bj)
    assert isinstance(bal, Decimal) and bal == D("0.30")  # 0.1 + 0.2 is not 0.30000000000000004 here


def _ledger_rows(db, account_id):
    with db.session() as s:
        q = select(LedgerEntry).where(LedgerEntry.account_id == account_id).order_by(LedgerEntry.id)
        fields = ("kind", "amount", "balance_after", "key", "meter_id", "day", "volume_l", "note")
        return [tuple(getattr(e, f) for f in fields) for e in s.scalars(q)]


@pytest.mark.parametrize("utility", ["beijing", "guangzhou"])
def test_charge_through_posts_what_charge_day_posts_day_by_day(db, utility, tmp_path):
    """The fast path (tier position carried, one flush) equals charge_day run day by day, across tier
    edges, a period change, two meters and a run that resumes mid-period after a correction."""
    from billing.accounts import create_account
    from billing.db import Database

    other = Database(f"sqlite:///{tmp_path}/day_by_day.db")
    other.create_all()
    number = BEIJING if utility == "beijing" else GUANGZHOU
    ids = []
    for database in (db, other):
        with database.session() as s:
            a = create_account(s, utility, number, meters=[{"meter_id": "m-b"}, {"meter_id": "m-a"}])
            ids.append(a.id)
            notify(s, "alipay", "t1", utility, number, "900.00")

    def use(meter, day):  # Beijing crosses 180 m³ in May; Guangzhou crosses 21 m³ late each month
        return 1_300.5 + 37.25 * (day.toordinal() % 11) + (250.0 if meter == "m-a" else 0.0)

    first, mid, last = date(2023, 12, 20), date(2024, 2, 10), date(2024, 6, 30)
    with db.session() as s:
        charge_through(s, ids[0], mid, use, first_day=first)
        correction(s, ids[0], "-3.21", "meter swap estimate", "fix-1")
        charge_through(s, ids[0], last, use)
    with other.session() as s:
        d = first
        while d <= mid:
            charge_day(s, ids[1], d, use)
            d += timedelta(days=1)
        correction(s, ids[1], "-3.21", "meter swap estimate", "fix-1")
        while d <= last:
            charge_day(s, ids[1], d, use)
            d += timedelta(days=1)
    fast, slow = _ledger_rows(db, ids[0]), _ledger_rows(other, ids[1])
    assert len(fast) == 2 + 2 * ((last - first).days + 1)
    assert fast == slow
    assert _balance(db, ids[0]) == _balance(other, ids[1]) == fast[-1][2]
    other.dispose()
