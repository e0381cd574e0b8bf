"""Who owns which meters, from the accounts database (billing/): the API's one door to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing import access
from billing.alerts import leak_json
from billing.db import Database


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account as the dashboard shows it."""

    account_id: int
    key: str
    name: str
    balance_yuan: str  # Decimal as text: money is never a float
    meters: list[str]


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
    """Read-only queries over billing's tables, each in its own short transaction."""

    def __init__(self, db: Database):
        self.db = db

    def meters_for_resident(self, resident_id: str) -> set[str]:
        with self.db.session() as s:
            return access.meters_for_resident(s, resident_id)

    def accounts_for_resident(self, resident_id: str) -> list[AccountInfo]:
        with self.db.session() as s:
            return [_account(a) for a in access.accounts_for_resident(s, resident_id)]

    def account_ids_for_resident(self, resident_id: str) -> set[int]:
        return {a.account_id for a in self.accounts_for_resident(resident_id)}

    def meters_for_account(self, account_id: int) -> list[str]:
        with self.db.session() as s:
            return access.meters_for_account(s, account_id)

    def account_exists(self, account_id: int) -> bool:
        from billing.db import Account

        with self.db.session() as s:
            return s.get(Account, account_id) is not None

    def meter_exists(self, meter_id: str) -> bool:
        from billing.db import Meter

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


def _account(a) -> AccountInfo:
    return AccountInfo(a.id, a.key, a.name, f"{a.balance:.2f}", [m.meter_id for m in a.meters])
