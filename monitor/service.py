"""The alert service: leak monitor → leak alerts → balance warnings → outbox delivery, on a loop."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from billing.alerts import Delivery
from billing.balance import WarningRules
from billing.config import BillingSettings
from billing.consumption import store_consumption
from billing.db import Database
from billing.leak_alerts import LeakAlertSink
from billing.outbox import Dispatcher, MqttPublisher
from billing.scheduler import BalanceScheduler
from ingest.store.base import Store
from leaks.config import LeakConfig
from leaks.detector import LeakDetector
from monitor.leak_monitor import LeakMonitor

log = logging.getLogger("monitor")


class AlertService:
    """One poll = new minutes to the leak detector, due balance checks, then deliveries."""

    def __init__(
        self,
        store: Store,
        db: Database,
        settings: BillingSettings,
        state_path: Path | None = None,
        mqtt: MqttPublisher | None = None,
    ):
        tz = ZoneInfo(settings.timezone)
        offset_s = int(datetime.now(tz).utcoffset().total_seconds())
        self.rules = WarningRules.from_settings(settings)
        self.delivery = (
            Delivery.from_settings(settings) if mqtt else Delivery(tuple(settings.webhook_urls), None)
        )
        self.sink = LeakAlertSink(db, self.delivery, self.rules)
        self.leaks = LeakMonitor(
            store, LeakDetector(LeakConfig(tz_offset_s=offset_s)), self.sink.handle, state_path
        )
        self.scheduler = BalanceScheduler(
            db, store_consumption(store, tz), self.rules, self.delivery, every_s=settings.evaluate_every_s
        )
        self.dispatcher = Dispatcher(db, mqtt=mqtt)

    def poll(self, now: datetime | None = None) -> dict[str, int]:
        """Run each stage once; a failing stage is logged and the others still run."""
        now = now or datetime.now(UTC)
        counts = {"leak_events": 0, "evaluations": 0, "delivered": 0}
        try:
            counts["leak_events"] = len(self.leaks.poll())
        except Exception:  # store down or bad data: warnings and deliveries must go on
            log.exception("leak monitor poll failed")
        try:
            counts["evaluations"] = len(self.scheduler.tick(now))
        except Exception:  # same: one stage must not stop the next
            log.exception("balance scheduler failed")
        try:
            counts["delivered"] = self.dispatcher.run_once().delivered
        except Exception:  # deliveries retry from the outbox next poll
            log.exception("dispatcher failed")
        return counts

    def run(self, stop: threading.Event, poll_s: float = 30.0) -> None:
        while not stop.is_set():
            self.poll()
            stop.wait(poll_s)
