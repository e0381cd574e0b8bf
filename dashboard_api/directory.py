"""Who owns which meters, from the accounts database (billing/): the API's one door to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing import access
from billing.access import RIGHT_NAMES, Right, Who
from billing.alerts import leak_json
from billing.db import Account, Database, Meter


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account as the dashboard shows it."""

    account_id: int
    key: str
    name: str
    balance_yuan: str  # Decimal as text: money is never a float
    meters: list[str]
    access: str = "holder"  # the resident's right: holder, pay or view


@dataclass(frozen=True, slots=True)
class AlertInfo:
    alert_id: int
    account_id: int | None
    meter_id: str | None
    kind: str
    state: str
    title: str
    opened_at: datetime
    leak: dict | None = None


class Directory:
    """Queries over billing's tables, each in its own short transaction."""

    def __init__(self, db: Database):
        self.db = db

    def authorize(
        self,
        who: Who,
        *,
        account_id: int | None = None,
        meter_id: str | None = None,
        alert_id: int | None = None,
        need: Right = Right.VIEW,
    ) -> int | None:
        """The id of the account behind the object if `who` has `need` on it (billing.access.authorize)."""
        with self.db.session() as s:
            account = access.authorize(
                s, who, account_id=account_id, meter_id=meter_id, alert_id=alert_id, need=need
            )
            return None if account is None else account.id

    def meters_for_resident(self, resident_id: str) -> set[str]:
        with self.db.session() as s:
            return access.meters_for_resident(s, resident_id)

    def accounts_for_resident(self, resident_id: str) -> list[AccountInfo]:
        with self.db.session() as s:
            return [_account(a.account, a.right) for a in access.accessible(s, resident_id)]

    def meters_for_account(self, account_id: int) -> list[str]:
        with self.db.session() as s:
            return access.meters_for_account(s, account_id)

    def account_exists(self, account_id: int) -> bool:
        with self.db.session() as s:
            return s.get(Account, account_id) is not None

    def meter_exists(self, meter_id: str) -> bool:
        with self.db.session() as s:
            return s.get(Meter, meter_id) is not None

    def meters_in_group(self, district: str | None, building: str | None) -> list[str]:
        with self.db.session() as s:
            return access.meters_in_group(s, district, building)

    def open_alerts(self, account_ids: set[int] | None = None) -> list[AlertInfo]:
        """Unresolved alerts, newest first; only those of `account_ids` when given."""
        with self.db.session() as s:
            return [
                AlertInfo(a.id, a.account_id, a.meter_id, a.kind, a.state, a.title, a.opened_at, leak_json(a))
                for a in access.open_alerts(s)
                if account_ids is None or a.account_id in account_ids
            ]


def _account(a: Account, right: Right) -> AccountInfo:
    return AccountInfo(
        a.id, a.key, a.name, f"{a.balance:.2f}", [m.meter_id for m in a.meters], RIGHT_NAMES[right]
    )
