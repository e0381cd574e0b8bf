"""Periodic work: charge finished days and re-evaluate balances at least every 6 hours.

`tick(now)` is driven by a clock you pass (tests step virtual time); `run()` loops on the wall clock.
Each account is handled in its own transaction, so one failing account does not block the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select

from billing.alerts import Delivery
from billing.balance import Evaluation, WarningRules, evaluate
from billing.db import Account, Database
from billing.errors import NotFound
from billing.ledger import (
    Consumption,
    account_tariff,
    charge_through,
    days_to_charge,
    meter_ids,
    precomputed,
)
from core.units import to_litres

log = logging.getLogger(__name__)


class BalanceScheduler:
    """Charges each account through yesterday and re-evaluates its warnings when due."""

    def __init__(
        self,
        db: Database,
        consumption: Consumption | None = None,
        rules: WarningRules | None = None,
        delivery: Delivery | None = None,
        every_s: int = 6 * 3600,
        per_run: Callable[[], Consumption] | None = None,
    ):
        """`consumption` answers litres per meter and day; or `per_run()` makes a fresh one each tick
        (the validated series caches a month per meter, so a new run sees new readings and edits)."""
        if not 60 <= every_s <= 6 * 3600:
            raise ValueError("every_s must be between 60 s and 6 h (balances are checked at least every 6 h)")
        if (consumption is None) == (per_run is None):
            raise ValueError("give either consumption or per_run")
        self.db = db
        self.consumption = consumption
        self.per_run = per_run
        self.rules = rules or WarningRules()
        self.delivery = delivery or Delivery()
        self.every = timedelta(seconds=every_s)
        self.failures = 0

    def due(self, now: datetime) -> list[int]:
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(Account.id)
                    .where(
                        or_(
                            Account.last_evaluated_at.is_(None), Account.last_evaluated_at <= now - self.every
                        )
                    )
                    .order_by(Account.id)
                )
            )

    def evaluate_account(self, account_id: int, now: datetime) -> Evaluation:
        """Charge days up to yesterday (the utility's local days), then evaluate warnings: one transaction."""
        return self._evaluate(account_id, now, self._consumption())

    def _consumption(self) -> Consumption:
        """The consumption for one run: `per_run()` afresh when given, else the fixed callable."""
        if self.per_run is not None:
            return self.per_run()
        assert self.consumption is not None
        return self.consumption

    def _evaluate(self, account_id: int, now: datetime, consumption: Consumption) -> Evaluation:
        # The litres are computed first, outside the charging transaction: the consumption source (VEE's
        # series) reads and writes the same database, and SQLite's write lock is one per database.
        with self.db.session() as s:
            account = s.get(Account, account_id)
            if account is None:
                raise NotFound(f"no account {account_id}")
            yesterday = now.astimezone(account_tariff(account).zone).date() - timedelta(days=1)
            days = days_to_charge(s, account_id, yesterday)
            meters = meter_ids(s, account_id)
        volumes = {(m, d): to_litres(consumption(m, d)) for d in days for m in meters}
        with self.db.session() as s:
            charge_through(s, account_id, yesterday, precomputed(volumes), now=now)
            return evaluate(s, account_id, now, self.rules, self.delivery)

    def tick(self, now: datetime) -> list[Evaluation]:
        """Handle every account that is due; returns their evaluations."""
        done = []
        consumption = self._consumption()  # one per run: a validated series is built once per meter-month
        for account_id in self.due(now):
            try:
                done.append(self._evaluate(account_id, now, consumption))
            except Exception:  # one account's bad data must not stop the others' warnings
                self.failures += 1
                log.exception("balance evaluation failed for account %s", account_id)
        return done

    def run(
        self,
        stop: threading.Event,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_s: float = 60.0,
    ) -> None:
        while not stop.is_set():
            self.tick(clock())
            stop.wait(poll_s)
