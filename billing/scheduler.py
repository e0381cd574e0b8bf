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
from billing.ledger import Consumption, charge_through

log = logging.getLogger(__name__)


class BalanceScheduler:
    """Charges each account through yesterday and re-evaluates its warnings when due."""

    def __init__(
        self,
        db: Database,
        consumption: Consumption,
        rules: WarningRules | None = None,
        delivery: Delivery | None = None,
        every_s: int = 6 * 3600,
    ):
        if not 60 <= every_s <= 6 * 3600:
            raise ValueError("every_s must be between 60 s and 6 h (balances are checked at least every 6 h)")
        self.db = db
        self.consumption = consumption
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
        """Charge days up to yesterday (local), then evaluate warnings — one transaction."""
        yesterday = now.astimezone(self.rules.tz).date() - timedelta(days=1)
        with self.db.session() as s:
            charge_through(s, account_id, yesterday, self.consumption, tz=self.rules.tz, now=now)
            return evaluate(s, account_id, now, self.rules, self.delivery)

    def tick(self, now: datetime) -> list[Evaluation]:
        """Handle every account that is due; returns their evaluations."""
        done = []
        for account_id in self.due(now):
            try:
                done.append(self.evaluate_account(account_id, now))
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
