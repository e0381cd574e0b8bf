"""The billing side of the history: accounts, the resident's bindings, a year of daily charges, top-ups
and a correction, all through billing's own functions (charge_through, notify, correction, evaluate).

Charges are the litres of each local day by the consumption rule (devservices.seed.history.day_litres);
top-ups follow each household's habit, checked weekly; the low-balance household ends below 20 yuan.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import select

from billing.accounts import bind, create_account
from billing.alerts import Delivery
from billing.balance import WarningRules, evaluate
from billing.db import Account, Database, LedgerEntry
from billing.ledger import charge_through, correction, precomputed
from billing.payments import notify
from billing.tokens import issue_token
from core.timezones import zone
from devservices.seed.plan import LOW_BALANCE_YUAN, RESIDENT, Home, Plan

PROVIDER = "demo-pay"
CHECK_EVERY_DAYS = 7  # households look at their balance about once a week
OPENING_YUAN = Decimal("200.00")


def _at(d: date, hour: int, zone_name: str) -> datetime:
    """A local time of day on date d, as an aware UTC datetime."""
    return datetime.combine(d, time(hour), zone(zone_name)).astimezone(UTC)


def create_accounts(db: Database, plan: Plan) -> dict[str, int]:
    """One account per home with its meter; the resident's bindings named by address. Returns ids."""
    installed = _at(plan.first_day, 0, plan.zone_name) - timedelta(days=3 * 365)
    ids: dict[str, int] = {}
    with db.session() as s:
        for home in plan.homes:
            account = create_account(
                s,
                home.utility,
                home.account_number,
                name=home.holder,
                meters=[
                    {
                        "meter_id": home.meter_id,
                        "installed_at": installed,
                        "district": home.utility,
                        "building": home.address,
                    }
                ],
            )
            ids[home.meter_id] = account.id
    return ids


def bind_resident(db: Database, plan: Plan) -> str:
    """Bind the resident's homes (named by address, grouped) and issue the resident's token."""
    with db.session() as s:
        for home in plan.homes:
            if "resident" not in home.roles:
                continue
            group = "Home" if home.index == 0 else "Family"
            bind(
                s,
                RESIDENT,
                home.utility,
                home.account_number,
                name=f"{home.address} - main meter",
                group=group,
            )
        return issue_token(s, "resident", RESIDENT)


def _topup(s, home: Home, amount: Decimal, when: datetime, n: int) -> None:
    notify(
        s,
        PROVIDER,
        f"{home.meter_id}-{n:04d}",
        home.utility,
        home.account_number,
        str(amount),
        paid_at=when,
        now=when,
    )


def charge_history(db: Database, plan: Plan, home: Home, account_id: int, litres: dict) -> None:
    """Charge every day of the history in weekly steps, topping up by the household's habit."""
    consumption = precomputed({(home.meter_id, d): v for d, v in litres.items()})
    days = sorted(litres)
    first, last = days[0], days[-1]
    low = "low_balance" in home.roles
    quiet_from = last - timedelta(days=20)  # the low-balance household stops paying 20 days before now
    n = 0
    with db.session() as s:
        _topup(s, home, OPENING_YUAN, _at(first, 9, plan.zone_name), n)
        d = first - timedelta(days=1)
        while d < last:
            d = min(d + timedelta(days=CHECK_EVERY_DAYS), last)
            charge_through(
                s,
                account_id,
                d,
                consumption,
                first_day=first,
                now=_at(d + timedelta(days=1), 0, plan.zone_name),
            )
            balance = s.get(Account, account_id).balance
            if balance < home.habit.below_yuan and not (low and d >= quiet_from):
                n += 1
                _topup(
                    s,
                    home,
                    Decimal(home.habit.amount_yuan),
                    _at(d + timedelta(days=1), 20, plan.zone_name),
                    n,
                )
    if low:
        _land_low(db, plan, home, account_id, consumption, quiet_from, n + 1)


def _land_low(
    db: Database, plan: Plan, home: Home, account_id: int, consumption, quiet_from: date, n: int
) -> None:
    """Make the low-balance household's last payment leave it between 8 and 18 yuan today.

    What its last 20 days cost is found by charging them in a savepoint that is rolled back; the
    payment is made on the day those days start, then they are charged for real.
    """
    lo, _hi = LOW_BALANCE_YUAN
    with db.session() as s:
        undo = s.begin_nested()
        charge_through(s, account_id, plan.last_full_day, consumption)
        after = s.get(Account, account_id).balance
        undo.rollback()
        s.expire_all()
        need = (Decimal(lo) - after).quantize(Decimal(10), rounding=ROUND_FLOOR) + 10
        if need > 0:
            _topup(s, home, need, _at(quiet_from, 20, plan.zone_name), n)


def finish_ledger(db: Database, plan: Plan, account_ids: dict[str, int]) -> None:
    """After every home's charges: a correction, then each account's warnings evaluated."""
    with db.session() as s:
        fixed = next(h for h in plan.homes if "courtyard" in h.roles)
        correction(
            s,
            account_ids[fixed.meter_id],
            "15.00",
            "meter read estimate of March replaced by the actual reading",
            "demo-estimate-fix",
            now=_at(plan.last_full_day - timedelta(days=40), 10, plan.zone_name),
        )
    evaluate_all(db, plan, account_ids)


def evaluate_all(db: Database, plan: Plan, account_ids: dict[str, int]) -> None:
    """Open or resolve every account's balance warnings as of now (the monitor does this every 6 h)."""
    now = datetime.fromtimestamp(plan.now_s, UTC)
    with db.session() as s:
        for account_id in account_ids.values():
            evaluate(s, account_id, now, WarningRules(), Delivery(mqtt_topic_prefix=None))


def ledger_summary(db: Database, account_id: int) -> dict[str, int]:
    """How many entries of each kind an account's ledger holds."""
    with db.session() as s:
        kinds = s.scalars(select(LedgerEntry.kind).where(LedgerEntry.account_id == account_id))
        out: dict[str, int] = {}
        for k in kinds:
            out[k] = out.get(k, 0) + 1
        return out
