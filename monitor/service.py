"""The alert service: leak monitor → leak alerts → balance warnings → outbox delivery, on a loop.

This is where billing meets the validated series (docs/billing.md, "One bill"): the balance
scheduler charges each day with the litres of VEE's series (vee.service.VeeConsumption), built afresh
for every run; billing never imports vee, nor vee billing.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from billing.alerts import Delivery
from billing.balance import WarningRules
from billing.config import BillingSettings
from billing.db import Database
from billing.leak_alerts import LeakAlertSink
from billing.ledger import Consumption, utility_zone
from billing.outbox import Dispatcher, MqttPublisher
from billing.scheduler import BalanceScheduler
from core.timezones import DEFAULT_TZ
from leaks.config import LeakConfig
from leaks.detector import LeakDetector
from monitor.leak_monitor import LeakMonitor
from storage.readings.base import Store
from vee.config import VeeConfig
from vee.db import VeeDb
from vee.service import VeeConsumption, VeeService

log = logging.getLogger("monitor")


class AlertService:
    """One poll = residents' answers taught, new minutes to the leak detector, due balance checks,
    then deliveries."""

    def __init__(
        self,
        store: Store,
        db: Database,
        settings: BillingSettings,
        state_path: Path | None = None,
        mqtt: MqttPublisher | None = None,
        leak_config: LeakConfig | None = None,
        vee_config: VeeConfig | None = None,
        lookback_s: int = 30 * 86400,
        utility: str | None = None,
        backfill_per_poll: int = 200,
        reorder_s: int = 120,
        checkpoint_every_s: float = 0.0,
    ):
        self.rules = WarningRules.from_settings(settings)
        self.delivery = (
            Delivery.from_settings(settings) if mqtt else Delivery(tuple(settings.webhook_urls), None)
        )
        self.sink = LeakAlertSink(db, self.delivery, self.rules, utility=utility)
        self.leaks = LeakMonitor(
            store,
            LeakDetector(leak_config or LeakConfig(tz=DEFAULT_TZ)),
            self.sink.handle,
            state_path,
            lookback_s,
            on_notice=self.sink.handle_notice,
            backfill_per_poll=backfill_per_poll,
            reorder_s=reorder_s,
            checkpoint_every_s=checkpoint_every_s,
        )
        self.vee = VeeService(store, VeeDb(db), vee_config or VeeConfig())
        self.scheduler = BalanceScheduler(
            db,
            rules=self.rules,
            delivery=self.delivery,
            every_s=settings.evaluate_every_s,
            per_run=self.consumption,
        )
        self.dispatcher = Dispatcher(db, mqtt=mqtt)
        self.db = db

    def teach(self) -> int:
        """Residents' "that was me" answers → the detector learns them (and closes what they opened)."""
        taught = 0
        for fb in self.sink.pending_feedback():
            events = self.leaks.detector.confirm_use(
                fb.meter_id,
                int(fb.started_at.timestamp()),
                int(fb.stopped_at.timestamp()) if fb.stopped_at else None,
                float(fb.rate_lph) or None,
            )
            for event in events:
                self.sink.handle(event)
            self.sink.mark_applied(fb.id)
            taught += 1
        return taught

    def consumption(self) -> Consumption:
        """Litres per meter and local day from the validated series, fresh for one charging run."""
        zones: dict[str, str] = {}

        def tz_of(meter_id: str) -> str:
            if meter_id not in zones:
                zones[meter_id] = utility_zone(self.db, meter_id) or self.vee.cfg.tz
            return zones[meter_id]

        return VeeConsumption(self.vee, tz_of)

    def poll(self, now: datetime | None = None) -> dict[str, int]:
        """Run each stage once; a failing stage is logged and the others still run."""
        now = now or datetime.now(UTC)
        counts = {"taught": 0, "leak_events": 0, "evaluations": 0, "delivered": 0}
        try:
            counts["taught"] = self.teach()
        except Exception:  # the database is down: the answers wait for the next poll
            log.exception("teaching residents' answers failed")
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
        """Poll until `stop` is set."""
        while not stop.is_set():
            self.poll()
            stop.wait(poll_s)
